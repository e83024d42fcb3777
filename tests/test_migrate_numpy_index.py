"""numpy values inside tensor subscripts (migrate/transforms/numpy_index.py): converted code
reads and writes the same elements as torch."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")
from test_migrate_numeric import both_versions  # noqa: E402  (needs torch and mindspore)

pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)

SOURCE = textwrap.dedent('''\
    from collections import OrderedDict

    import numpy as np
    import torch


    def spans():
        features = OrderedDict()
        features["a"] = (0, 2)
        features["b"] = (2, 5)
        return features


    def lookup(X, features, name):
        """DeepCTR-Torch's embedding_lookup: a column span read through a numpy array."""
        lookup_idx = np.array(features[name])
        return X[:, lookup_idx[0]:lookup_idx[1]]


    def pick(x: torch.Tensor, seed: int):
        rng = np.random.RandomState(seed)
        perm = rng.permutation(x.shape[0])
        mask = perm % 2 == 0
        best = np.argmax(perm)
        out = x.clone()
        out[perm[:2]] = -1.0
        out[mask, 1:3] = 5.0
        pairs = np.where(np.eye(6, 7) > 0)
        return x[perm], x[:, best], x[mask], x[best:best + 2], out, x[perm[0]], x[pairs], x[np.nonzero(mask)]


    def run(x: torch.Tensor):
        features = spans()
        return [lookup(x, features, "a"), lookup(x, features, "b")] + list(pick(x, 0))
''')


def test_numpy_slice_bounds_and_indices_read_and_write_as_torchs(tmp_path, monkeypatch):
    code, ms_mod, t_mod = both_versions(SOURCE, "numpy_index_case", tmp_path, monkeypatch)
    assert "X[:, int(lookup_idx[0]):int(lookup_idx[1])]" in code
    assert "out[numpy_index(perm[:2])] = -1.0" in code and "x[numpy_index(perm)]" in code
    assert "x[numpy_index(pairs)]" in code  # np.where's tuple: one index per axis, as torch reads it
    x = np.arange(42, dtype=np.float32).reshape(6, 7)
    got = ms_mod.run(mindspore.Tensor(x))
    want = t_mod["run"](torch.from_numpy(x))
    assert len(got) == len(want) == 10
    for i, (g, w) in enumerate(zip(got, want)):
        assert tuple(g.shape) == tuple(w.shape), i
        np.testing.assert_array_equal(g.asnumpy(), w.numpy(), err_msg=str(i))


def test_mindspore_still_refuses_numpy_indices():
    """The reason for the rewrite: a MindSpore that takes numpy indices makes it unnecessary."""
    x = mindspore.Tensor(np.zeros((3, 4), np.float32))
    with pytest.raises((RuntimeError, TypeError, IndexError)):
        x[:, np.int64(0):np.int64(2)]
    with pytest.raises((RuntimeError, TypeError, IndexError)):
        x[np.array([0, 2])]
