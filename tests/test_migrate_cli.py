"""`python -m migrate SRC DST` end to end on temporary trees."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.__main__ import main

REPO = Path(__file__).resolve().parents[1]

MODEL = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x).view(-1)
"""

TRAIN = """\
import torch

from .model import Net


def run(batch):
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = batch.log_softmax(dim=1)
    return opt, out
"""

CLEAN = """\
import torch

x = torch.zeros(2, 3)
"""


def make_tree(root: Path, broken: bool = False) -> Path:
    src = root / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "model.py").write_text(MODEL)
    (src / "pkg" / "train.py").write_text(TRAIN)
    (src / "pkg" / "sub" / "clean.py").write_text(CLEAN)
    (src / "README.md").write_text("# docs\n")
    (src / "data.bin").write_bytes(bytes(range(256)))
    (src / "empty_dir").mkdir()
    if broken:
        (src / "pkg" / "broken.py").write_text("import torch\n\ndef f(:\n    pass\n")
    return src


def tree_digest(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def test_mirrors_tree_converts_python_and_copies_the_rest(tmp_path, capsys):
    src = make_tree(tmp_path)
    before = tree_digest(src)
    dst = tmp_path / "dst"
    code = run_cli(src, dst)
    out = capsys.readouterr().out
    assert code == 1  # batch.log_softmax has an untyped receiver
    assert tree_digest(src) == before, "SRC must never be written"
    files = set(tree_digest(dst))
    assert files == {
        "__init__.py", "pkg/__init__.py", "pkg/model.py", "pkg/train.py", "pkg/sub/clean.py",
        "README.md", "data.bin", "_torch_compat.py",
    }
    assert (dst / "empty_dir").is_dir()
    assert (dst / "data.bin").read_bytes() == bytes(range(256))
    model = (dst / "pkg" / "model.py").read_text()
    assert "class Net(nn.Cell):" in model and "def construct(self, x):" in model and "import torch" not in model and "torch." not in model.replace("_torch_compat", "")
    train = (dst / "pkg" / "train.py").read_text()
    assert "from .._torch_compat import Adam" in train
    assert "# MIGRATE(uncertain): torch.Tensor.log_softmax" in train
    assert "pkg/train.py:9:10: uncertain: torch.Tensor.log_softmax" in out
    assert "conversion rate" in out


def test_exit_zero_when_everything_converts(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(CLEAN)
    assert run_cli(src, tmp_path / "dst") == 0
    assert not (tmp_path / "dst" / "_torch_compat.py").exists(), "helper only when used"
    assert "call sites: 1 converted, 0 uncertain, 0 unsupported — conversion rate 100.0%" in capsys.readouterr().out


def test_parse_error_is_reported_and_the_rest_converts(tmp_path, capsys):
    src = make_tree(tmp_path, broken=True)
    dst = tmp_path / "dst"
    assert run_cli(src, dst) == 2
    out = capsys.readouterr().out
    assert "pkg/broken.py:3:6: syntax error" in out
    assert (dst / "pkg" / "broken.py").read_text() == (src / "pkg" / "broken.py").read_text()
    assert "nn.Cell" in (dst / "pkg" / "model.py").read_text()


def test_refuses_non_empty_dst_without_force(tmp_path, capsys):
    src = make_tree(tmp_path)
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("mine")
    assert run_cli(src, dst) == 2
    err = capsys.readouterr().err
    assert err.startswith("migrate: error: DST") and "--force" in err and "Traceback" not in err
    assert (dst / "keep.txt").read_text() == "mine"
    assert run_cli(src, dst, "--force") == 1
    assert not (dst / "keep.txt").exists() and (dst / "pkg" / "model.py").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dst.")], "temporary trees are cleaned up"


def test_refuses_dst_inside_src(tmp_path, capsys):
    src = make_tree(tmp_path)
    assert run_cli(src, src / "out") == 2
    assert "inside SRC" in capsys.readouterr().err
    assert not (src / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--report", "r.txt"], ".json or .md"),
        (["--map", "missing.yaml"], "no such file"),
    ],
)
def test_usage_errors(tmp_path, capsys, args, message):
    src = make_tree(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(src, tmp_path / "dst", *args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()


def test_missing_src(tmp_path, capsys):
    assert run_cli(tmp_path / "nope", tmp_path / "dst") == 2
    assert "does not exist" in capsys.readouterr().err


def test_report_json_and_markdown(tmp_path, capsys):
    src = make_tree(tmp_path)
    report = tmp_path / "report.json"
    run_cli(src, tmp_path / "dst", "--report", report)
    data = json.loads(report.read_text())
    assert data["summary"]["sites"]["uncertain"] == 1
    assert data["summary"]["files"]["copied"] == 2
    assert 0 < data["summary"]["conversion_rate"] < 1
    site = next(s for s in data["sites"] if s["kind"] == "uncertain")
    assert (site["path"], site["line"], site["rule"]) == ("pkg/train.py", 9, "torch.Tensor.log_softmax")
    assert any(r["rule"] == "torch.nn.Linear" and r["converted"] == 1 for r in data["rules"])
    md = tmp_path / "report.md"
    run_cli(src, tmp_path / "dst2", "--report", md)
    text = md.read_text()
    assert text.startswith("# Migration report")
    assert "| `pkg/train.py:9:10` | uncertain | `torch.Tensor.log_softmax` |" in text
    assert "## Per file" in text and "## Per API" in text


def test_diff_prints_unified_diff(tmp_path, capsys):
    src = make_tree(tmp_path)
    run_cli(src, tmp_path / "dst", "--diff")
    out = capsys.readouterr().out
    assert "--- a/pkg/model.py\n+++ b/pkg/model.py\n" in out
    assert "-class Net(nn.Module):\n+class Net(nn.Cell):\n" in out


def test_check_detects_staleness_without_writing(tmp_path, capsys):
    src = make_tree(tmp_path)
    dst = tmp_path / "dst"
    run_cli(src, dst)
    assert run_cli(src, dst, "--check") == 0
    assert "up to date" in capsys.readouterr().out
    (dst / "pkg" / "model.py").write_text("# edited by hand\n")
    before = tree_digest(dst)
    assert run_cli(src, dst, "--check") == 1
    assert "pkg/model.py" in capsys.readouterr().out
    assert tree_digest(dst) == before, "--check writes nothing"
    assert run_cli(src, tmp_path / "absent", "--check") == 2


def test_jobs_two_gives_the_same_output_as_jobs_one(tmp_path):
    src = make_tree(tmp_path)
    for i in range(6):
        (src / "pkg" / f"extra{i}.py").write_text(MODEL.replace("Net", f"Net{i}"))
    run_cli(src, tmp_path / "one", "--jobs", "1")
    run_cli(src, tmp_path / "two", "--jobs", "2")
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")


def test_running_on_its_own_output_changes_nothing(tmp_path, capsys):
    src = make_tree(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    run_cli(src, first)
    run_cli(first, second)
    assert tree_digest(first) == tree_digest(second)


def test_extra_map_is_applied(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("import torch\ny = torch.erf(x)\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "torch.erf:\n  target: mindspore.ops.erf\n  args: [input]\n"
        "  example: {before: \"import torch\\ny = torch.erf(x)\\n\", after: \"from mindspore import ops\\n\\ny = ops.erf(x)\\n\"}\n"
    )
    assert run_cli(src, tmp_path / "dst", "--map", extra) == 0
    assert (tmp_path / "dst" / "a.py").read_text() == "from mindspore import ops\n\ny = ops.erf(x)\n"


def test_bad_extra_map_is_a_one_line_error(tmp_path, capsys):
    src = make_tree(tmp_path)
    extra = tmp_path / "extra.yaml"
    extra.write_text("torch.erf:\n  target: mindspore.ops.erf\n  kwarg: {}\n")
    assert run_cli(src, tmp_path / "dst", "--map", extra) == 2
    err = capsys.readouterr().err
    assert err.strip() == "migrate: error: extra.yaml:3: torch.erf.kwarg: unknown field " + err.split("unknown field ", 1)[1].strip()
    assert not (tmp_path / "dst").exists()


def test_module_entry_point_and_help():
    result = subprocess.run(
        [sys.executable, "-m", "migrate", "--help"], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0
    assert "exit status:" in result.stdout and "--check" in result.stdout and "MIGRATE(" in result.stdout
