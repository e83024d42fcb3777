"""The "shapes, indexing and creation" entries compute what torch computes.

Like tests/test_migrate_numeric_functions.py: each case is a small torch function, converted
with the real table; both run on the same random input and must agree within the entry's
``tolerance`` (values and dtypes: the int64 results of nonzero, unique, searchsorted, bincount
and trace included), in PyNative and under mindspore.jit too (bincount, whose size is read from the
data, in PyNative only).  Each case passes the arguments positionally and by keyword and
leaves defaults out, so that a wrongly mapped argument or default fails it.  The random
entries (randperm, normal, empty_like) are checked for shape, dtype and statistics.
"""

from __future__ import annotations

import importlib
import zlib

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec
from test_migrate_numeric import _compare, _numpy, case_source, converted_f, run_both, run_jit, section_keys

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

SPEC = load_spec()
HEADER = "import numpy as np\nimport torch\n\n"


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


def _ints(low, high, *shape):
    return lambda rng: rng.integers(low, high, shape).astype(np.int64)


# input name -> how to draw it
INPUTS = {
    "x": _normal(3, 4),
    "y": _normal(3, 4),
    "x1": _normal(1, 4),
    "x3": _normal(2, 3, 4),
    "sq": _normal(4, 4),
    "v": _normal(4),
    "v2": _normal(4),
    "a3": _normal(3),
    "u3": _normal(4, 3),
    "w3": _normal(4, 3),
    "c3": _normal(1, 3),
    "bm": _normal(2, 3, 3),
    "wts": _normal(9),
    "pos": lambda rng: np.abs(rng.standard_normal((3, 4))).astype(np.float32) + 0.1,
    "wc": lambda rng: (rng.standard_normal((4, 4)) + 4 * np.eye(4)).astype(np.float32),  # well conditioned
    "wcb": lambda rng: (rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)).astype(np.float32),
    "srt": lambda rng: np.sort(rng.standard_normal((3, 5)), axis=1).astype(np.float32),
    "vals": _normal(3, 2),
    "fr": lambda rng: rng.integers(-2, 3, (3, 4)).astype(np.float32),  # floats that repeat
    "nanv": lambda rng: np.array([np.nan, 1.0, np.inf, -np.inf, 2.0], np.float32),
    "labels": _ints(0, 5, 9),
    "imat": _ints(0, 5, 3, 4),
    "rows01": _ints(0, 2, 7, 3),
    "tidx": _ints(-12, 12, 2, 3),
    "reps": _ints(0, 3, 3),
    "gidx": _ints(0, 4, 3, 4),
}

