"""``python -m migrate.compare``: a migrated model's forward pass against its torch original."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from migrate import compare, runner

pytest.importorskip("torch")
pytest.importorskip("mindspore")

MODEL = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return F.leaky_relu(self.bn(self.conv(x))) + x


class Net(nn.Module):
    def __init__(self, vocab, channels=4, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, channels)
        self.block = Block(channels)
        self.act = nn.LeakyReLU()
        self.head = nn.Linear(channels, classes)

    def forward(self, image, ids):
        h = self.block(image).mean(dim=(2, 3)) + self.embed(ids).sum(dim=1)
        return {"logits": self.head(self.act(h)), "features": (h, h.shape[0])}


def build():
    return Net(10)


class Constant(nn.Module):
    """Its output does not depend on the input: a comparison of it proves little."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(torch.zeros_like(x))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    (root / "src").mkdir()
    (root / "src" / "netmod.py").write_text(MODEL)
    runner.run(root / "src", root / "dst", progress=False)
    yield root
    for name in [n for n, m in sys.modules.items() if str(root) in str(getattr(m, "__file__", "") or "")]:
        del sys.modules[name]


def _main(project, capsys, *extra, model="netmod:Net(10)", dst="dst"):
    code = compare.main([str(project / "src"), str(project / dst), "--model", model,
                         "--input", "2,4,5,5", "--input", "int:10:2,3", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_migrated_model_matches_its_torch_original(project, capsys):
    code, out, _ = _main(project, capsys)
    assert code == 0, out
    assert "equal within tolerance" in out
    assert "ok   out['logits'][0]" not in out and "ok   out['logits']" in out
    assert "out['features'][0]" in out and "out['features'][1]" in out  # nested leaves, a Python int too
    assert "embedding_table" not in out  # renamed weights are mapped silently
    assert "num_batches_tracked" in out  # torch-only counters are listed, not failed
    code, out, _ = _main(project, capsys, model="netmod:build()")
    assert code == 0, out


def test_an_output_that_ignores_the_input_is_called_weak(project, capsys):
    code = compare.main([str(project / "src"), str(project / "dst"), "--model", "netmod:Constant()",
                         "--input", "3,4"])
    out = capsys.readouterr().out
    assert code == 0 and "WEAK" in out, out
    code, out, _ = _main(project, capsys)
    assert "WEAK" not in out


def test_a_wrong_rule_makes_the_outputs_differ(project, capsys, tmp_path):
    """A table whose LeakyReLU drops torch's slope default (MindSpore's is 0.2, torch's 0.01)."""
    extra = tmp_path / "wrong.yaml"
    extra.write_text("torch.nn.LeakyReLU:\n  target: mindspore.nn.LeakyReLU\n  args: [negative_slope, inplace]\n"
                     "  kwargs: {negative_slope: alpha}\n  drop: [inplace]\n")
    runner.run(project / "src", project / "wrong", maps=[str(extra)], progress=False)
    code, out, _ = _main(project, capsys, dst="wrong")
    assert code == 1, out
    assert "FAIL out['logits']" in out and "DIFFERENT" in out
    assert "ok   out['features'][0]" in out  # before the activation: still equal


@pytest.mark.parametrize("argv, message", [
    (["--model", "netmod:Net(10)", "--input", "2,x"], "--input 2,x"),
    (["--model", "netmod", "--input", "2,4,5,5"], "expected module:callable"),
    (["--model", "nosuch:Net()", "--input", "2"], "cannot import nosuch"),
    (["--model", "netmod:Net(10)", "--input", "3,3"], "the torch model failed on the inputs"),
])
def test_usage_and_model_errors_exit_2_with_the_reason(project, capsys, argv, message):
    code = compare.main([str(project / "src"), str(project / "dst"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err


def _edited_dst(project, to, old: str, new: str):
    """A copy of the migrated project at ``to`` with ``old`` replaced by ``new`` in netmod.py
    (a hand-edited DST: a broken migration for the checker to catch)."""
    to.mkdir()
    for f in (project / "dst").iterdir():
        if f.is_file():
            text = f.read_text()
            if f.name == "netmod.py":
                assert old in text
                text = text.replace(old, new)
            (to / f.name).write_text(text)
    return to


def test_a_missing_weight_fails_the_check(project, capsys, tmp_path):
    """The migrated Cell lacks a parameter torch has (here: DST hand-edited to drop the head's bias)."""
    broken = _edited_dst(project, tmp_path / "broken", "nn.Dense(channels, classes)",
                         "nn.Dense(channels, classes, has_bias=False)")
    code = compare.main([str(project / "src"), str(broken), "--model", "netmod:Net(10)",
                         "--input", "2,4,5,5", "--input", "int:10:2,3"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL head.bias: the Cell has no parameter of this name" in out, out


def test_input_specs():
    assert compare.parse_input("2,3").shape == (2, 3)
    spec = compare.parse_input("int:7:4")
    assert (spec.kind, spec.high, spec.shape) == ("int", 7, (4,))
    assert compare.parse_input("float64:1,2").dtype == "float64"
    assert compare.parse_input("bool:3").kind == "bool"
    spec = compare.parse_input("np:int:5:3")
    assert spec.array and spec.kind == "int" and not compare.parse_input("int:5:3").array
    for bad in ("", "int:0:3", "int:5", "complex:3", "2,-1", "np:"):
        with pytest.raises(compare.CompareError):
            compare.parse_input(bad)


def test_help_documents_inputs_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        compare.main(["--help"])
    out = capsys.readouterr().out
    assert "int:100:16,5" in out and "exit status" in out and "--train" in out
    assert Path(compare.__file__).name == "compare.py"


def test_grad_compares_every_parameter_gradient(project, capsys):
    """Net returns a dict and holds a BatchNorm: its construct stays in PyNative (graph_mode), so
    MindSpore can differentiate it; conv.bias's true gradient is 0 (BatchNorm follows it)."""
    code, out, _ = _main(project, capsys, "--grad", "--train")
    assert code == 0, out
    assert "7 of 7 parameters agree" in out
    assert "grad block.conv.bias" in out and "near zero" in out


def test_grad_catches_a_gradient_the_migration_cut(project, capsys, tmp_path):
    """The same outputs, but the block's gradient stopped (DST hand-edited): only --grad sees it."""
    cut = _edited_dst(project, tmp_path / "cut", "h = self.block(image)", "h = ops.stop_gradient(self.block(image))")
    code, out, _ = _main(project, capsys, "--train", dst=cut)
    assert code == 0, out
    code, out, _ = _main(project, capsys, "--train", "--grad", dst=cut)
    assert code == 1, out
    assert "FAIL grad block.conv.weight" in out and "FAIL grad block.bn.weight" in out
    assert "FAIL grad head.weight" not in out and "DIFFERENT" in out


def test_float64_reference_gradients_differentiate_the_same_scalar():
    """The float64 copy differentiates the same weighted sum: on a well-conditioned model its
    gradients equal the float32 ones to float32 accuracy."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    out = model(x)
    weights = compare._output_weights(out, 0)
    total = compare._weighted_sum(out, weights, lambda w, leaf: torch.as_tensor(w, dtype=leaf.dtype), torch.sum)
    total.backward()
    exact = compare._float64_gradients(model, [x], weights)
    assert set(exact) == {n for n, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), exact[name], rtol=1e-5, atol=1e-6)
