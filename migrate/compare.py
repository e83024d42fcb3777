"""Check one migrated model against its PyTorch original, forward pass by forward pass.

    python -m migrate.compare SRC DST --model models.resnet:ResNet18() --input 4,3,32,32 --train
    python -m migrate.compare SRC DST --model models:GAT(6,4,3,0.0,0.2,2) --input 5,6 --input 5,5
    python -m migrate.compare SRC DST --model "model:NCF(50,60,8,3,0.0,'GMF')" --input int:50:16 --input int:60:16

SRC is the PyTorch project (``python -m migrate``'s input) and DST the migrated one.  The model
is built by the same call on each side (MODULE is imported from SRC, then, after SRC's modules
are forgotten, from DST), torch's parameters and buffers are copied into the Cell under the
mapping table's names (``migrate.weights.name_map``: Embedding.weight -> embedding_table,
BatchNorm's running statistics, ...), both run on the same random inputs, and every output
tensor is compared.  Both run in evaluation mode (dropout off, BatchNorm on its running
statistics) unless --train; --train compares training-mode outputs, which only agree where
nothing random runs (no dropout).  --grad also compares every parameter's gradient of one
scalar made from the outputs (each float output times fixed random weights, summed), so the
backward pass is checked too: MindSpore differentiates the construct with value_and_grad,
torch with backward().
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from migrate.weights import ConversionError, build_from_spec, name_map, parse_model_spec, to_array, to_mindspore

EPILOG = """\
inputs (--input, once per positional argument of forward/construct, in order):
  2,3,32,32          float32 drawn from N(0, 1) with that shape
  float64:4,8        another floating dtype (float16, float32, float64)
  int:100:16,5       int64 drawn uniformly from [0, 100)
  bool:4,4           booleans (p = 0.5)
  np:int:30:4,10     any of the above given to both models as a numpy array, not a tensor

outputs: a tensor, or a tuple/list/dict of them (nested), compared leaf by leaf; a leaf
passes when max |mindspore - torch| <= rtol * max |torch| (rtol itself when torch's output
is all zeros), shapes equal and the same elements finite.

gradients (--grad): of sum(output * W) over the floating outputs, W fixed N(0, 1) weights
of each output's shape; every torch parameter's gradient is compared with its Cell
parameter's under the same rule, each judged against at least 1% of the model's largest
gradient (a gradient that is zero in exact arithmetic, a bias before BatchNorm, is rounding
noise on both sides; a parameter torch leaves without a gradient must get zeros);
--grad-rtol sets their tolerance (default 1e-3: a backward pass sums in other orders).  A
gradient outside it still passes when it is no further from torch's float64 gradient (a
float64 copy of the model, same inputs) than twice torch's own float32 one: BatchNorm on a
small batch makes deep networks' gradients ill-conditioned (DenseNet121 at batch 4: torch's
float32 gradients are up to 3% from its float64 ones).

exit status:
  0  every output within tolerance
  1  an output differs, or a torch tensor has no place in the Cell (or the wrong shape)
  2  a usage error, or SRC/DST's model could not be imported, built or run (named)"""


class CompareError(Exception):
    """A usage, import, build or run problem (exit status 2)."""


@dataclass
class InputSpec:
    kind: str  # float / int / bool
    dtype: str
    shape: tuple
    high: int = 0
    array: bool = False  # passed to both as the numpy array itself (a forward that takes arrays)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "int":
            return rng.integers(0, self.high, self.shape).astype(np.int64)
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        return rng.standard_normal(self.shape).astype(self.dtype)


def parse_input(text: str) -> InputSpec:
    """``2,3`` / ``float64:2,3`` / ``int:HIGH:2,3`` / ``bool:2,3``, each optionally prefixed with
    ``np:`` (a numpy array for both models instead of a tensor)."""
    if text.startswith("np:"):
        spec = parse_input(text[3:])
        spec.array = True
        return spec
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return InputSpec("float", "float32", _shape(parts[0]))
        if parts[0] in ("float16", "float32", "float64") and len(parts) == 2:
            return InputSpec("float", parts[0], _shape(parts[1]))
        if parts[0] == "bool" and len(parts) == 2:
            return InputSpec("bool", "bool", _shape(parts[1]))
        if parts[0] == "int" and len(parts) == 3 and int(parts[1]) > 0:
            return InputSpec("int", "int64", _shape(parts[2]), int(parts[1]))
    except ValueError:
        pass
    raise CompareError(f"--input {text}: expected SHAPE, float64:SHAPE, int:HIGH:SHAPE or bool:SHAPE "
                       "(SHAPE: comma-separated sizes, e.g. 2,3,32,32)")


