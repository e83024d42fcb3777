"""Checkpoint conversion: PyTorch state_dict names <-> MindSpore parameter names.

The code migration (``python -m migrate``) renames a few module attributes
(``nn.Embedding.weight`` -> ``embedding_table``, LayerNorm/BatchNorm1d
``weight``/``bias`` -> ``gamma``/``beta``, ``running_mean``/``running_var`` ->
``moving_mean``/``moving_variance``).  A trained torch checkpoint has to follow
the same renames to load into the migrated network.  The renames are read from
the mapping table (api_map.yaml): every ``torch.nn.<Class>.<attr>`` entry with
``style: attribute`` whose MindSpore target (``mindspore.nn.<Class>.<name>``)
ends in another name.  Everything else keeps its name: MindSpore Cells name
nested parameters by attribute path exactly like torch (``net.0.weight`` in an
``nn.SequentialCell`` too), and the migrated ``register_buffer`` becomes a
non-trainable Parameter under the buffer's name.

Library use::

    from migrate.weights import name_map, to_mindspore, to_torch

    mapping = name_map(torch_model)               # torch key -> MindSpore name
    ms_state, dropped = to_mindspore(torch_model.state_dict(), mapping)
    mindspore.load_param_into_net(cell, as_parameters(ms_state))
    torch_state, dropped = to_torch(ms_state, mapping)

Command line: ``python -m migrate.weights SRC DST [--model module:callable]``
(``--help`` documents the options and exit codes).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

#: the BatchNorm step counter: MindSpore's BatchNorm has no such parameter.
NUM_BATCHES_TRACKED = "num_batches_tracked"
REASON_NUM_BATCHES = "BatchNorm's batch counter (used by torch only with momentum=None) has no MindSpore counterpart"
REASON_PASS_MODEL = "the table renames `{attr}` for {owners}; could not check the owning module: pass --model to map it"
REASON_MS_PASS_MODEL = "`{attr}` is what the table renames {owners} to; could not check the owning Cell: pass --model to map it"

TORCH_SUFFIXES = (".pt", ".pth")
MS_SUFFIXES = (".ckpt",)


class NameMap(dict):
    """``torch state_dict key -> MindSpore parameter name``, with what could not be mapped.

    ``unmapped``: key -> reason, for keys with no MindSpore counterpart (they are
    not in the dict, so ``to_mindspore`` drops and lists them).
    ``unchecked``: key -> reason, for keys that ARE in the dict under a guessed
    name (kept as is) that nothing could confirm.
    """

    def __init__(self, items: Iterable = (), unmapped: Optional[Mapping[str, str]] = None,
                 unchecked: Optional[Mapping[str, str]] = None):
        super().__init__(items)
        self.unmapped: dict[str, str] = dict(unmapped or {})
        self.unchecked: dict[str, str] = dict(unchecked or {})

    def inverse(self) -> dict[str, str]:
        """MindSpore name -> torch key."""
        return _invert(self)


def _invert(mapping: Mapping[str, str]) -> dict[str, str]:
    inverse: dict[str, str] = {}
    for torch_key, ms_name in mapping.items():
        if ms_name in inverse:
            raise ValueError(
                f"{inverse[ms_name]!r} and {torch_key!r} would both become the MindSpore parameter {ms_name!r}"
            )
        inverse[ms_name] = torch_key
    return inverse


# --------------------------------------------------------------------------
# the renames the table defines


@dataclass(frozen=True)
class Renames:
    """Attribute renames from the table, by torch class."""

    by_owner: Mapping[str, Mapping[str, str]]  # "torch.nn.LayerNorm" -> {"weight": "gamma", ...}
    classes: Mapping[type, Mapping[str, str]] = field(default_factory=dict)  # resolved torch classes
    table_classes: frozenset = frozenset()  # every torch.nn.<Class> key of the table

    def members(self) -> dict[str, list[str]]:
        """torch attribute -> owners that rename it (``weight`` -> [Embedding, LayerNorm, ...])."""
        out: dict[str, list[str]] = {}
        for owner, attrs in self.by_owner.items():
            for attr in attrs:
                out.setdefault(attr, []).append(owner)
        return out

    def targets(self) -> dict[str, list[str]]:
        """MindSpore attribute -> ``Owner.attr`` torch members renamed to it."""
        out: dict[str, list[str]] = {}
        for owner, attrs in self.by_owner.items():
            for attr, new in attrs.items():
                out.setdefault(new, []).append(f"{owner}.{attr}")
        return out

    def lookup(self, cls: type, attr: str) -> Optional[str]:
        """The MindSpore name of ``attr`` on an instance of ``cls`` (subclasses included)."""
        for klass in cls.__mro__:
            renames = self.classes.get(klass)
            if renames and attr in renames:
                return renames[attr]
        return None


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def table_renames(spec=None) -> Renames:
    """The attribute renames of the mapping table (``load_spec()`` when ``spec`` is None)."""
    if spec is None:
        from migrate.spec import load_spec

        spec = load_spec()
    by_owner: dict[str, dict[str, str]] = {}
    table_classes = set()
    for rule in spec:
        parts = rule.key.split(".")
        if len(parts) == 3 and parts[:2] == ["torch", "nn"] and parts[2][:1].isupper():
            table_classes.add(rule.key)
        owner = rule.owner
        if (
            owner is None
            or not owner.startswith("torch.nn.")
            or owner == "torch.nn.Module"
            or rule.style != "attribute"
            or not rule.target
            or not rule.target.startswith("mindspore.")
            or not rule.target_is_method
        ):
            continue
        new = rule.target.rpartition(".")[2]
        if new != rule.member:
            by_owner.setdefault(owner, {})[rule.member] = new
    classes = {}
    for owner, attrs in by_owner.items():
        cls = _resolve(owner)
        if isinstance(cls, type):
            classes[cls] = attrs
    return Renames(by_owner, classes, frozenset(table_classes))


def _public_torch_nn_class(cls: type) -> Optional[str]:
    """``torch.nn.BatchNorm2d`` for BatchNorm2d or a user subclass of it; None past nn.Module."""
    import torch

    for klass in cls.__mro__:
        if klass is torch.nn.Module:
            return None
        if klass.__module__.startswith("torch.nn") and getattr(torch.nn, klass.__name__, None) is klass:
            return f"torch.nn.{klass.__name__}"
    return None


# --------------------------------------------------------------------------
# names


def name_map(torch_module, spec=None) -> NameMap:
    """Every ``torch_module.state_dict()`` key (parameters and buffers) -> its MindSpore name.

    The owning module of each tensor comes from ``named_modules()``; the table's
    attribute renames apply to instances of their class and of its subclasses, to the
    tensor's own name and to each submodule on its path (``linear1`` -> ``dense1`` in a
    TransformerEncoderLayer).
    ``num_batches_tracked`` of a BatchNorm is listed in ``.unmapped`` (not in the
    dict).  Names kept as they are but that nothing confirms are listed in
    ``.unchecked``: tensors of a torch.nn class the table does not know (e.g.
    BatchNorm2d, whose MindSpore twin also says gamma/beta), state_dict keys that are
    not ``<submodule>.<tensor>`` (custom state_dict hooks), and aliases of a shared
    tensor (a MindSpore Cell lists a shared Parameter once, under one of its names).
    """
    import torch

    renames = spec if isinstance(spec, Renames) else table_renames(spec)
    modules = dict(torch_module.named_modules(remove_duplicate=False))
    norm_base = getattr(torch.nn.modules.batchnorm, "_NormBase", ())
    result = NameMap()
    seen: dict[int, str] = {}
    for key in torch_module.state_dict().keys():
        prefix, _, attr = key.rpartition(".")
        owner = modules.get(prefix)
        if owner is None:
            result[key] = key
            result.unchecked[key] = "not a <submodule>.<tensor> name (a custom state_dict hook?); name kept"
            continue
        if attr == NUM_BATCHES_TRACKED and isinstance(owner, norm_base):
            result.unmapped[key] = REASON_NUM_BATCHES
            continue
        new = renames.lookup(type(owner), attr)
        result[key] = f"{_renamed_path(prefix, modules, renames)}.{new or attr}" if prefix else (new or key)
        tensor = owner._parameters.get(attr) if attr in owner._parameters else owner._buffers.get(attr)
        if tensor is not None:
            if id(tensor) in seen:
                result.unchecked[key] = (
                    f"the same tensor as {seen[id(tensor)]!r}: a MindSpore Cell lists a shared Parameter "
                    "once, under one of its names"
                )
            else:
                seen[id(tensor)] = key
        if new is None and key not in result.unchecked:
            public = _public_torch_nn_class(type(owner))
            if public is not None and public not in renames.table_classes:
                result.unchecked[key] = (
                    f"{public} is not in the mapping table, so its MindSpore parameter names are unknown; name kept"
                )
    _invert(result)  # raises on two keys becoming one name
    return result


def _renamed_path(prefix: str, modules: dict, renames: Renames) -> str:
    """A submodule's path with the table's renames of submodule attributes applied to each step
    (``layers.0.linear1`` -> ``layers.0.dense1``: TransformerEncoderLayer's feed-forward layers)."""
    parts = prefix.split(".")
    out = []
    for i, part in enumerate(parts):
        parent = modules.get(".".join(parts[:i]))
        out.append((renames.lookup(type(parent), part) if parent is not None else None) or part)
    return ".".join(out)


def guess_name_map(keys: Iterable[str], spec=None, side: str = "torch") -> NameMap:
    """Names without the model: nothing is renamed (identity).

    ``side="torch"`` (keys are torch state_dict keys): a key whose last component is
    an attribute the table renames for some class (weight, bias, running_mean,
    running_var) is listed in ``.unchecked``; ``*.num_batches_tracked`` in
    ``.unmapped``.  ``side="mindspore"`` (keys are MindSpore parameter names): a key
    ending in a rename target (embedding_table, gamma, beta, moving_mean,
    moving_variance) is listed in ``.unchecked``.
    """
    if side not in ("torch", "mindspore"):
        raise ValueError(f"side must be 'torch' or 'mindspore', not {side!r}")
    renames = spec if isinstance(spec, Renames) else table_renames(spec)
    members = renames.members() if side == "torch" else renames.targets()
    template = REASON_PASS_MODEL if side == "torch" else REASON_MS_PASS_MODEL
    result = NameMap()
    for key in keys:
        attr = key.rpartition(".")[2]
        if side == "torch" and attr == NUM_BATCHES_TRACKED:
            result.unmapped[key] = REASON_NUM_BATCHES
            continue
        result[key] = key
        if attr in members:
            owners = ", ".join(members[attr])
            result.unchecked[key] = template.format(attr=attr, owners=owners)
    return result


# --------------------------------------------------------------------------
# arrays


def _ms_bfloat16():
    try:
        from mindspore.common.np_dtype import bfloat16
    except ImportError:  # pragma: no cover - depends on the MindSpore build
        return None
    return bfloat16


def torch_to_numpy(value) -> np.ndarray:
    """A torch tensor (or array) as a numpy array of the same dtype (may share memory).

    bfloat16 becomes MindSpore's numpy bfloat16 dtype; other dtypes numpy lacks raise TypeError."""
    import torch

    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"not a tensor or array: {type(value).__name__}")
    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        bf16 = _ms_bfloat16()
        if bf16 is None:
            raise TypeError("bfloat16 needs MindSpore's numpy bfloat16 dtype (mindspore.common.np_dtype)")
        return value.view(torch.int16).numpy().view(bf16)
    try:
        return value.numpy()
    except TypeError as exc:
        raise TypeError(f"torch dtype {value.dtype} has no numpy equivalent: {exc}") from None