# torch name -> body of `def f(<inputs used>)`
CASES = {
    "torch.chunk": "return torch.chunk(x, 2, dim=1), torch.chunk(x3, 3), torch.chunk(x, 3, 0), torch.chunk(x, chunks=4, dim=-1)",
    "torch.clone": "return torch.clone(x), torch.clone(labels)",
    "torch.flip": "return torch.flip(x3, (0, 2)), torch.flip(x, dims=[1]), torch.flip(labels, [0])",
    "torch.fliplr": "return torch.fliplr(x), torch.fliplr(x3)",
    "torch.roll": ("return (torch.roll(x3, 2, 1), torch.roll(x3, 5), torch.roll(x3, shifts=(1, -2), dims=(0, 2)), "
                   "torch.roll(x, -7, -1), torch.roll(labels, shifts=3))"),
    "torch.tril": "return torch.tril(x), torch.tril(x3, -1), torch.tril(sq, diagonal=2), torch.tril(imat)",
    "torch.triu": "return torch.triu(x), torch.triu(x3, 1), torch.triu(sq, diagonal=-2), torch.triu(imat, 1)",
    "torch.diagonal": ("return torch.diagonal(sq), torch.diagonal(x, 1), torch.diagonal(x3, -1, dim1=1, dim2=2), "
                       "torch.diagonal(x3, 0, 0, 2), torch.diagonal(x, offset=-1)"),
    "torch.diag_embed": "return torch.diag_embed(x), torch.diag_embed(v, 1), torch.diag_embed(x, -1, 0, 2), torch.diag_embed(x, dim1=0, dim2=1)",
    "torch.trace": "return torch.trace(x), torch.trace(sq), torch.trace(imat), torch.trace(imat.int())",
    "torch.t": "return torch.t(x), torch.t(v)",
    "torch.tile": "return torch.tile(x, (2, 1)), torch.tile(x3, (2,)), torch.tile(v, dims=(2, 3)), torch.tile(x, [2, 1])",
    "torch.broadcast_to": "return torch.broadcast_to(v, (3, 4)), torch.broadcast_to(x1, (2, 3, -1))",
    "torch.masked_fill": ("return (torch.masked_fill(x, x > 0, -1.5), torch.masked_fill(x3, y > 0.5, 2), "
                          "torch.masked_fill(x, y < 0, float('-inf')), torch.masked_fill(imat, imat > 2, -1), "
                          "torch.masked_fill(x, mask=y > 0, value=torch.tensor(3.0)))"),
    "torch.masked_select": "return torch.masked_select(x, x > 0), torch.masked_select(x3, y > 0), torch.masked_select(labels, labels > 2)",
    "torch.nonzero": ("return (torch.nonzero(x > 0), torch.nonzero(x3 > 0.5, as_tuple=True), torch.nonzero(v), "
                      "torch.nonzero(v > 9), torch.nonzero(v > 9, as_tuple=True), torch.nonzero(pos[0, 0]), "
                      "torch.nonzero(pos[0, 0], as_tuple=True))"),
    "torch.take": "return torch.take(x, tidx), torch.take(x3, tidx[0]), torch.take(labels, tidx % 9)",
    "torch.unbind": "return torch.unbind(x3, 1), torch.unbind(x), torch.unbind(x3, dim=-1)",
    "torch.unique": ("return (torch.unique(labels), torch.unique(labels, return_inverse=True, return_counts=True), "
                     "torch.unique(imat, sorted=False, return_counts=True), torch.unique(imat, True, True), "
                     "torch.unique(fr, return_inverse=True), torch.unique(rows01, dim=0, return_inverse=True, return_counts=True), "
                     "torch.unique(rows01, dim=1), torch.unique(rows01.t(), return_counts=True, dim=-1))"),
    "torch.repeat_interleave": ("return torch.repeat_interleave(x, 2, dim=1), torch.repeat_interleave(x, 2), "
                                "torch.repeat_interleave(x, reps, dim=0), torch.repeat_interleave(x3, repeats=3, dim=-1), "
                                "torch.repeat_interleave(x > 0, 2, dim=1)"),
    "torch.meshgrid": ("return (torch.meshgrid(a3, v), torch.meshgrid([a3, v]), torch.meshgrid(a3, v, indexing='xy'), "
                       "torch.meshgrid(a3, v, v2, indexing='ij'), torch.meshgrid((v, a3), indexing='xy'))"),
    "torch.hstack": "return torch.hstack([x, y]), torch.hstack((v, v2)), torch.hstack([x3, x3])",
    "torch.vstack": "return torch.vstack([x, v]), torch.vstack((v, v2)), torch.vstack(tensors=[x3, x3])",
    "torch.dstack": "return torch.dstack([x, y]), torch.dstack([v, v2])",
    "torch.outer": "return torch.outer(v, a3), torch.outer(labels, labels), torch.outer(a3, vec2=v)",
    "torch.kron": "return torch.kron(x, sq[:2, :3]), torch.kron(v, x), torch.kron(imat, imat[:2, :2])",
    "torch.dot": "return torch.dot(v, v2), torch.dot(labels, labels), torch.dot(v, tensor=v2)",
    "torch.mv": "return torch.mv(x, v), torch.mv(sq, vec=v2)",
    "torch.addmm": "return torch.addmm(v, x.t(), x), torch.addmm(sq, x.t(), x, beta=0.5, alpha=-2.0), torch.addmm(sq, sq, sq, alpha=0.5)",
    "torch.baddbmm": ("return torch.baddbmm(bm, x3, x3.transpose(1, 2)), "
                      "torch.baddbmm(a3, x3, x3.transpose(1, 2), beta=0.5, alpha=-1.5), torch.baddbmm(bm, bm, bm, alpha=2.0)"),
    "torch.tensordot": ("return torch.tensordot(x3, x, dims=([1, 2], [0, 1])), torch.tensordot(x3, sq, 1), "
                        "torch.tensordot(x3, x), torch.tensordot(v, v2, 0), torch.tensordot(x3, u3, dims=([1], [1]))"),
    "torch.cross": ("return torch.cross(u3, w3, dim=1), torch.cross(u3, w3), torch.cross(u3, c3, dim=-1), "
                    "torch.cross(sq[:3, :3], sq[1:, 1:]), torch.cross(u3.t(), w3.t(), 0)"),
    "torch.cartesian_prod": "return torch.cartesian_prod(a3, v), torch.cartesian_prod(a3), torch.cartesian_prod(a3, v, a3)",
    "torch.searchsorted": ("return (torch.searchsorted(srt, vals), torch.searchsorted(srt[0], x, right=True), "
                           "torch.searchsorted(srt, vals, side='right'), torch.searchsorted(srt[0], 0.5), "
                           "torch.searchsorted(srt[0], vals, out_int32=True), torch.searchsorted(v, x, sorter=torch.argsort(v)))"),
    "torch.bincount": ("return (torch.bincount(labels), torch.bincount(labels, weights=wts), torch.bincount(labels, wts.double(), 9), "
                       "torch.bincount(labels.int(), minlength=2), torch.bincount(labels[:0], minlength=3))"),
    "torch.isin": "return torch.isin(labels, labels[:3]), torch.isin(imat, labels, invert=True), torch.isin(labels, 3)",
    "torch.isclose": ("return (torch.isclose(x, x + 1e-6 * y), torch.isclose(x, y, rtol=0.5, atol=0.1), torch.isclose(nanv, nanv), "
                      "torch.isclose(nanv, nanv, equal_nan=True), torch.isclose(x, x + 1e-4, 0.0, 2e-4))"),
    "torch.allclose": ("return (torch.allclose(x, x + 1e-7 * y), torch.allclose(x, x + 1e-3 * y), "
                       "torch.allclose(x, x + 1e-3 * y, atol=1e-2), torch.allclose(nanv, nanv), torch.allclose(nanv, nanv, equal_nan=True))"),
    "torch.equal": "return torch.equal(x, torch.clone(x)), torch.equal(x, y), torch.equal(x, x1), torch.equal(labels, labels)",
    "torch.full": ("return (torch.full((2, 3), 1.5), torch.full([2, 3], 7), torch.full((2,), True), "
                   "torch.full((2,), 7, dtype=torch.float64), torch.full(size=(3,), fill_value=-1, dtype=torch.long))"),
    "torch.scatter": ("order = torch.argsort(y, dim=1)[:, :2]\n"
                      "    return torch.scatter(x, 1, order, y), torch.scatter(x, 1, order, -2.0), torch.scatter(x, dim=1, index=order, src=y * 2)"),
    "torch.scatter_add": "return torch.scatter_add(x, 1, gidx, y), torch.scatter_add(x, 0, gidx[:2] % 3, y), torch.scatter_add(x, dim=1, index=gidx, src=y)",
    "torch.inverse": "return torch.inverse(wc), torch.inverse(wcb)",
    "torch.dist": ("return (torch.dist(x, y), torch.dist(x, v, 1), torch.dist(x, y, p=float('inf')), torch.dist(x, y, 0), "
                   "torch.dist(x, y, 3.5), torch.dist(x, y, float('-inf')), torch.dist(x, y, 2.0))"),
    "torch.Tensor.addmm": "return sq.addmm(x.t(), x), v.addmm(x.t(), x, beta=0.5, alpha=2.0), sq.addmm(mat1=sq, mat2=wc)",
    "torch.Tensor.nonzero": "m = x > 0\n    n = x3 > 0\n    return m.nonzero(), n.nonzero(as_tuple=True), v.nonzero()",
    "torch.Tensor.byte": "return (pos * 10).byte(), imat.byte(), (x > 0).byte()",
    "torch.diff": ("return (torch.diff(x3), torch.diff(x3, 2, 1), torch.diff(x, dim=0, prepend=x1, append=y[:2]), "
                   "torch.diff(imat), torch.diff(x > 0), torch.diff(x3, n=3), torch.diff(input=rows01 > 0, n=2, dim=0))"),
    "torch.rot90": "return torch.rot90(x3), torch.rot90(x3, 3, [1, 2]), torch.rot90(x, -1), torch.rot90(x3, k=2, dims=(2, 0)), torch.rot90(imat, 5)",
    "torch.bucketize": ("return (torch.bucketize(fr, srt[0]), torch.bucketize(fr / 2, fr[0].unique()), "
                        "torch.bucketize(fr / 2, fr[0].unique(), right=True), torch.bucketize(x, srt[1], out_int32=True), "
                        "torch.bucketize(input=x3, boundaries=srt[2], right=False))"),
    "torch.take_along_dim": ("return (torch.take_along_dim(x, gidx, 1), torch.take_along_dim(x3, torch.argsort(x3, 2), dim=2), "
                             "torch.take_along_dim(x, gidx[:1] % 3, 0), torch.take_along_dim(x, labels), torch.take_along_dim(x3, gidx[None, :, :2] % 2, 2))"),
}