def _shape(text: str) -> tuple:
    sizes = tuple(int(s) for s in text.split(",") if s.strip() != "")
    if not sizes or any(s < 0 for s in sizes):
        raise ValueError(text)
    return sizes


@dataclass
class Leaf:
    path: str
    shape: tuple
    torch_shape: tuple
    max_abs: float
    scale: float
    ok: bool
    note: str = ""
    largest: float = 0.0  # max |torch|
    spread: Optional[float] = None  # max |torch - its mean over the first axis| (how much the inputs move it)


@dataclass
class Comparison:
    leaves: list = field(default_factory=list)
    copied: int = 0
    weight_problems: list = field(default_factory=list)  # (name, reason): fail the check
    ms_only: list = field(default_factory=list)  # Cell parameters torch has no tensor for
    torch_seconds: float = 0.0
    ms_seconds: float = 0.0
    grads: Optional[list] = None  # Leaf per torch parameter (path = its torch name), when --grad

    @property
    def ok(self) -> bool:
        return (not self.weight_problems and bool(self.leaves) and all(leaf.ok for leaf in self.leaves)
                and all(leaf.ok for leaf in self.grads or ()))


# --------------------------------------------------------------------------- building
def _forget_modules_of(root: Path) -> None:
    """Drop every imported module that ``root`` provides by name (its top-level .py files and
    folders) or whose file lies under it: the other side, or an earlier run, has modules of
    the same names (``models.resnet``, ``_torch_compat``)."""
    names = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if p.is_dir()}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        under = False
        if path:
            try:
                Path(path).resolve().relative_to(root)
                under = True
            except ValueError:
                pass
        if under or name.partition(".")[0] in names:
            del sys.modules[name]


def _build(root: Path, spec: str, side: str):
    """``spec``'s model built with ``root`` first on sys.path."""
    sys.path.insert(0, str(root))
    try:
        return build_from_spec(spec, f"--model ({side}, {root})")
    except ConversionError as exc:
        raise CompareError(str(exc)) from None
    finally:
        sys.path.remove(str(root))


def build_pair(src: Path, dst: Path, spec: str, seed: int = 0):
    """(torch model, MindSpore Cell) built by ``spec`` from SRC and from DST."""
    import mindspore
    import torch

    parse_model_spec(spec)  # usage errors first
    src, dst = Path(src).resolve(), Path(dst).resolve()
    for root, what in ((src, "SRC"), (dst, "DST")):
        if not root.is_dir():
            raise CompareError(f"{root}: {what} is not a directory")
    _forget_modules_of(src)
    _forget_modules_of(dst)
    torch.manual_seed(seed)
    torch_model = _build(src, spec, "SRC")
    if not isinstance(torch_model, torch.nn.Module):
        raise CompareError(f"--model {spec}: SRC's call returned a {type(torch_model).__name__}, not a torch.nn.Module")
    _forget_modules_of(src)
    mindspore.set_seed(seed)
    ms_model = _build(dst, spec, "DST")
    if not isinstance(ms_model, mindspore.nn.Cell):
        raise CompareError(f"--model {spec}: DST's call returned a {type(ms_model).__name__}, not a mindspore.nn.Cell")
    return torch_model, ms_model


def copy_weights(torch_model, ms_model, result: Comparison) -> None:
    """torch's parameters and buffers into the Cell's Parameters (written into their storage,
    so a construct compiled with mindspore.jit reads them), under ``name_map``'s names."""
    import mindspore
    from mindspore import ops

    mapping = name_map(torch_model)
    for key, reason in mapping.unmapped.items():
        result.ms_only.append((key, f"torch only: {reason}"))
    state, unmapped = to_mindspore(torch_model.state_dict(), mapping)
    for key in unmapped:
        if key not in mapping.unmapped:
            result.weight_problems.append((key, "not a tensor, or no MindSpore name"))
    params = ms_model.parameters_dict()
    for name, array in state.items():
        param = params.get(name)
        if param is None:
            result.weight_problems.append((name, "the Cell has no parameter of this name"))
            continue
        if tuple(param.shape) != tuple(array.shape):
            result.weight_problems.append((name, f"shape {tuple(array.shape)} in torch, {tuple(param.shape)} in the Cell"))
            continue
        ops.assign(param, mindspore.Tensor(np.ascontiguousarray(array), dtype=param.dtype))
        result.copied += 1
    result.ms_only.extend((name, "not set from torch") for name in params if name not in state)