def numpy_to_torch(array: np.ndarray):
    """A numpy array as a torch tensor of the same dtype (bfloat16 included)."""
    import torch

    array = np.asarray(array)
    if array.dtype.name == "bfloat16":
        return torch.from_numpy(np.ascontiguousarray(array).view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(np.array(array, copy=True))


def to_array(value) -> np.ndarray:
    """numpy arrays as they are, torch tensors via torch_to_numpy, MindSpore tensors via asnumpy()."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "asnumpy"):
        return value.asnumpy()
    return torch_to_numpy(value)


def is_array(value) -> bool:
    if isinstance(value, np.ndarray) or hasattr(value, "asnumpy"):
        return True
    import torch

    return isinstance(value, torch.Tensor)


def to_mindspore(state: Mapping[str, Any], mapping: Mapping[str, str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Rename a torch state (values: torch tensors or numpy arrays) to MindSpore names.

    Returns ``(arrays by MindSpore name, unmapped torch keys)``: keys absent from
    ``mapping`` and values that are not tensors are left out and listed.  dtypes and
    shapes are kept; arrays may share memory with the input tensors.
    """
    out: dict[str, np.ndarray] = {}
    unmapped: list[str] = []
    sources: dict[str, str] = {}
    for key, value in state.items():
        if key not in mapping or not is_array(value):
            unmapped.append(key)
            continue
        name = mapping[key]
        if name in sources:
            raise ValueError(f"{sources[name]!r} and {key!r} would both become the MindSpore parameter {name!r}")
        sources[name] = key
        out[name] = to_array(value)
    return out, unmapped


def to_torch(ms_state: Mapping[str, Any], mapping: Mapping[str, str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The inverse of ``to_mindspore``: MindSpore names (values: MindSpore tensors/Parameters
    or numpy arrays) back to torch keys, with ``mapping`` the torch -> MindSpore map.

    Returns ``(numpy arrays by torch key, unmapped MindSpore names)``; dtypes preserved.
    """
    inverse = _invert(mapping)
    out: dict[str, np.ndarray] = {}
    unmapped: list[str] = []
    for name, value in ms_state.items():
        if name not in inverse or not is_array(value):
            unmapped.append(name)
            continue
        out[inverse[name]] = to_array(value)
    return out, unmapped


def as_parameters(ms_state: Mapping[str, np.ndarray]) -> dict:
    """``{name: mindspore.Parameter}`` for ``mindspore.load_param_into_net``.
    Floating-point arrays become trainable Parameters, the rest (int buffers) not."""
    import mindspore

    params = {}
    for name, array in ms_state.items():
        array = np.asarray(array)
        trainable = array.dtype.kind in "fc" or array.dtype.name == "bfloat16"
        params[name] = mindspore.Parameter(mindspore.Tensor(array), name=name, requires_grad=trainable)
    return params


# --------------------------------------------------------------------------
# files


class ConversionError(Exception):
    """A one-line, user-facing error (missing/corrupt file, bad option...): exit status 2."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):  # torch's weights_only refusal: the detail is further down
        if line.startswith("WeightsUnpickler error:"):
            detail = line.partition(":")[2].strip() or (lines[i + 1] if i + 1 < len(lines) else "")
            return f"not a plain weights-only torch file ({detail})"
    if not lines:
        return type(exc).__name__
    first = lines[0] if len(lines[0]) <= 200 else lines[0][:197] + "..."
    return f"{type(exc).__name__}: {first}"


def load_torch_checkpoint(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The state_dict in a ``.pt``/``.pth`` file (a dict of tensors, or one under
    "state_dict"/"model"), loaded with ``weights_only=True`` on the CPU.
    Returns ``(tensors by key, keys whose value is not a tensor)``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt files raise many kinds
        raise ConversionError(
            f"{path}: cannot read as a torch checkpoint (corrupt, or not a torch file): {_one_line(exc)}"
        ) from None
    if not isinstance(obj, Mapping):
        raise ConversionError(
            f"{path}: holds a {type(obj).__name__}, not a state_dict (save model.state_dict(), not the model)"
        )
    for holder in ("state_dict", "model"):
        if isinstance(obj.get(holder), Mapping):
            obj = obj[holder]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    others = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not tensors:
        raise ConversionError(f"{path}: holds no tensors (expected a state_dict, or one under 'state_dict'/'model')")
    return tensors, others


def load_mindspore_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a MindSpore ``.ckpt`` file, by parameter name."""
    import mindspore

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ConversionError(f"{path}: cannot read as a MindSpore checkpoint: the file is empty")
    try:
        params = mindspore.load_checkpoint(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"{path}: cannot read as a MindSpore checkpoint: {_one_line(exc)}") from None
    return {name: p.asnumpy() for name, p in params.items()}


def _atomic_write(dst: Path, write: Callable[[str], None]) -> None:
    """Write through a temp file next to ``dst``, then ``os.replace`` it into place."""
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp" + dst.suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # save_checkpoint makes it read-only, mkstemp 0600
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_mindspore_checkpoint(path: Path, ms_state: Mapping[str, np.ndarray]) -> None:
    """Atomically write arrays as a MindSpore ``.ckpt`` (``mindspore.save_checkpoint``)."""
    import mindspore

    entries = [{"name": name, "data": mindspore.Tensor(np.asarray(arr))} for name, arr in ms_state.items()]
    _atomic_write(Path(path), lambda tmp: mindspore.save_checkpoint(entries, tmp))


def save_torch_checkpoint(path: Path, state: Mapping[str, np.ndarray]) -> None:
    """Atomically write arrays as a torch state_dict file (``torch.save`` of an OrderedDict)."""
    from collections import OrderedDict

    import torch

    tensors = OrderedDict((key, numpy_to_torch(arr)) for key, arr in state.items())
    _atomic_write(Path(path), lambda tmp: torch.save(tensors, tmp))


# --------------------------------------------------------------------------
# --model


def parse_model_spec(spec: str, option: str = "--model") -> tuple[str, list[str], list, dict]:
    """``module:callable`` or ``module:callable(literal args)`` -> (module, attribute path,
    args, kwargs).  Raises ConversionError naming ``option``."""
    module_name, sep, expr = spec.partition(":")
    if not sep or not module_name or not expr:
        raise ConversionError(f"{option} {spec}: expected module:callable (e.g. mypkg.model:build)")
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        raise ConversionError(f"{option} {spec}: {expr!r} is not a callable name or call") from None
    args: list = []
    kwargs: dict = {}
    if isinstance(tree, ast.Call):
        try:
            args = [ast.literal_eval(a) for a in tree.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}
        except ValueError:
            raise ConversionError(f"{option} {spec}: arguments must be Python literals") from None
        if None in kwargs:
            raise ConversionError(f"{option} {spec}: **kwargs are not supported")
        tree = tree.func
    dotted = []
    while isinstance(tree, ast.Attribute):
        dotted.append(tree.attr)
        tree = tree.value
    if not isinstance(tree, ast.Name):
        raise ConversionError(f"{option} {spec}: {expr!r} is not a callable name or call")
    dotted.append(tree.id)
    dotted.reverse()
    return module_name, dotted, args, kwargs


def build_from_spec(spec: str, option: str = "--model"):
    """Import ``spec``'s module and call its callable with the literal arguments; the object
    it returns.  Raises ConversionError naming ``option``."""
    module_name, dotted, args, kwargs = parse_model_spec(spec, option)
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"{option} {spec}: cannot import {module_name}: {_one_line(exc)}") from None
    try:
        for part in dotted:
            obj = getattr(obj, part)
    except AttributeError:
        raise ConversionError(f"{option} {spec}: {module_name} has no {'.'.join(dotted)}") from None
    if not callable(obj):
        raise ConversionError(f"{option} {spec}: {'.'.join(dotted)} is not callable")
    try:
        return obj(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"{option} {spec}: calling {'.'.join(dotted)}(...) failed: {_one_line(exc)}") from None


def load_model(spec: str):
    """Build the torch module named by ``module:callable`` or ``module:callable(literal args)``.

    The callable (a class or a factory function, dotted attributes allowed) is called
    with no arguments, or with the literal arguments given
    (``reference_torch.model:MAMO((2, 7), (6,), (5,), 5, 8)``).  The current directory
    is importable, as with ``python -m``."""
    import torch

    parse_model_spec(spec)  # usage errors before any import
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    model = build_from_spec(spec)
    if not isinstance(model, torch.nn.Module):
        raise ConversionError(f"--model {spec}: returned a {type(model).__name__}, not a torch.nn.Module")
    return model


# --------------------------------------------------------------------------
# conversion of a file


@dataclass
class Conversion:
    """What ``convert_file`` did.  ``problems``: (kind, name, reason) to show a person."""

    src: Path
    dst: Path
    direction: str  # "torch->mindspore" or "mindspore->torch"
    written: int = 0
    renamed: int = 0
    problems: list = field(default_factory=list)
    wrote: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def _direction(src: Path, dst: Path) -> str:
    s, d = src.suffix.lower(), dst.suffix.lower()
    if s in TORCH_SUFFIXES and d in MS_SUFFIXES:
        return "torch->mindspore"
    if s in MS_SUFFIXES and d in TORCH_SUFFIXES:
        return "mindspore->torch"
    raise ConversionError(
        f"cannot tell the direction from the suffixes {src.name} -> {dst.name}: "
        "convert .pt/.pth -> .ckpt or .ckpt -> .pt/.pth"
    )


def convert_file(src: Path, dst: Path, model: Optional[str] = None, maps: Sequence[Path] = (),
                 strict: bool = False, force: bool = False) -> Conversion:
    """Convert one checkpoint file (direction from the suffixes).  Raises ConversionError."""
    src, dst = Path(src), Path(dst)
    direction = _direction(src, dst)
    if src.resolve() == dst.resolve():
        raise ConversionError(f"{dst}: SRC and DST are the same file")
    if dst.exists() and not force:
        raise ConversionError(f"{dst}: already exists (pass --force to replace it)")
    if not dst.parent.is_dir():
        raise ConversionError(f"{dst.parent}: no such directory for DST")
    from migrate.spec import SpecError, load_spec

    try:
        renames = table_renames(load_spec([Path(m) for m in maps]))
    except SpecError as exc:
        raise ConversionError(str(exc)) from None
    torch_model = load_model(model) if model else None

    result = Conversion(src, dst, direction)
    problems = result.problems
    if direction == "torch->mindspore":
        state, non_tensors = load_torch_checkpoint(src)
        for key in non_tensors:
            problems.append(("not mapped", key, "not a tensor"))
        if torch_model is not None:
            mapping = name_map(torch_model, renames)
            model_state = torch_model.state_dict()
            for key in state:
                if key in mapping.unmapped:
                    problems.append(("not mapped", key, mapping.unmapped[key]))
                elif key not in mapping:
                    problems.append(("not mapped", key, "not a key of the --model's state_dict"))
                elif tuple(state[key].shape) != tuple(model_state[key].shape):
                    problems.append(("shape", key, f"{tuple(state[key].shape)} in SRC, "
                                     f"{tuple(model_state[key].shape)} in the --model (converted anyway)"))
            for key in mapping:
                if key not in state:
                    problems.append(("missing", key, "the --model has it, SRC does not"))
        else:
            mapping = guess_name_map(state, renames, side="torch")
            for key, reason in mapping.unmapped.items():
                problems.append(("not mapped", key, reason))
        for key, reason in mapping.unchecked.items():
            if key in state:
                problems.append(("unchecked", key, reason))
        out, _ = to_mindspore(state, mapping)
        for name in [n for n, a in out.items() if a.size == 0]:
            problems.append(("not mapped", name, "zero-size tensor: mindspore.save_checkpoint drops it"))
            del out[name]
        result.renamed = sum(1 for k in state if k in mapping and mapping[k] != k)
        write = save_mindspore_checkpoint
    else:
        ms_state = load_mindspore_checkpoint(src)
        if torch_model is not None:
            mapping = name_map(torch_model, renames)
            inverse = mapping.inverse()
            model_state = torch_model.state_dict()
            for name in ms_state:
                if name not in inverse:
                    problems.append(("not mapped", name, "no tensor of the --model becomes this name"))
                elif tuple(ms_state[name].shape) != tuple(model_state[inverse[name]].shape):
                    problems.append(("shape", name, f"{tuple(ms_state[name].shape)} in SRC, "
                                     f"{tuple(model_state[inverse[name]].shape)} in the --model (converted anyway)"))
            for key in model_state:
                if key in mapping.unmapped:
                    problems.append(("missing", key, mapping.unmapped[key] + "; load with strict=False"))
                elif key in mapping and mapping[key] not in ms_state:
                    problems.append(("missing", key, f"SRC has no {mapping[key]!r}"))
            for key, reason in mapping.unchecked.items():
                if mapping[key] in ms_state:
                    problems.append(("unchecked", mapping[key], reason))
        else:
            mapping = guess_name_map(ms_state, renames, side="mindspore")
            for name, reason in mapping.unchecked.items():
                problems.append(("unchecked", name, reason))
        out, _ = to_torch(ms_state, mapping)
        result.renamed = sum(1 for k in out if k not in ms_state)
        write = save_torch_checkpoint
    if not out:
        raise ConversionError(f"{src}: no tensor could be mapped; nothing written")
    result.written = len(out)
    if strict and problems:
        return result
    write(dst, out)
    result.wrote = True
    return result


# --------------------------------------------------------------------------
# command line

DESCRIPTION = """\
Convert a checkpoint between PyTorch and the migrated MindSpore code.

SRC .pt/.pth -> DST .ckpt: the torch state_dict (a dict of tensors, or one under
"state_dict"/"model"; read with torch.load(weights_only=True) on the CPU) is
renamed as `python -m migrate` renames module attributes (nn.Embedding.weight ->
embedding_table, LayerNorm/BatchNorm1d weight/bias -> gamma/beta, running_mean/
running_var -> moving_mean/moving_variance; from api_map.yaml and --map files) and
written with mindspore.save_checkpoint.  SRC .ckpt -> DST .pt/.pth: the inverse.
dtypes and values are kept exactly.

Only --model makes the names exact: the module tells which class owns each
tensor.  Without it nothing is renamed, and every name the table renames for
SOME class (weight, bias, running_mean, running_var; or embedding_table, gamma,
beta, moving_mean, moving_variance in a .ckpt) is listed as unchecked.
Every name that could not be mapped or checked is printed.  DST is written
atomically (temp file + rename) and never replaced without --force."""

EPILOG = """\
exit status:
  0  DST written; every name mapped and checked
  1  DST written, but some names are listed as not mapped (dropped, e.g.
     BatchNorm's num_batches_tracked), unchecked (kept, unverified: no --model),
     missing or of another shape than in --model;
     with --strict: the same, and nothing was written
  2  an error: SRC missing or unreadable, DST exists without --force, bad
     suffixes, --model or --map failed; nothing was written

examples:
  python -m migrate.weights model.pt model.ckpt --model mypkg.model:build
  python -m migrate.weights best.pt best.ckpt \\
      --model "reference_torch.model:MAMO((2, 7, 21), (6, 10), (5, 8), 5, 100)"
  python -m migrate.weights model.ckpt back.pt --model mypkg.model:build --force"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m migrate.weights",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", metavar="SRC", type=Path, help="the checkpoint to read (.pt/.pth or .ckpt)")
    parser.add_argument("dst", metavar="DST", type=Path, help="the file to write (.ckpt or .pt/.pth)")
    parser.add_argument(
        "--model", metavar="MODULE:CALLABLE",
        help="the torch model: a callable returning the nn.Module (a class or factory), called with no "
        "arguments or with literal ones, e.g. 'pkg.mod:build' or 'pkg.mod:Net(3, 8)'; the current "
        "directory is importable",
    )
    parser.add_argument(
        "--map", metavar="EXTRA.yaml", action="append", default=[], type=Path,
        help="extra mapping entries (api_map.yaml format), e.g. torch.nn.BatchNorm2d.weight: "
        "{target: mindspore.nn.BatchNorm2d.gamma, style: attribute}. May be repeated.",
    )
    parser.add_argument("--strict", action="store_true",
                        help="write nothing (exit 1) if any name is not mapped, unchecked, missing or mis-shaped")
    parser.add_argument("--force", action="store_true", help="replace an existing DST")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    prog = "migrate.weights"
    try:
        for extra in args.map:
            if not extra.is_file():
                raise ConversionError(f"--map {extra}: no such file")
        result = convert_file(args.src, args.dst, model=args.model, maps=args.map,
                              strict=args.strict, force=args.force)
    except ConversionError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = exc.filename or args.dst
        print(f"{prog}: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was written", file=sys.stderr)
        return 130
    out = sys.stdout
    for kind, name, reason in result.problems:
        out.write(f"{kind}: {name}: {reason}\n")
    if result.wrote:
        out.write(f"wrote {result.dst} ({result.direction}): {result.written} tensors, {result.renamed} renamed"
                  f"{f', {len(result.problems)} names listed above' if result.problems else ''}\n")
    else:
        out.write(f"nothing written (--strict): {len(result.problems)} names listed above\n")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
