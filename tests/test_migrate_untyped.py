"""``untyped`` helpers: ``x.to(...)``/``.cuda()``/``.cpu()`` where the tool cannot tell what the
receiver or the argument is are converted to ``_torch_compat.to``/``cuda``/``cpu``, which decide
at run time.  Checked against torch on every kind of argument, and on an object that is not a
tensor (its own ``.to`` runs)."""

from __future__ import annotations

import importlib
import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

SPEC = load_spec()

SOURCE = textwrap.dedent("""\
    import torch


    class Box:
        def __init__(self):
            self.moved = None

        def to(self, where):
            self.moved = where
            return self


    def move(batch, target):
        return batch.to(target)


    def run(x, like, box):
        device = "cpu"
        return (move(x, device), move(x, torch.float64), move(x, like), move(x, float), x.cpu(),
                move(box, "somewhere").moved)
    """)


def test_untyped_to_cuda_cpu_decide_at_run_time_as_torch(compat, tmp_path, monkeypatch):
    out = convert_source(SOURCE, SPEC, "untyped_case.py")
    assert not [s for s in out.sites if s.kind != "converted"], out.code
    assert "to(batch, target)" in out.code and "cpu(x)" in out.code, out.code
    (tmp_path / "untyped_case_ms.py").write_text(out.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ms_mod = importlib.import_module("untyped_case_ms")
    t_mod: dict = {"__name__": "untyped_torch"}
    exec(compile(SOURCE, "<torch>", "exec"), t_mod)
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    like = np.zeros(2, np.int32)
    want = t_mod["run"](torch.from_numpy(x), torch.from_numpy(like), t_mod["Box"]())
    got = ms_mod.run(mindspore.Tensor(x), mindspore.Tensor(like), ms_mod.Box())
    assert got[5] == want[5] == "somewhere"  # someone else's .to runs unchanged
    dtypes = []
    for g, w in zip(got[:5], want[:5]):
        assert g.asnumpy().dtype == w.numpy().dtype
        np.testing.assert_array_equal(g.asnumpy(), w.numpy())
        dtypes.append(str(w.numpy().dtype))
    assert dtypes == ["float32", "float64", "int32", "float64", "float32"]


def test_casting_a_whole_cell_raises(compat):
    with pytest.raises(TypeError, match="whole Cell"):
        compat.to(mindspore.nn.Dense(2, 2), mindspore.float16)
    cell = mindspore.nn.Dense(2, 2)
    assert compat.to(cell, "cuda:0") is cell and compat.cuda(cell) is cell