#: under mindspore.jit, cases whose body differs (a tensor of repeats does not compile there)
JIT_CASES = {
    "torch.repeat_interleave": ("return torch.repeat_interleave(x, 2, dim=1), torch.repeat_interleave(x, 2), "
                                "torch.repeat_interleave(x, [1, 0, 2], dim=0), torch.repeat_interleave(x > 0, 3, 0)"),
}
#: not compiled with mindspore.jit: bincount reads its size from the data (int(input.max()) fails there)
NOT_JITTED = {"torch.bincount"}

SECTION = "# ---------------------------------------------------------------- shapes, indexing and creation"
RANDOM_ENTRIES = {"torch.randperm", "torch.normal", "torch.empty_like"}


def _section_keys() -> set:
    return set(section_keys(SECTION))


def _source(body: str) -> tuple[str, list[str]]:
    return case_source(body, INPUTS, HEADER)


def _inputs(key, used):
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return {n: INPUTS[n](rng) for n in used}


pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)


def _module(code: str, name: str, tmp_path, monkeypatch):
    (tmp_path / f"{name}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def _convert(key, tmp_path, monkeypatch, body=None):
    """The case converted, as an importable module: mindspore.jit needs the source of f."""
    source, used = _source(body or CASES[key])
    return source, used, converted_f(source, key, f"shapecase_{zlib.crc32(source.encode())}", tmp_path, monkeypatch)


def test_every_entry_of_this_section_is_checked():
    keys = _section_keys()
    assert len(keys) > 40
    deterministic = {k for k in keys if SPEC.get(k).tolerance is not None}
    assert deterministic == set(CASES), (deterministic ^ set(CASES))
    assert keys - deterministic == RANDOM_ENTRIES


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.meshgrid without indexing, torch.cross without dim
@pytest.mark.parametrize("key", sorted(CASES))
def test_converted_code_matches_torch(key, tmp_path, monkeypatch):
    source, used, f = _convert(key, tmp_path, monkeypatch)
    inputs = _inputs(key, used)
    got, want = run_both(source, f, inputs)
    _compare(got, want, SPEC.get(key).tolerance)


@pytest.mark.parametrize("key", sorted(set(CASES) - NOT_JITTED))
def test_converted_code_runs_the_same_under_jit(key, tmp_path, monkeypatch):
    """graph_mode puts converted code inside mindspore.jit: each target and helper must compile
    there and give what it gives in PyNative."""
    _, used, f = _convert(key, tmp_path, monkeypatch, JIT_CASES.get(key))
    inputs = _inputs(key, used)
    got, want = run_jit(f, inputs)
    _compare(got, want, max(SPEC.get(key).tolerance, 1e-6))


def test_the_measured_mindspore_differences_still_hold():
    """Why the helpers: if MindSpore changes these, the entries may go back to plain targets."""
    ops = mindspore.ops
    assert ops.full((2,), 1.5).dtype == mindspore.int64  # torch.full: float32 1.5
    assert ops.meshgrid(mindspore.Tensor(np.zeros(3, np.float32)), mindspore.Tensor(np.zeros(4, np.float32)))[0].shape == (4, 3)
    assert ops.cartesian_prod(mindspore.Tensor(np.zeros(3, np.float32))).shape == (3, 1)
    assert ops.bincount(mindspore.Tensor(np.array([0, 2]))).dtype == mindspore.float32
    first, second = ops.randperm(8).asnumpy(), ops.randperm(8).asnumpy()
    np.testing.assert_array_equal(first, second)  # the same "random" permutation every call
    assert ops.trace(mindspore.Tensor(np.ones((2, 2), np.int32))).dtype == mindspore.int32
    u = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((1, 3)).astype(np.float32)
    broadcast = ops.cross(mindspore.Tensor(u), mindspore.Tensor(w), dim=-1).asnumpy()
    assert not np.allclose(broadcast, np.cross(u, w), atol=1e-3)
    with pytest.raises(RuntimeError):
        ops.roll(mindspore.Tensor(u), 1, 0).asnumpy()


# --------------------------------------------------------------------------
# random entries: shapes, dtypes and statistics (MindSpore draws from another stream than torch)

RANDOM = """\
import torch
def f(mu: torch.Tensor, sigma: torch.Tensor, x: torch.Tensor):
    return (torch.randperm(50), torch.randperm(50), torch.randperm(7, dtype=torch.int32),
            torch.normal(mu, sigma), torch.normal(mu, 2.0), torch.normal(1.0, sigma), torch.normal(0.5, 0.1, size=(40, 50)),
            torch.normal(mu, sigma[:1]), torch.empty_like(x), torch.empty_like(x, dtype=torch.float64))
"""


@pytest.mark.parametrize("jit", [False, True])
def test_random_entries_keep_torchs_shapes_dtypes_and_statistics(jit, tmp_path, monkeypatch):
    converted = convert_source(RANDOM, SPEC, "case.py")
    assert not [s for s in converted.sites if s.kind not in ("converted", "graph", "pynative")], converted.code
    assert "torch" not in converted.code.replace("_torch_compat", ""), converted.code
    f = _module(converted.code, f"shaperand_{int(jit)}", tmp_path, monkeypatch).f
    mu = np.full((2000,), 3.0, np.float64)
    sigma = np.full((2000,), 2.0, np.float64)
    x = np.zeros((3, 4), np.float32)
    namespace: dict = {}
    exec(compile(RANDOM, "<torch>", "exec"), namespace)
    want = _numpy(namespace["f"](torch.from_numpy(mu), torch.from_numpy(sigma), torch.from_numpy(x)))
    run = mindspore.jit(f) if jit else f
    got = _numpy(run(mindspore.Tensor(mu), mindspore.Tensor(sigma), mindspore.Tensor(x)))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
    perm, other, small = got[:3]
    assert sorted(perm) == list(range(50)) and sorted(small) == list(range(7))
    if not jit:  # ops.randperm would repeat itself
        assert not np.array_equal(perm, other)
    # under mindspore.jit the two draws of one graph came out equal once, in the full suite after
    # other tests had set seeds (not reproduced alone): torch.randperm's note says so
    for draw, mean, std in zip(got[3:8], (3.0, 3.0, 1.0, 0.5, 3.0), (2.0, 2.0, 2.0, 0.1, 2.0)):
        assert abs(draw.mean() - mean) < 4 * std / np.sqrt(draw.size) + 1e-3, (draw.mean(), mean)
        assert abs(draw.std() / std - 1) < 0.08, (draw.std(), std)
    assert not got[8].any() and not got[9].any()


def test_randperm_follows_the_seed(compat):
    mindspore.set_seed(5)
    first = compat.randperm(20).asnumpy()
    mindspore.set_seed(5)
    np.testing.assert_array_equal(compat.randperm(20).asnumpy(), first)


# --------------------------------------------------------------------------
# the helpers' wider forms, against torch directly


def test_unique_helper_matches_torch_on_many_draws(compat):
    rng = np.random.default_rng(12)
    for trial in range(12):
        shape = [(20,), (5, 6), (8, 3), (2, 6, 2)][trial % 4]
        data = rng.integers(-2, 3, shape)
        floats = (data * 0.5).astype(np.float32)
        for array in (data, floats):
            want = torch.unique(torch.from_numpy(array), return_inverse=True, return_counts=True)
            got = compat.unique(mindspore.Tensor(array), return_inverse=True, return_counts=True)
            _compare(_numpy(got), _numpy(want), 0.0)
            for dim in range(-1, array.ndim):
                want = torch.unique(torch.from_numpy(array), dim=dim, return_inverse=True, return_counts=True)
                got = compat.unique(mindspore.Tensor(array), dim=dim, return_inverse=True, return_counts=True)
                _compare(_numpy(got), _numpy(want), 0.0, path=f"dim={dim} {array.dtype}")


def test_roll_and_take_helpers_match_torch(compat):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    for shifts, dims in [(1, 0), (-1, 2), (13, None), (-13, None), ((1, 2, 3), (0, 1, 2)), ((4, -4), (1, 1)), (0, 1),
                         ([2], [-1])]:
        want = torch.roll(torch.from_numpy(x), shifts, dims).numpy()
        np.testing.assert_array_equal(compat.roll(mindspore.Tensor(x), shifts, dims).asnumpy(), want, err_msg=str((shifts, dims)))
    index = rng.integers(-60, 60, (4, 7))
    np.testing.assert_array_equal(compat.take(mindspore.Tensor(x), mindspore.Tensor(index)).asnumpy(),
                                  torch.take(torch.from_numpy(x), torch.from_numpy(index)).numpy())


def test_bincount_and_searchsorted_helpers_match_torch(compat):
    rng = np.random.default_rng(14)
    for n, bins, minlength in [(30, 4, 0), (5, 9, 3), (1, 1, 0), (40, 3, 10)]:
        data = rng.integers(0, bins, n)
        weights = rng.standard_normal(n)
        for w in (None, weights.astype(np.float32), weights, rng.integers(0, 5, n)):
            want = torch.bincount(torch.from_numpy(data), None if w is None else torch.from_numpy(w), minlength)
            got = compat.bincount(mindspore.Tensor(data), None if w is None else mindspore.Tensor(w), minlength)
            _compare(_numpy(got), _numpy(want), 1e-12 if w is not None and w.dtype == np.float64 else 1e-6)
    sequence = np.sort(rng.integers(0, 6, (2, 9)), axis=1).astype(np.float32)  # ties
    values = rng.integers(-1, 7, (2, 5)).astype(np.float32)
    for kwargs in [{}, dict(right=True), dict(side="left"), dict(side="right"), dict(out_int32=True)]:
        want = torch.searchsorted(torch.from_numpy(sequence), torch.from_numpy(values), **kwargs)
        got = compat.searchsorted(mindspore.Tensor(sequence), mindspore.Tensor(values), **kwargs)
        _compare(_numpy(got), _numpy(want), 0.0, path=str(kwargs))
