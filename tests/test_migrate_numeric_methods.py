"""The "tensor methods of mapped functions" entries compute what torch computes.

As tests/test_migrate_numeric_elementwise.py: each case is a small torch function calling the
method form ``x.op(...)`` (and ``torch.narrow``), converted with the real table; both frameworks
run it on the same random input and must agree within the entry's ``tolerance``, in values and
dtypes, in PyNative and inside mindspore.jit.  The cases cover the forms the entries promise:
positional and keyword arguments, Python-number and tensor operands, broadcasting, float64 and
the integer inputs the notes claim, varargs dims.  Forms MindSpore refuses (an integer floor,
a negative narrow start) are checked to fail loudly, as the notes say.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec
from test_migrate_numeric import _compare, case_source, converted_f, drawn_inputs, run_both, run_jit, section_keys

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

SPEC = load_spec()
HEADER = "import torch\n\n"
SECTION = "# ---------------------------------------------------------------- tensor methods of mapped functions"


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


def _ints(low, high, *shape):
    return lambda rng: rng.integers(low, high, shape).astype(np.int64)


def _with_nans(a):
    a[0, 0, :3] = np.nan
    a[1, :, 0] = np.nan  # an all-NaN slice along dim 1
    a[2, 1, 2] = np.nan
    return a


# input name -> numpy array drawer (rng -> array)
INPUTS = {
    "x": _normal(3, 4, 5),
    "y": _normal(3, 4, 5),
    "pos": lambda rng: (np.abs(rng.standard_normal((3, 4, 5))) * 3 + 0.05).astype(np.float32),
    "n": lambda rng: _with_nans(rng.standard_normal((3, 4, 5)).astype(np.float32)),
    "h": lambda rng: (np.arange(-4, 4) + 0.5).astype(np.float32),  # halves
    "m": _normal(3, 4),
    "f": _normal(3, 4),
    "x1": _normal(1, 4),
    "sq": _normal(4, 4),
    "wc": lambda rng: (rng.standard_normal((4, 4)) + 4 * np.eye(4)).astype(np.float32),  # well conditioned
    "wcb": lambda rng: (rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)).astype(np.float32),
    "v": _normal(4),
    "v2": _normal(4),
    "a3": _normal(3),
    "u3": _normal(4, 3),
    "w3": _normal(4, 3),
    "c3": _normal(1, 3),
    "bm": _normal(2, 3, 3),
    "b3": _normal(2, 3, 4),
    "wts": _normal(9),
    "fr": lambda rng: rng.integers(-2, 3, (3, 4)).astype(np.float32),  # floats that repeat
    "nanv": lambda rng: np.array([np.nan, 1.0, np.inf, -np.inf, 2.0], np.float32),
    "i": _ints(-6, 6, 3, 4),
    "j": lambda rng: (rng.integers(1, 5, (3, 4)) * rng.choice([-1, 1], (3, 4))).astype(np.int64),  # no zero
    "i32": lambda rng: rng.integers(-3, 4, (3, 4)).astype(np.int32),
    "t": _ints(0, 3, 2, 6),  # many ties
    "b": lambda rng: rng.random((3, 4)) < 0.6,
    "c": lambda rng: rng.random((3, 4)) < 0.4,
    "labels": _ints(0, 5, 9),
    "imat": _ints(0, 5, 3, 4),
    "rows01": _ints(0, 2, 7, 3),
    "tidx": _ints(-12, 12, 2, 3),
    "gidx": _ints(0, 4, 3, 4),
    "reps": _ints(0, 3, 3),
}

FLOAT_UNARY = {n: f"return x.{n}(), x.double().{n}(), m.{n}()" for n in ("sin", "cos", "sinh", "cosh", "erf", "expm1")}
POSITIVE_UNARY = {n: f"return pos.{n}(), pos.double().{n}(), (m * m + 0.5).{n}()" for n in ("rsqrt", "log10", "log1p", "log2")}
MOD_FORMS = ("return ((x * 3).{n}(y), i.{n}(j), i.{n}(-3), (x * 3).{n}(2.5), x.{n}(y[:1]), m.{n}(-2), "
             "x.{n}(other=pos), x.double().{n}(1.5))")
MINMAX_FORMS = "return x.{n}(y), i.{n}(j), x.{n}(y[:1]), m.{n}(other=f), x.double().{n}(y.double())"
LOGICAL_FORMS = "return b.{n}(c), i.{n}(m), b.{n}(c[:1]), x.{n}(y), b.{n}(other=c)"
CLOSE_FORMS = ("return (m.{n}(m + 1e-6 * f), m.{n}(f, rtol=0.5, atol=0.1), nanv.{n}(nanv), nanv.{n}(nanv, equal_nan=True), "
               "m.{n}(m + 1e-4, 0.0, 2e-4), m.{n}(other=m + 1e-3 * f, atol=1e-2))")

# torch name -> body of `def f(<inputs used>)`
CASES = {
    "torch.Tensor.floor": "return (x * 3).floor(), (x.double() * 3).floor(), h.floor()",
    "torch.Tensor.ceil": "return (x * 3).ceil(), (x.double() * 3).ceil(), h.ceil()",
    "torch.Tensor.trunc": "return (x * 3).trunc(), i.trunc(), h.trunc(), (x.double() * 3).trunc()",
    "torch.Tensor.frac": "return (x * 3).frac(), h.frac(), (x.double() * 3).frac()",
    "torch.Tensor.reciprocal": "return x.reciprocal(), j.reciprocal(), x.double().reciprocal(), b.reciprocal()",
    **{f"torch.Tensor.{n}": body for n, body in FLOAT_UNARY.items()},
    **{f"torch.Tensor.{n}": body for n, body in POSITIVE_UNARY.items()},
    "torch.Tensor.square": "return x.square(), i.square(), i32.square(), x.double().square()",
    "torch.Tensor.isnan": "return n.isnan(), i.isnan(), (x / 0).isnan()",
    "torch.Tensor.isinf": "return n.isinf(), (x / 0).isinf(), (x.double() / 0).isinf()",
    "torch.Tensor.isfinite": "return n.isfinite(), (x / 0).isfinite(), i.isfinite()",
    "torch.Tensor.logical_not": "return b.logical_not(), i.logical_not(), x.logical_not()",
    "torch.Tensor.inverse": "return wc.inverse(), wcb.inverse()",
    "torch.Tensor.fliplr": "return m.fliplr(), x.fliplr(), imat.fliplr()",
    "torch.Tensor.trace": "return m.trace(), sq.trace(), imat.trace(), imat.int().trace()",
    "torch.Tensor.atan2": "return y.atan2(x), x.atan2(y[:1]), x.double().atan2(y.double()), m.atan2(other=f)",
    "torch.Tensor.fmod": MOD_FORMS.format(n="fmod"),
    "torch.Tensor.remainder": MOD_FORMS.format(n="remainder"),
    "torch.Tensor.floor_divide": ("return (x * 3).floor_divide(y), i.floor_divide(j), i.floor_divide(-3), (x * 3).floor_divide(2), "
                                  "m.floor_divide(other=f), x.floor_divide(y[:1])"),
    "torch.Tensor.maximum": MINMAX_FORMS.format(n="maximum"),
    "torch.Tensor.minimum": MINMAX_FORMS.format(n="minimum"),
    "torch.Tensor.logical_and": LOGICAL_FORMS.format(n="logical_and"),
    "torch.Tensor.logical_or": LOGICAL_FORMS.format(n="logical_or"),
    "torch.Tensor.logical_xor": LOGICAL_FORMS.format(n="logical_xor"),
    "torch.Tensor.kron": "return m.kron(sq[:2, :3]), v.kron(m), imat.kron(imat[:2, :2]), m.kron(other=f)",
    "torch.Tensor.outer": "return v.outer(a3), labels.outer(labels), a3.outer(vec2=v)",
    "torch.Tensor.masked_select": "return m.masked_select(m > 0), x.masked_select(y > 0), labels.masked_select(labels > 2), m.masked_select(mask=b)",
    "torch.Tensor.take": "return m.take(tidx), x.take(tidx[0]), labels.take(tidx % 9), m.take(index=tidx)",
    "torch.Tensor.equal": "return m.equal(m.clone()), m.equal(f), m.equal(x1), labels.equal(labels), m.equal(other=m)",
    "torch.Tensor.dot": "return v.dot(v2), labels.dot(labels), v.dot(tensor=v2)",
    "torch.Tensor.mv": "return m.mv(v), sq.mv(vec=v2)",
    "torch.Tensor.isclose": CLOSE_FORMS.format(n="isclose"),
    "torch.Tensor.allclose": CLOSE_FORMS.format(n="allclose"),
    "torch.Tensor.dist": ("return (m.dist(f), m.dist(v, 1), m.dist(f, p=float('inf')), m.dist(f, 0), m.dist(f, 3.5), "
                          "m.dist(other=f, p=float('-inf')), m.dist(f, 2.0))"),
    "torch.Tensor.cross": "return u3.cross(w3, dim=1), u3.cross(w3), u3.cross(c3, dim=-1), u3.t().cross(w3.t(), 0), u3.cross(other=w3)",
    "torch.Tensor.lerp": ("return (x.lerp(y, 0.25), x.lerp(y, pos / 20), x.lerp(y[:1], 0.75), x.lerp(end=y, weight=0.5), "
                          "(x.double() * 2).float().lerp(y, torch.tensor(0.3)))"),
    "torch.Tensor.addcmul": ("return (x.addcmul(y, pos), x.addcmul(y, pos, value=0.5), x.addcmul(y[:1], pos), "
                             "x.double().addcmul(y.double(), y.double(), value=-2), i.addcmul(j, i, value=3), "
                             "x.addcmul(tensor1=y, tensor2=pos, value=2))"),
    "torch.Tensor.addcdiv": ("return (x.addcdiv(y, pos), x.addcdiv(y, pos, value=0.5), x.addcdiv(y[:1], pos), "
                             "x.double().addcdiv(y.double(), pos.double(), value=-2), x.addcdiv(tensor1=y, tensor2=pos, value=2))"),
    "torch.Tensor.clamp_min": "return x.clamp_min(0.1), x.clamp_min(y), i.clamp_min(-2), x.clamp_min(min=-0.5), x.double().clamp_min(0.0), x.clamp_min(y[:1])",
    "torch.Tensor.clamp_max": "return x.clamp_max(0.1), x.clamp_max(y), i.clamp_max(2), x.clamp_max(max=-0.5), x.double().clamp_max(0.0), x.clamp_max(y[:1])",
    "torch.Tensor.clip": "return x.clip(-0.5, 0.5), x.clip(min=0.0), x.clip(max=0.2), x.clip(y - 0.5, y + 0.5), i.clip(-2, 3), x.clip(y - 1, max=y)",
    "torch.Tensor.narrow": "return x.narrow(1, 1, 2), x.narrow(-1, 0, 3), x.narrow(dim=0, start=1, length=2), m.narrow(0, 2, 1), i.narrow(1, 3, 1)",
    "torch.narrow": "return torch.narrow(x, 1, 1, 2), torch.narrow(x, dim=-1, start=0, length=3), torch.narrow(m, 0, 2, 1), torch.narrow(i, 1, 0, 4)",
    "torch.Tensor.baddbmm": ("return (bm.baddbmm(b3, b3.transpose(1, 2)), a3.baddbmm(b3, b3.transpose(1, 2), beta=0.5, alpha=-1.5), "
                             "bm.baddbmm(bm, bm, alpha=2.0), bm.baddbmm(batch1=bm, batch2=bm))"),
    "torch.Tensor.cumprod": "return x.cumprod(1), i32.cumprod(1), m.cumprod(0, dtype=torch.float64), x.cumprod(dim=-1)",
    "torch.Tensor.logsumexp": "return x.logsumexp(1), x.logsumexp(dim=(0, 2), keepdim=True), (x * 50).logsumexp(-1), x.double().logsumexp(0)",
    "torch.Tensor.nanmean": ("return (n.nanmean(), n.nanmean(1), n.nanmean(dim=2, keepdim=True), n.nanmean((0, 2)), "
                             "n.nanmean(1, dtype=torch.float64), x.nanmean())"),
    "torch.Tensor.median": ("return (x.median(), m.median(), x.median(1), x.median(dim=-1, keepdim=True), t.median(1), "
                            "n.median(2), i.median(0), n.median())"),
    "torch.Tensor.count_nonzero": "return i.count_nonzero(), i.count_nonzero(0), b.count_nonzero(dim=1), fr.count_nonzero((0, 1)), x.count_nonzero()",
    "torch.Tensor.diag": "return v.diag(), v.diag(1), sq.diag(), m.diag(-1), m.diag(diagonal=2)",
    "torch.Tensor.diag_embed": "return m.diag_embed(), v.diag_embed(1), m.diag_embed(-1, 0, 2), m.diag_embed(dim1=0, dim2=1)",
    "torch.Tensor.diagonal": "return sq.diagonal(), m.diagonal(1), x.diagonal(-1, dim1=1, dim2=2), x.diagonal(0, 0, 2), m.diagonal(offset=-1)",
    "torch.Tensor.tril": "return m.tril(), x.tril(-1), sq.tril(diagonal=2), imat.tril()",
    "torch.Tensor.triu": "return m.triu(), x.triu(1), sq.triu(diagonal=-2), imat.triu(1)",
    "torch.Tensor.roll": "return x.roll(2, 1), x.roll(5), x.roll(shifts=(1, -2), dims=(0, 2)), m.roll(-7, -1), labels.roll(shifts=3)",
    "torch.Tensor.flip": "return x.flip(0, 2), x.flip((0, 2)), m.flip(dims=[1]), labels.flip(0), x.flip([-1]), x.flip(-2)",
    "torch.Tensor.tile": "return m.tile(2, 1), m.tile((2, 1)), x.tile(2), m.tile([2, 1]), v.tile(dims=(2, 3)), labels.tile((2,)), v.tile(1, 2, 1), i.tile(2)",
    "torch.Tensor.broadcast_to": "return v.broadcast_to((3, 4)), x1.broadcast_to((2, 3, -1)), c3.broadcast_to(2, 4, 3), labels.broadcast_to([2, 9])",
    "torch.Tensor.repeat_interleave": ("return m.repeat_interleave(2, dim=1), m.repeat_interleave(2), m.repeat_interleave(reps, dim=0), "
                                       "x.repeat_interleave(repeats=3, dim=-1), labels.repeat_interleave(2), i.repeat_interleave(reps[0]), "
                                       "(m > 0).repeat_interleave(2, dim=1)"),
    "torch.Tensor.swapaxes": "return x.swapaxes(0, 2), m.swapaxes(1, 0), x.swapaxes(axis0=-1, axis1=1)",
    "torch.Tensor.unbind": "return x.unbind(1), m.unbind(), x.unbind(dim=-1)",
    "torch.Tensor.unique": ("return (labels.unique(), labels.unique(return_inverse=True, return_counts=True), "
                            "imat.unique(sorted=False, return_counts=True), imat.unique(True, True), fr.unique(return_inverse=True), "
                            "rows01.unique(dim=0, return_inverse=True, return_counts=True), rows01.unique(dim=1))"),
    "torch.Tensor.scatter": ("order = torch.argsort(f, dim=1)[:, :2]\n"
                             "    return m.scatter(1, order, f), m.scatter(1, order, -2.0), m.scatter(dim=1, index=order, src=f * 2)"),
    "torch.Tensor.scatter_add": "return m.scatter_add(1, gidx, f), m.scatter_add(0, gidx[:2] % 3, f), m.scatter_add(dim=1, index=gidx, src=f)",
    "torch.Tensor.bincount": ("return (labels.bincount(), labels.bincount(weights=wts), labels.bincount(wts.double(), 9), "
                              "labels.int().bincount(minlength=2), labels[:0].bincount(minlength=3))"),
    "torch.Tensor.where": ("return x.where(y > 0, y), x.where(y > 0, 0.0), m.where(b, f[:1]), i.where(b, j), "
                           "x.where(y > 0, other=pos), i.where(c, 0), x.where(y > 0, y[0])"),
}

#: under mindspore.jit, cases whose body differs (a tensor of repeats does not compile there, as the note says)
JIT_CASES = {
    "torch.Tensor.repeat_interleave": ("return m.repeat_interleave(2, dim=1), m.repeat_interleave(2), "
                                       "x.repeat_interleave(repeats=3, dim=-1), labels.repeat_interleave(2), (x < 0).repeat_interleave(2)"),
}
#: not compiled with mindspore.jit: bincount reads its size from the data (its note says PyNative only)
NOT_JITTED = {"torch.Tensor.bincount"}


def _source(body: str) -> tuple[str, list[str]]:
    return case_source(body, INPUTS, HEADER)


def _inputs(key, used):
    return drawn_inputs(key, used, INPUTS)


pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)


def _convert(key, body, tmp_path, monkeypatch, tag="methcase"):
    """The case converted, as an importable module: mindspore.jit needs the source of f."""
    source, used = _source(body)
    return source, used, converted_f(source, key, f"{tag}_{zlib.crc32(key.encode())}", tmp_path, monkeypatch)


def test_every_entry_of_this_section_has_a_case():
    section = set(section_keys(SECTION))
    assert section and section == set(CASES), sorted(section ^ set(CASES))
    assert all(SPEC.get(k).tolerance is not None for k in CASES)
    assert all(not k.endswith("_") for k in section)  # in-place forms live in their own section


@pytest.mark.parametrize("key", sorted(CASES))
def test_converted_code_matches_torch(key, tmp_path, monkeypatch):
    source, used, f = _convert(key, CASES[key], tmp_path, monkeypatch)
    inputs = _inputs(key, used)
    got, want = run_both(source, f, inputs)
    _compare(got, want, SPEC.get(key).tolerance)


@pytest.mark.parametrize("key", sorted(set(CASES) - NOT_JITTED))
def test_converted_code_runs_the_same_under_jit(key, tmp_path, monkeypatch):
    """graph_mode puts converted code inside mindspore.jit: each target and helper must compile
    there and give what it gives in PyNative."""
    _, used, f = _convert(key, JIT_CASES.get(key, CASES[key]), tmp_path, monkeypatch, "methjit")
    inputs = _inputs(key, used)
    got, want = run_jit(f, inputs)
    _compare(got, want, max(SPEC.get(key).tolerance, 1e-6))


@pytest.mark.parametrize("body", ["return x.floor()", "return x.ceil()", "return x.sin()", "return x.isinf()",
                                  "return x.narrow(0, -1, 1)",
                                  "return x.double().lerp(x.double(), 0.5)",
                                  "return (x > 0).square()"])
def test_forms_the_notes_call_refused_fail_loudly(body):
    """What the notes say MindSpore 2.10 refuses (an integer floor/ceil/sin/isinf, a negative
    narrow start, a float64 lerp, a bool square) raises there, rather than computing something else."""
    source = f"import torch\ndef f(x: torch.Tensor):\n    {body}\n"
    converted = convert_source(source, SPEC, "case.py")
    assert not [s for s in converted.sites if s.kind not in ("converted", "graph", "pynative")], converted.code
    namespace: dict = {}
    exec(compile(converted.code, "<converted>", "exec"), namespace)
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        namespace["f"](mindspore.Tensor(np.arange(-3, 3).reshape(2, 3)))


@pytest.mark.parametrize("call", ["x.flip(dims)", "x.tile(dims)", "x.broadcast_to(dims)"])
def test_a_lone_non_literal_dims_is_reported_uncertain(call):
    """x.flip(d): an int or a sequence?  The site is left for a person, not guessed."""
    source = f"import torch\ndef f(x: torch.Tensor, dims):\n    return {call}\n"
    converted = convert_source(source, SPEC, "case.py")
    assert [s.kind for s in converted.sites if s.kind not in ("converted", "graph", "pynative")] == ["uncertain"], converted.code


@pytest.mark.parametrize("call", ["x.scatter(1, idx, value=2.0)", "x.broadcast_to(size=(2, 3))", "x.addcmul(a, b, alpha=2)",
                                  "x.where(condition=a > 0, other=b)"])
def test_keywords_the_entries_do_not_declare_are_reported(call):
    source = f"import torch\ndef f(x: torch.Tensor, idx: torch.Tensor, a: torch.Tensor, b: torch.Tensor):\n    return {call}\n"
    converted = convert_source(source, SPEC, "case.py")
    assert [s.kind for s in converted.sites if s.kind not in ("converted", "graph", "pynative")] == ["unsupported"], converted.code
