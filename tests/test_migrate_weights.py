"""migrate/weights.py: torch state_dict names -> MindSpore parameter names, arrays, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mindspore
import numpy as np
import pytest
import torch
import torch.nn as tnn
from mindspore import nn as mnn

from migrate.weights import (
    guess_name_map,
    load_mindspore_checkpoint,
    main,
    name_map,
    save_mindspore_checkpoint,
    save_torch_checkpoint,
    to_mindspore,
    to_torch,
    torch_to_numpy,
)

REPO = Path(__file__).resolve().parents[1]
MAMO_ARGS = ((2, 7, 21), (6, 10), (5, 8), 5, 8)
MAMO_SPEC = "reference_torch.model:MAMO((2, 7, 21), (6, 10), (5, 8), 5, 8)"


class MyEmbedding(tnn.Embedding):
    """A subclass still gets the Embedding rename."""


class TorchNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = MyEmbedding(10, 4)
        self.seq = tnn.Sequential(tnn.Linear(4, 6), tnn.ReLU(), tnn.Linear(6, 3))
        self.norm = tnn.LayerNorm(3)
        self.bn = tnn.BatchNorm1d(3)
        self.register_buffer("offsets", torch.tensor([0, 5], dtype=torch.int64))

    def features(self, idx):
        return self.seq(self.embedding(idx + self.offsets).sum(dim=1))

    def forward(self, idx):
        return self.bn(self.norm(self.features(idx)))


class MsNet(mnn.Cell):
    """What `python -m migrate` makes of TorchNet (written by hand)."""

    def __init__(self):
        super().__init__()
        self.embedding = mnn.Embedding(10, 4)
        self.seq = mnn.SequentialCell(mnn.Dense(4, 6), mnn.ReLU(), mnn.Dense(6, 3))
        self.norm = mnn.LayerNorm((3,), epsilon=1e-5)
        self.bn = mnn.BatchNorm1d(3)
        self.offsets = mindspore.Parameter(mindspore.Tensor(np.array([0, 5], np.int64)), requires_grad=False)

    def features(self, idx):
        return self.seq(self.embedding(idx + self.offsets).sum(axis=1))

    def construct(self, idx):
        return self.bn(self.norm(self.features(idx)))


EXPECTED = {
    "offsets": "offsets",
    "embedding.weight": "embedding.embedding_table",
    "seq.0.weight": "seq.0.weight",
    "seq.0.bias": "seq.0.bias",
    "seq.2.weight": "seq.2.weight",
    "seq.2.bias": "seq.2.bias",
    "norm.weight": "norm.gamma",
    "norm.bias": "norm.beta",
    "bn.weight": "bn.gamma",
    "bn.bias": "bn.beta",
    "bn.running_mean": "bn.moving_mean",
    "bn.running_var": "bn.moving_variance",
}


def trained_torch_net() -> TorchNet:
    """Non-default values everywhere (LayerNorm affine, BatchNorm statistics)."""
    torch.manual_seed(0)
    net = TorchNet()
    with torch.no_grad():
        net.norm.weight.uniform_(0.5, 1.5)
        net.norm.bias.uniform_(-0.5, 0.5)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.5, 0.5)
        net.train()
        for _ in range(3):
            net(torch.randint(0, 5, (8, 2)))
    return net.eval()


def numpy_state(net: tnn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


# ---------------------------------------------------------------- names


def test_name_map_renames_by_owning_class():
    mapping = name_map(TorchNet())
    assert dict(mapping) == EXPECTED
    assert mapping.unmapped == {"bn.num_batches_tracked": mapping.unmapped["bn.num_batches_tracked"]}
    assert "no MindSpore counterpart" in mapping.unmapped["bn.num_batches_tracked"]
    assert mapping.unchecked == {}
    assert mapping.inverse()["norm.gamma"] == "norm.weight"


def test_name_map_matches_the_cell_mindspore_builds():
    ms_names = set(MsNet().parameters_dict())
    assert set(name_map(TorchNet()).values()) == ms_names


def test_name_map_flags_what_it_cannot_confirm():
    class Odd(tnn.Module):
        def __init__(self):
            super().__init__()
            self.bn2 = tnn.SyncBatchNorm(2)  # not in the table
            self.a = tnn.LayerNorm(2)
            self.b = self.a  # shared module: state_dict lists it twice

    mapping = name_map(Odd())
    assert mapping["bn2.weight"] == "bn2.weight" and "SyncBatchNorm is not in the mapping table" in mapping.unchecked["bn2.weight"]
    assert "bn2.num_batches_tracked" in mapping.unmapped
    assert mapping["b.weight"] == "b.gamma" and "same tensor as 'a.weight'" in mapping.unchecked["b.weight"]
    assert "a.weight" not in mapping.unchecked


def test_guess_name_map_renames_nothing_and_says_so():
    keys = list(TorchNet().state_dict())
    guess = guess_name_map(keys)
    assert all(guess[k] == k for k in guess)
    assert set(guess.unmapped) == {"bn.num_batches_tracked"}
    assert set(guess.unchecked) == set(EXPECTED) - {"offsets"}
    assert "pass --model" in guess.unchecked["embedding.weight"]
    back = guess_name_map(EXPECTED.values(), side="mindspore")
    assert set(back.unchecked) == {"embedding.embedding_table", "norm.gamma", "norm.beta", "bn.gamma", "bn.beta",
                                   "bn.moving_mean", "bn.moving_variance"}


# ---------------------------------------------------------------- arrays


def test_round_trip_torch_mindspore_torch_is_identical():
    net = trained_torch_net()
    mapping = name_map(net)
    ms_state, unmapped = to_mindspore(net.state_dict(), mapping)
    assert unmapped == ["bn.num_batches_tracked"]
    assert set(ms_state) == set(EXPECTED.values())
    back, unmapped_back = to_torch(ms_state, mapping)
    assert unmapped_back == []
    original = numpy_state(net)
    assert set(back) == set(original) - {"bn.num_batches_tracked"}
    for key, arr in back.items():
        assert arr.dtype == original[key].dtype and np.array_equal(arr, original[key]), key


def test_dtypes_survive_checkpoint_files(tmp_path):
    state = {
        "f16": torch.randn(3).half(), "f64": torch.randn(2, 2, dtype=torch.float64),
        "bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16), "i32": torch.arange(3, dtype=torch.int32),
        "i64": torch.arange(4), "b": torch.tensor([True, False]), "u8": torch.arange(5, dtype=torch.uint8),
        "scalar": torch.tensor(2.5),
    }
    identity = {k: k for k in state}
    ms_state, _ = to_mindspore(state, identity)
    save_mindspore_checkpoint(tmp_path / "x.ckpt", ms_state)
    loaded = load_mindspore_checkpoint(tmp_path / "x.ckpt")
    back, _ = to_torch(loaded, identity)
    save_torch_checkpoint(tmp_path / "x.pt", back)
    final = torch.load(tmp_path / "x.pt", weights_only=True)
    for key, tensor in state.items():
        assert final[key].dtype == tensor.dtype and torch.equal(final[key], tensor), key
        assert str(loaded[key].dtype) == str(torch_to_numpy(tensor).dtype), key


def test_converted_state_loads_into_the_migrated_cell():
    net = trained_torch_net()
    ms_state, _ = to_mindspore(net.state_dict(), name_map(net))
    cell = MsNet()
    params = {name: mindspore.Parameter(mindspore.Tensor(arr), name=name) for name, arr in ms_state.items()}
    param_not_load, ckpt_not_load = mindspore.load_param_into_net(cell, params)
    assert param_not_load == [] and ckpt_not_load == []
    for name, param in cell.parameters_dict().items():
        assert np.array_equal(param.asnumpy(), ms_state[name]), name
    cell.set_train(False)
    idx = np.random.default_rng(0).integers(0, 5, size=(6, 2)).astype(np.int64)
    with torch.no_grad():
        want_features = net.features(torch.from_numpy(idx)).numpy()
        want = net(torch.from_numpy(idx)).numpy()
    got_features = cell.features(mindspore.Tensor(idx)).asnumpy()  # Embedding + Dense
    np.testing.assert_allclose(got_features, want_features, atol=1e-5, rtol=0)
    np.testing.assert_allclose(cell(mindspore.Tensor(idx)).asnumpy(), want, atol=1e-4, rtol=0)  # + LayerNorm, BatchNorm


def test_mamo_names_equal_the_migrated_twin():
    from migrated_mindspore.model import MAMO as MsMAMO
    from reference_torch.model import MAMO

    torch_model = MAMO(*MAMO_ARGS)
    twin = MsMAMO(*MAMO_ARGS)
    mapping = name_map(torch_model)
    assert not mapping.unmapped and not mapping.unchecked
    assert set(mapping.values()) == set(twin.parameters_dict())
    ms_state, unmapped = to_mindspore(torch_model.state_dict(), mapping)
    assert unmapped == []
    params = {name: mindspore.Parameter(mindspore.Tensor(arr), name=name) for name, arr in ms_state.items()}
    assert mindspore.load_param_into_net(twin, params) == ([], [])
    for name, param in twin.parameters_dict().items():
        assert param.shape == ms_state[name].shape and np.array_equal(param.asnumpy(), ms_state[name]), name


# ---------------------------------------------------------------- command line


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


@pytest.fixture()
def mamo_pt(tmp_path):
    from reference_torch.model import MAMO

    torch.manual_seed(1)
    model = MAMO(*MAMO_ARGS)
    path = tmp_path / "mamo.pt"
    torch.save({"model": model.state_dict(), "epoch": 3}, path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


def test_cli_round_trip_with_model(tmp_path, capsys, mamo_pt):
    from migrated_mindspore.model import MAMO as MsMAMO

    src, state = mamo_pt
    ckpt, back = tmp_path / "mamo.ckpt", tmp_path / "back.pt"
    code, out, err = run_cli(capsys, src, ckpt, "--model", MAMO_SPEC)
    assert (code, err) == (0, "") and "20 tensors, 2 renamed" in out
    assert set(load_mindspore_checkpoint(ckpt)) == set(MsMAMO(*MAMO_ARGS).parameters_dict())
    code, out, err = run_cli(capsys, ckpt, back, "--model", MAMO_SPEC)
    assert (code, err) == (0, "")
    final = torch.load(back, weights_only=True)
    assert list(final) == list(state)
    assert all(final[k].dtype == v.dtype and torch.equal(final[k], v) for k, v in state.items())
    assert leftovers(tmp_path) == []


def test_cli_without_model_guesses_and_lists_names(tmp_path, capsys):
    src = tmp_path / "net.pt"
    net = trained_torch_net()
    torch.save(net.state_dict(), src)
    code, out, _ = run_cli(capsys, src, tmp_path / "net.ckpt")
    assert code == 1
    assert "not mapped: bn.num_batches_tracked:" in out
    for key in set(EXPECTED) - {"offsets"}:
        assert f"unchecked: {key}: " in out and "pass --model" in out
    assert "offsets" not in out
    code, out, _ = run_cli(capsys, tmp_path / "net.ckpt", tmp_path / "back.pt")
    # the .ckpt holds torch names (nothing was renamed); none is a MindSpore rename target
    assert code == 0 and "unchecked" not in out
    back = torch.load(tmp_path / "back.pt", weights_only=True)
    original = net.state_dict()
    assert set(back) == set(original) - {"bn.num_batches_tracked"}
    assert all(torch.equal(back[k], original[k]) for k in back)


def test_cli_strict_writes_nothing(tmp_path, capsys):
    src = tmp_path / "net.pt"
    torch.save(TorchNet().state_dict(), src)
    code, out, _ = run_cli(capsys, src, tmp_path / "net.ckpt", "--strict")
    assert code == 1 and "nothing written" in out and "bn.num_batches_tracked" in out
    assert not (tmp_path / "net.ckpt").exists() and leftovers(tmp_path) == []


def test_cli_refuses_to_overwrite(tmp_path, capsys, mamo_pt):
    src, _ = mamo_pt
    dst = tmp_path / "mamo.ckpt"
    dst.write_bytes(b"keep me")
    code, _, err = run_cli(capsys, src, dst, "--model", MAMO_SPEC)
    assert code == 2 and "already exists" in err and "--force" in err and str(dst) in err
    assert dst.read_bytes() == b"keep me"
    code, _, _ = run_cli(capsys, src, dst, "--model", MAMO_SPEC, "--force")
    assert code == 0 and len(load_mindspore_checkpoint(dst)) == 20


@pytest.mark.parametrize("name, dst", [("bad.pt", "out.ckpt"), ("bad.ckpt", "out.pt"), ("empty.ckpt", "out.pt")])
def test_cli_names_a_corrupt_file(tmp_path, capsys, name, dst):
    bad = tmp_path / name
    bad.write_bytes(b"" if name.startswith("empty") else b"this is not a checkpoint\n" * 3)
    code, out, err = run_cli(capsys, bad, tmp_path / dst)
    assert code == 2 and out == ""
    assert err.startswith("migrate.weights: error: ") and str(bad) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / dst).exists() and leftovers(tmp_path) == []


def test_cli_usage_errors(tmp_path, capsys, mamo_pt):
    src, _ = mamo_pt
    code, _, err = run_cli(capsys, tmp_path / "missing.pt", tmp_path / "x.ckpt")
    assert code == 2 and "missing.pt: no such file" in err
    code, _, err = run_cli(capsys, src, tmp_path / "x.pt")
    assert code == 2 and "direction" in err
    code, _, err = run_cli(capsys, src, tmp_path / "x.ckpt", "--model", "reference_torch.model:MAMO")
    assert code == 2 and "calling MAMO(...) failed" in err and "missing 4 required" in err
    code, _, err = run_cli(capsys, src, tmp_path / "x.ckpt", "--model", "no_such_module_xyz:build")
    assert code == 2 and "cannot import no_such_module_xyz" in err


def test_cli_map_adds_renames(tmp_path, capsys):
    extra = tmp_path / "extra.yaml"
    extra.write_text("torch.nn.SyncBatchNorm.weight:\n  target: mindspore.nn.SyncBatchNorm.gamma\n  style: attribute\n")
    src = tmp_path / "bn.pt"
    torch.save(tnn.SyncBatchNorm(2).state_dict(), src)
    code, out, _ = run_cli(capsys, src, tmp_path / "bn.ckpt", "--map", extra)
    assert code == 1 and "unchecked: weight: the table renames `weight` for torch.nn.Embedding" in out
    assert "torch.nn.SyncBatchNorm" in out
    # with the model (literal arguments): weight is renamed; bias is kept but flagged
    code, out, _ = run_cli(capsys, src, tmp_path / "bn2.ckpt", "--map", extra, "--model", "torch.nn:SyncBatchNorm(2)")
    assert code == 1 and "1 renamed" in out
    assert "unchecked: bias: torch.nn.SyncBatchNorm is not in the mapping table" in out
    assert set(load_mindspore_checkpoint(tmp_path / "bn2.ckpt")) == {"gamma", "bias", "running_mean", "running_var"}


def test_help_documents_exit_status():
    proc = subprocess.run([sys.executable, "-m", "migrate.weights", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "exit status:" in proc.stdout and "--model" in proc.stdout and "--strict" in proc.stdout