# --------------------------------------------------------------------------- comparing
def _leaves(value: Any, path: str = "out") -> list:
    if isinstance(value, dict):
        return [leaf for k in value for leaf in _leaves(value[k], f"{path}[{k!r}]")]
    if isinstance(value, (tuple, list)):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, value)]


def compare_outputs(ms_out, torch_out, rtol: float) -> list:
    got, want = _leaves(ms_out), _leaves(torch_out)
    if [p for p, _ in got] != [p for p, _ in want]:
        return [Leaf("out", (), (), float("inf"), 1.0, False,
                     f"structure differs: mindspore {[p for p, _ in got]} vs torch {[p for p, _ in want]}")]
    leaves = []
    for (path, g), (_, w) in zip(got, want):
        if g is None or w is None:
            leaves.append(Leaf(path, (), (), 0.0, 1.0, g is None and w is None, "None"))
            continue
        a, b = np.asarray(to_array(g) if hasattr(g, "shape") else g), np.asarray(to_array(w) if hasattr(w, "shape") else w)
        leaves.append(compare_arrays(path, a, b, rtol))
    return leaves


def compare_arrays(path: str, a: np.ndarray, b: np.ndarray, rtol: float) -> Leaf:
    """MindSpore's ``a`` against torch's ``b``."""
    if a.shape != b.shape:
        return Leaf(path, a.shape, b.shape, float("inf"), 1.0, False, "shape differs")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    max_abs = float(np.max(np.abs(a64 - b64))) if a.size else 0.0
    finite = bool(np.array_equal(np.isfinite(a64), np.isfinite(b64)))
    if not finite:
        max_abs = float("inf")
    largest = float(np.max(np.abs(b64[np.isfinite(b64)]))) if np.isfinite(b64).any() else 0.0
    scale = largest if largest > 0 else 1.0
    spread = None
    if b.ndim >= 1 and b.shape[0] >= 2 and np.isfinite(b64).all():
        spread = float(np.max(np.abs(b64 - b64.mean(axis=0, keepdims=True))))
    return Leaf(path, a.shape, b.shape, max_abs, scale, finite and max_abs <= rtol * scale,
                "" if a.dtype.kind == b.dtype.kind else f"dtype {a.dtype} vs torch {b.dtype}", largest, spread)


def _output_weights(torch_out, seed: int) -> list:
    """(path, N(0, 1) weights of the leaf's shape) for every floating tensor leaf of torch's output."""
    rng = np.random.default_rng(seed + 1)
    weights = []
    for path, value in _leaves(torch_out):
        if hasattr(value, "dtype") and getattr(value, "is_floating_point", lambda: False)():
            weights.append((path, rng.standard_normal(tuple(value.shape))))
    return weights


def _weighted_sum(out, weights: list, make, reduce):
    leaves = dict(_leaves(out))
    terms = [reduce(leaves[path] * make(w, leaves[path])) for path, w in weights]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _float64_gradients(torch_model, torch_inputs, weights) -> Optional[dict]:
    """Every parameter's gradient of the same scalar from a float64 copy of the torch model (the
    reference a float32 gradient's own error is measured against), or None where the model
    does not run in float64."""
    import copy

    import torch

    try:
        model = copy.deepcopy(torch_model).double()
        model.zero_grad(set_to_none=True)
        inputs = [x.double() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in torch_inputs]
        out = model(*inputs)
        _weighted_sum(out, weights, lambda w, leaf: torch.as_tensor(w, dtype=leaf.dtype), torch.sum).backward()
    except Exception:  # noqa: BLE001 - a model that builds float32 tensors itself, say
        return None
    return {name: p.grad.double().numpy() if p.grad is not None else np.zeros(tuple(p.shape))
            for name, p in model.named_parameters() if p.requires_grad}


