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
    every parameter, gradient and memory within 1e-4, identical metrics."""
    result = run(users=20, meta_batch=10, test_users=8, embedding_dim=16)
    assert result.config["users_per_epoch"] >= 20
    assert sum(r.key.startswith("global ") and r.key.endswith("grad[00]") for r in result.rows) == 2
    assert not result.missing
    bad = [(r.key, r.max_rel) for r in result.rows if not r.ok]
    assert not bad, bad[:5]
    assert not result.metric_diffs
    assert result.torch_trace.metrics["overall"]["n_pairs"] == 8 * 5
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
