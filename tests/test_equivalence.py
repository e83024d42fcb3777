"""The equivalence harness: the migrated model equals the reference, and a wrong rule is caught."""
import sys
from pathlib import Path

import pytest

from migrate.__main__ import main as migrate_main
from migrate.verify import main as verify_main, run, write_report

ROOT = Path(__file__).resolve().parents[1]

WRONG_LEAKY_RELU = """\
torch.nn.LeakyReLU:
  target: mindspore.nn.LeakyReLU
  args: [negative_slope, inplace]
  drop: [negative_slope, inplace]
  note: deliberately wrong for the test - drops the slope, so MindSpore's default 0.2 is used
  example: {before: "import torch.nn as nn\\nact = nn.LeakyReLU(0.1)\\n", after: "from mindspore import nn\\n\\nact = nn.LeakyReLU()\\n"}
"""


@pytest.mark.slow
def test_migrated_mindspore_matches_the_reference_step_by_step(tmp_path):
    """>= 20 meta-train users, 2 global steps, then evaluation: every loss within 1e-5,
    every gradient and memory within 1e-4 (local parameters within 1e-3 in float32, see
    verify.PARAM_RTOL_FLOAT32), identical metrics; and the same run in float64 within 1e-5 /
    1e-4 everywhere, where rounding cannot hide a semantic difference."""
    result = run(users=20, meta_batch=10, test_users=8, embedding_dim=16)
    assert result.config["users_per_epoch"] >= 20
    assert sum(r.key.startswith("global ") and r.key.endswith("grad[00]") for r in result.rows) == 2
    assert not result.missing
    bad = [(r.key, r.max_rel) for r in result.rows if not r.ok]
    assert not bad, bad[:5]
    assert not result.metric_diffs
    assert result.torch_trace.metrics["overall"]["n_pairs"] == 8 * 5
    result.float64 = run(users=20, meta_batch=10, test_users=8, embedding_dim=16, dtype="float64")
    assert result.float64.ok, [(r.key, r.max_rel) for r in result.float64.rows if not r.ok][:5]
    assert max(r.max_rel for r in result.float64.rows) < 1e-5
    report = write_report(result, tmp_path / "report")
    text = report.read_text()
    assert "**PASS**" in text and (tmp_path / "report" / "verify.png").stat().st_size > 10_000


@pytest.fixture
def wrong_package(tmp_path, monkeypatch):
    """The reference migrated with a LeakyReLU rule that loses the slope."""
    extra = tmp_path / "wrong.yaml"
    extra.write_text(WRONG_LEAKY_RELU)
    out = tmp_path / "pkgs" / "mamo_wrong_leaky"
    assert migrate_main([str(ROOT / "reference_torch"), str(out), "--map", str(extra)]) == 0
    assert "nn.LeakyReLU()" in (out / "model.py").read_text()
    monkeypatch.syspath_prepend(str(out.parent))
    yield "mamo_wrong_leaky"
    for name in [m for m in sys.modules if m.startswith("mamo_wrong_leaky")]:
        del sys.modules[name]


def test_harness_fails_at_the_first_loss_when_a_rule_is_wrong(wrong_package, tmp_path, capsys):
    code = verify_main(["--mindspore-package", wrong_package, "--users", "2", "--meta-batch", "2",
                        "--test-users", "2", "--embedding-dim", "8", "--out", str(tmp_path / "report")])
    assert code == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "first divergence: user 000 step 1 loss" in out
    assert "First divergence:** `user 000 step 1 loss`" in (tmp_path / "report" / "verify.md").read_text()


@pytest.mark.slow
def test_float64_run_shrinks_the_differences():
    """In float64 the losses agree to ~1e-8 (float32: ~1e-6): what is left is a Python float a
    compiled graph takes (the memory read's tao) being a float32 constant there, amplified by
    Adam, not a difference in what is computed."""
    f32 = run(users=4, meta_batch=2, test_users=4, embedding_dim=8)
    f64 = run(users=4, meta_batch=2, test_users=4, embedding_dim=8, dtype="float64")
    assert f32.ok and f64.ok
    losses32 = max(r.max_rel for r in f32.rows if r.key.endswith("loss"))
    losses64 = max(r.max_rel for r in f64.rows if r.key.endswith("loss"))
    assert losses64 < 1e-7 and losses64 < losses32 / 5, (losses32, losses64)
    assert f64.ms_trace.tensors["final model.rec_net.2.weight"].dtype.name == "float64"


def test_mindspore_leaky_relu_keeps_its_slope_in_float32():
    """MindSpore's own LeakyReLU keeps its slope in float32 (one reason the table maps LeakyReLU to
    the helper's, whose float64 slope is exact): documents it, and fails if MindSpore fixes it."""
    import mindspore
    import numpy as np

    x = np.linspace(-3, -1, 7)
    out = mindspore.nn.LeakyReLU(0.1)(mindspore.Tensor(x)).asnumpy()
    np.testing.assert_allclose(out, x * np.float32(0.1), rtol=0, atol=1e-15)
    assert np.max(np.abs(out - 0.1 * x)) > 1e-10