def compare_gradients(torch_model, ms_model, torch_inputs, ms_inputs, torch_out, rtol: float, seed: int) -> list:
    """Each torch parameter's gradient of ``sum(output * W)`` against its Cell parameter's."""
    import mindspore
    import torch

    weights = _output_weights(torch_out, seed)
    if not weights:
        raise CompareError("--grad: the model has no floating-point output to differentiate")
    torch_model.zero_grad(set_to_none=True)
    try:
        out = torch_model(*torch_inputs)
        total = _weighted_sum(out, weights, lambda w, leaf: torch.as_tensor(w, dtype=leaf.dtype), torch.sum)
        total.backward()
    except Exception as exc:  # noqa: BLE001 - the user's model
        raise CompareError(f"--grad: torch's backward failed: {type(exc).__name__}: {exc}") from None
    torch_grads = {name: p.grad for name, p in torch_model.named_parameters() if p.requires_grad}
    exact = _float64_gradients(torch_model, torch_inputs, weights)

    params = [p for p in ms_model.trainable_params()]

    def loss(*args):
        out = ms_model(*args)
        return _weighted_sum(out, weights, lambda w, leaf: mindspore.Tensor(w, dtype=leaf.dtype),
                             lambda t: t.sum())

    try:
        _, grads = mindspore.value_and_grad(loss, None, params)(*ms_inputs)
    except Exception as exc:  # noqa: BLE001 - the migrated model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CompareError(f"--grad: MindSpore's value_and_grad failed: {type(exc).__name__}: {first}") from None
    ms_grads = {p.name: g for p, g in zip(params, grads)}
    mapping = name_map(torch_model)
    # A gradient that is zero in exact arithmetic (a bias before BatchNorm) is float32 noise in
    # both frameworks: each gradient is judged against at least 1% of the model's largest one.
    floor = 0.01 * max((float(g.abs().max()) for g in torch_grads.values() if g is not None and g.numel()),
                       default=0.0)
    leaves = []
    for name, grad in torch_grads.items():
        ms_name = mapping.get(name, name)
        if ms_name not in ms_grads:
            leaves.append(Leaf(name, (), (), float("inf"), 1.0, False, "no trainable Cell parameter of this name"))
            continue
        got = to_array(ms_grads[ms_name])
        want = np.zeros(got.shape, got.dtype) if grad is None else to_array(grad)
        leaf = compare_arrays(name, got, want, rtol)
        leaf.spread = None  # the WEAK test is about outputs
        notes = [leaf.note] if leaf.note else []
        if grad is None:
            notes.append("torch gives it no gradient")
        if leaf.scale < floor and np.isfinite(leaf.max_abs):
            leaf.scale = floor
            leaf.ok = leaf.max_abs <= rtol * floor
            notes.append("near zero: judged against 1% of the largest gradient")
        if not leaf.ok and exact is not None and name in exact and got.shape == exact[name].shape:
            # ill-conditioned (BatchNorm on a small batch): torch's own float32 gradient is as far off
            own = float(np.max(np.abs(want.astype(np.float64) - exact[name]))) if want.size else 0.0
            ours = float(np.max(np.abs(got.astype(np.float64) - exact[name]))) if got.size else 0.0
            if np.isfinite(ours) and ours <= 2.0 * own:
                leaf.ok = True
                notes.append(f"torch's own float32 gradient is {own:.3g} from its float64 one, MindSpore's {ours:.3g}")
        leaf.note = "; ".join(notes)
        leaves.append(leaf)
    return leaves


def run(src: Path, dst: Path, spec: str, inputs: Sequence[InputSpec], rtol: float = 1e-4,
        train: bool = False, seed: int = 0, grad: bool = False, grad_rtol: float = 1e-3) -> Comparison:
    import mindspore
    import torch

    torch_model, ms_model = build_pair(src, dst, spec, seed)
    result = Comparison()
    copy_weights(torch_model, ms_model, result)
    torch_model.train(train)
    ms_model.set_train(train)
    rng = np.random.default_rng(seed)
    arrays = [s.draw(rng) for s in inputs]

    def torch_inputs():
        return [a.copy() if s.array else torch.from_numpy(a.copy()) for s, a in zip(inputs, arrays)]

    def ms_inputs():
        return [a.copy() if s.array else mindspore.Tensor(a.copy()) for s, a in zip(inputs, arrays)]

    try:
        start = time.perf_counter()
        with torch.no_grad():
            torch_out = torch_model(*torch_inputs())
        result.torch_seconds = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - the user's model
        raise CompareError(f"the torch model failed on the inputs: {type(exc).__name__}: {exc}") from None
    try:
        start = time.perf_counter()
        ms_out = ms_model(*ms_inputs())
        result.ms_seconds = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - the migrated model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CompareError(f"the migrated model failed on the inputs: {type(exc).__name__}: {first}") from None
    result.leaves = compare_outputs(ms_out, torch_out, rtol)
    if grad:
        result.grads = compare_gradients(torch_model, ms_model, torch_inputs(), ms_inputs(), torch_out,
                                         grad_rtol, seed)
    return result


