"""Packed sequences: pack_padded_sequence / pad_packed_sequence / pack_sequence / PackedSequence
converted with the real table, run on the helper's RNN layers, against torch.

The helper keeps a PackedSequence as its padded batch and lengths and runs the RNN layers with
MindSpore's ``seq_length``; torch's own fields (``data``, ``batch_sizes``, the sort indices) are
computed from that.  Everything here is compared with torch on the same weights and inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from torch.nn.utils import rnn as torch_rnn  # noqa: E402

from migrate.weights import name_map  # noqa: E402  (imports torch)
from test_migrate_numeric_layers import _copy_weights  # noqa: E402

SPEC = load_spec()
pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)

ENCODER = '''\
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 8, padding_idx=0)
        self.gru = nn.GRU(8, 6, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(12, 1)

    def forward(self, tokens, lengths):
        emb = self.embedding(tokens)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, hidden = self.gru(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=tokens.size(1))
        final = torch.cat([hidden[-2], hidden[-1]], dim=1)
        return self.out(outputs).squeeze(-1), final
'''


def _converted_encoder(tmp_path, monkeypatch):
    converted = convert_source(ENCODER, SPEC, "encoder.py")
    assert not [s for s in converted.sites if s.kind not in ("converted", "graph", "pynative")], converted.code
    assert not re.search(r"^\s*(import|from) torch|(?<![\w.])torch\.", converted.code, re.M), converted.code
    (tmp_path / "packed_encoder.py").write_text(converted.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    return converted, importlib.import_module("packed_encoder")


def test_a_construct_that_packs_converts_and_stays_in_pynative(tmp_path, monkeypatch):
    converted, _ = _converted_encoder(tmp_path, monkeypatch)
    rules = {s.rule for s in converted.sites if s.kind == "converted"}
    assert {"torch.nn.utils.rnn.pack_padded_sequence", "torch.nn.utils.rnn.pad_packed_sequence"} <= rules
    assert "@jit_construct" not in converted.code
    [why] = [s.reason for s in converted.sites if s.kind == "pynative"]
    assert "pack_padded_sequence()" in why and "Python object" in why


def test_converted_encoder_matches_torch_values_and_gradients(tmp_path, monkeypatch):
    _, module = _converted_encoder(tmp_path, monkeypatch)
    torch_ns: dict = {}
    exec(compile(ENCODER, "<torch>", "exec"), torch_ns)
    torch.manual_seed(0)
    t_net, ms_net = torch_ns["Net"](), module.Net()
    _copy_weights("packed", t_net, ms_net)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, (4, 7)).astype(np.int64)
    lengths = np.array([7, 3, 5, 2], np.int64)
    tokens[np.arange(7)[None, :] >= lengths[:, None]] = 0

    scores, final = t_net(torch.from_numpy(tokens), torch.from_numpy(lengths))
    (scores.sum() + final.square().sum()).backward()
    ms_args = (mindspore.Tensor(tokens), mindspore.Tensor(lengths))
    got_scores, got_final = ms_net(*ms_args)
    np.testing.assert_allclose(got_scores.asnumpy(), scores.detach().numpy(), atol=2e-6, rtol=0)
    np.testing.assert_allclose(got_final.asnumpy(), final.detach().numpy(), atol=2e-6, rtol=0)

    def loss_fn(*args):
        s, f = ms_net(*args)
        return s.sum() + f.square().sum()

    weights = ms_net.trainable_params()
    _, grads = mindspore.value_and_grad(loss_fn, None, weights)(*ms_args)
    t_grads = {name: p.grad for name, p in t_net.named_parameters()}
    assert len(grads) == len(t_grads)
    ms_names = [w.name for w in weights]
    for t_name, ms_name in dict(name_map(t_net)).items():
        grad = grads[ms_names.index(ms_name)].asnumpy()
        np.testing.assert_allclose(grad, t_grads[t_name].numpy(), atol=1e-5, rtol=0, err_msg=t_name)


def _copy_rnn(t_rnn, ms_rnn):
    params = dict(ms_rnn.parameters_and_names())
    for name, p in t_rnn.named_parameters():
        params[name].set_data(mindspore.Tensor(p.detach().numpy()))


def _close(got, want, atol=2e-6):
    if want is None:
        assert got is None
        return
    want = want.detach().numpy()
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(got.asnumpy(), want, atol=atol, rtol=0)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_rnn_helpers_run_packed_batches_as_torch(compat, kind, batch_first, enforce_sorted):
    torch.manual_seed(1)
    t_rnn = getattr(torch.nn, kind)(4, 3, num_layers=2, batch_first=batch_first, bidirectional=True)
    ms_rnn = getattr(compat, kind)(4, 3, num_layers=2, batch_first=batch_first, bidirectional=True)
    _copy_rnn(t_rnn, ms_rnn)
    rng = np.random.default_rng(2)
    lengths = [6, 5, 3, 2] if enforce_sorted else [5, 2, 6, 3]
    x = rng.standard_normal((4, 7, 4) if batch_first else (7, 4, 4)).astype(np.float32)
    h0 = rng.standard_normal((4, 4, 3)).astype(np.float32)
    t_packed = torch_rnn.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths), batch_first, enforce_sorted)
    ms_packed = compat.pack_padded_sequence(mindspore.Tensor(x), mindspore.Tensor(np.array(lengths)), batch_first,
                                            enforce_sorted)
    for field in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
        _close(getattr(ms_packed, field), getattr(t_packed, field), 0)
    t_state = (torch.from_numpy(h0), torch.from_numpy(-h0)) if kind == "LSTM" else torch.from_numpy(h0)
    ms_state = (mindspore.Tensor(h0), mindspore.Tensor(-h0)) if kind == "LSTM" else mindspore.Tensor(h0)
    for t_args, ms_args in (((t_packed,), (ms_packed,)), ((t_packed, t_state), (ms_packed, ms_state))):
        t_out, t_h = t_rnn(*t_args)
        ms_out, ms_h = ms_rnn(*ms_args)
        assert isinstance(ms_out, compat.PackedSequence)
        _close(ms_out.data, t_out.data)
        _close(ms_out.batch_sizes, t_out.batch_sizes, 0)
        for got, want in zip(ms_h if kind == "LSTM" else (ms_h,), t_h if kind == "LSTM" else (t_h,)):
            _close(got, want)
        t_pad, t_len = torch_rnn.pad_packed_sequence(t_out, batch_first, -2.0, 9)
        ms_pad, ms_len = compat.pad_packed_sequence(ms_out, batch_first, -2.0, 9)
        _close(ms_pad, t_pad)
        assert ms_len.dtype == mindspore.int64 and ms_len.asnumpy().tolist() == t_len.tolist()
        t_pad, _ = torch_rnn.pad_packed_sequence(t_out)
        ms_pad, _ = compat.pad_packed_sequence(ms_out)
        _close(ms_pad, t_pad)  # as long as the longest sequence (6), not the input's 7 steps


def test_packed_sequence_built_from_torchs_fields_unpacks_them(compat):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4, 2)).astype(np.float32)
    lengths = [3, 5, 1, 4]
    t_packed = torch_rnn.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths), enforce_sorted=False)
    ms_packed = compat.pack_padded_sequence(mindspore.Tensor(x), lengths, enforce_sorted=False)
    # the idiom of applying an elementwise function to the packed data
    t_new = torch_rnn.PackedSequence(torch.tanh(t_packed.data), t_packed.batch_sizes, t_packed.sorted_indices,
                                     t_packed.unsorted_indices)
    ms_new = compat.PackedSequence(mindspore.ops.tanh(ms_packed.data), ms_packed.batch_sizes,
                                   ms_packed.sorted_indices, ms_packed.unsorted_indices)
    _close(ms_new.data, t_new.data, 5e-6)  # MindSpore's tanh is ~3e-6 off torch's
    t_pad, t_len = torch_rnn.pad_packed_sequence(t_new, batch_first=True)
    ms_pad, ms_len = compat.pad_packed_sequence(ms_new, batch_first=True)
    _close(ms_pad, t_pad, 5e-6)
    assert ms_len.asnumpy().tolist() == t_len.tolist() == lengths
    data, batch_sizes, sorted_indices, unsorted_indices = ms_new  # torch's is a namedtuple
    _close(batch_sizes, t_new.batch_sizes, 0)
    # a device changes nothing; a dtype casts, as torch's PackedSequence.to does
    assert ms_new.to("cuda") is ms_new and ms_new.cpu() is ms_new and not ms_new.is_cuda
    wide = ms_new.to(mindspore.float64)
    assert wide.dtype == mindspore.float64 and wide.data.dtype == mindspore.float64
    _close(wide.data, t_new.to(torch.float64).data, 5e-6)


def test_pack_sequence_and_unpack_sequence_as_torch(compat):
    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (4, 2, 5)]
    t_packed = torch_rnn.pack_sequence([torch.from_numpy(s) for s in seqs], enforce_sorted=False)
    ms_packed = compat.pack_sequence([mindspore.Tensor(s) for s in seqs], enforce_sorted=False)
    _close(ms_packed.data, t_packed.data, 0)
    unpacked = compat.unpack_sequence(ms_packed)
    assert len(unpacked) == 3
    for got, want in zip(unpacked, torch_rnn.unpack_sequence(t_packed)):
        _close(got, want, 0)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        compat.pack_sequence([mindspore.Tensor(s) for s in seqs])
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        torch_rnn.pack_sequence([torch.from_numpy(s) for s in seqs])


@pytest.mark.parametrize("lengths", [[3, 0], [3, 2, 1]])
def test_bad_lengths_are_refused_as_torch_refuses_them(compat, lengths):
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(RuntimeError):
        torch_rnn.pack_padded_sequence(torch.from_numpy(x), torch.tensor(lengths))
    with pytest.raises(RuntimeError):
        compat.pack_padded_sequence(mindspore.Tensor(x), lengths)


def test_lengths_past_the_padded_steps_and_short_total_lengths_are_refused(compat):
    """torch reads past its input for a length longer than the padded steps (2.13 packs 9 steps
    out of 5 without a word): the helper refuses it."""
    x = mindspore.Tensor(np.zeros((5, 2, 3), np.float32))
    with pytest.raises(RuntimeError, match="at most 5"):
        compat.pack_padded_sequence(x, [9, 2])
    with pytest.raises(ValueError, match="total_length"):
        compat.pad_packed_sequence(compat.pack_padded_sequence(x, [5, 2]), total_length=3)
