"""Small training scripts in the idioms research code uses (``tests/scripts/``), converted with the
real table and run side by side with torch from the same weights and data: the numbers each
returns (losses, metrics, learning rates) must be torch's.

Each of these scripts found, or guards, a conversion that was wrong at run time: a model held in a
trainer's ``self.model`` or called as ``model.encode(x)`` that never trained (its forward was moved
out of the differentiated closure), an optimizer built in the same block as its step
(UnboundLocalError), ``adj.to_sparse()`` left as it was, a sub-module named ``item`` that kept its
construct uncompiled, a ``zero_grad()`` that kept the step uncompiled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from migrate.codemod import convert_source  # noqa: E402
from migrate.weights import name_map, to_mindspore  # noqa: E402
from test_migrate_numeric import SPEC, load_converted  # noqa: E402  (needs torch and mindspore)

pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)

SCRIPTS = sorted(p for p in (Path(__file__).parent / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_a_converted_script_gives_torchs_numbers(compat, script, tmp_path, monkeypatch):
    source = script.read_text()
    out = convert_source(source, SPEC, script.name)
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    ms_mod = load_converted(out.code, f"script_{script.stem}_ms", tmp_path, monkeypatch)
    t_mod: dict = {"__name__": f"script_{script.stem}_torch"}
    exec(compile(source, str(script), "exec"), t_mod)

    torch.manual_seed(0)
    t_model = t_mod["build"]()
    state, _ = to_mindspore(t_model.state_dict(), name_map(t_model))  # BatchNorm's counter is dropped
    ms_model = ms_mod.build()
    compat.load_state_dict(ms_model, {k: mindspore.Tensor(np.array(v)) for k, v in state.items()})

    (tmp_path / "torch").mkdir()
    (tmp_path / "mindspore").mkdir()
    want = t_mod["run"](t_model, t_mod["data"](np.random.default_rng(0)), str(tmp_path / "torch"))
    got = ms_mod.run(ms_model, ms_mod.data(np.random.default_rng(0)), str(tmp_path / "mindspore"))
    assert len(got) == len(want)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=2e-5, atol=2e-6)