def format_result(result: Comparison, rtol: float, grad_rtol: float = 1e-3) -> str:
    lines = [f"weights: {result.copied} tensors copied from torch into the Cell"]
    for name, reason in result.weight_problems:
        lines.append(f"  FAIL {name}: {reason}")
    by_reason: dict = {}
    for name, reason in result.ms_only:
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        lines.append(f"  note {shown}: {reason}")
    lines.append(f"outputs (rtol {rtol:g} of each output's max |torch|):")
    for leaf in result.leaves:
        status = "ok  " if leaf.ok else "FAIL"
        rel = leaf.max_abs / leaf.scale
        extra = f"  ({leaf.note})" if leaf.note else ""
        if leaf.ok and leaf.largest == 0.0 and leaf.shape != ():
            extra += "  (torch's output is all zeros: the check says little)"
        elif leaf.ok and leaf.spread is not None and leaf.spread < 1e-3 * leaf.largest:
            extra += (f"  (WEAK: the rows differ by at most {leaf.spread:.2g}, the output hardly depends on the "
                      "input; the check mostly sees the last bias. Try --train, or a model with trained weights)")
        lines.append(f"  {status} {leaf.path}: shape {leaf.shape}, max |torch| {leaf.largest:.3g}, "
                     f"max |diff| {leaf.max_abs:.3g} (relative {rel:.3g}){extra}")
    if result.grads is not None:
        failed = [leaf for leaf in result.grads if not leaf.ok]
        lines.append(f"gradients of sum(output * W) (rtol {grad_rtol:g} of each gradient's max |torch|): "
                     f"{len(result.grads) - len(failed)} of {len(result.grads)} parameters agree")
        worst = sorted(result.grads, key=lambda leaf: leaf.max_abs / leaf.scale, reverse=True)
        for leaf in failed + [leaf for leaf in worst[:3] if leaf.ok]:
            status = "ok  " if leaf.ok else "FAIL"
            extra = f"  ({leaf.note})" if leaf.note else ""
            lines.append(f"  {status} grad {leaf.path}: shape {leaf.shape}, max |torch| {leaf.largest:.3g}, "
                         f"max |diff| {leaf.max_abs:.3g} (relative {leaf.max_abs / leaf.scale:.3g}){extra}")
    lines.append(f"first forward: torch {result.torch_seconds * 1e3:.1f} ms, mindspore {result.ms_seconds * 1e3:.1f} ms "
                 "(mindspore's includes graph compilation)")
    lines.append("equal within tolerance" if result.ok else "DIFFERENT")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m migrate.compare", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", metavar="SRC", type=Path, help="the PyTorch project")
    parser.add_argument("dst", metavar="DST", type=Path, help="the migrated project (python -m migrate SRC DST)")
    parser.add_argument("--model", required=True, metavar="MODULE:CALLABLE",
                        help="how to build the model on both sides: a class or factory, called with no arguments "
                        "or literal ones, e.g. 'models.resnet:ResNet18()' or 'model:Net(3, 8)'")
    parser.add_argument("--input", action="append", default=[], metavar="SPEC", required=True,
                        help="one positional input of forward (repeat for more); see below")
    parser.add_argument("--rtol", type=float, default=1e-4, help="tolerance relative to max |torch| of each output (default 1e-4)")
    parser.add_argument("--train", action="store_true", help="compare in training mode (no dropout in the model)")
    parser.add_argument("--grad", action="store_true",
                        help="also compare every parameter's gradient of a random weighting of the outputs")
    parser.add_argument("--grad-rtol", type=float, default=1e-3,
                        help="tolerance of the gradients relative to each one's max |torch| (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs and of both models' construction")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        inputs = [parse_input(text) for text in args.input]
        parse_model_spec(args.model)
        result = run(args.src, args.dst, args.model, inputs, args.rtol, args.train, args.seed,
                     args.grad, args.grad_rtol)
    except (CompareError, ConversionError) as exc:
        print(f"migrate.compare: {exc}", file=sys.stderr)
        return 2
    print(format_result(result, args.rtol, args.grad_rtol))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
