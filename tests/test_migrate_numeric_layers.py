"""Converted torch.nn layers compute what torch computes, with the same weights.

Each case is a small torch file defining ``class Net(nn.Module)`` (and, where a
case needs more than ``net(*inputs)``, a function ``run(net, ...)``).  It is
converted with the real table, both versions are built, torch's parameters are
copied into the MindSpore Cell under the names ``migrate.weights.name_map``
gives them (the table's attribute renames: BatchNorm gamma/beta/moving_*,
PReLU ``w``, ...), both run on the same random input, and the results (values
and dtypes) must agree within the entry's ``tolerance``.  Converted classes get
``@mindspore.jit`` on ``construct`` (graph_mode); every case also runs with
that transform off, i.e. in PyNative.  Every entry of the api_map section
"nn layers (conv, pooling, rnn, ...)" that declares a tolerance has a case here.
"""

from __future__ import annotations

import importlib
import re
import zlib

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from migrate.weights import name_map  # noqa: E402  (imports torch)
from test_migrate_numeric import _numpy, section_keys  # noqa: E402

SPEC = load_spec()
HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
SECTION = "# ---------------------------------------------------------------- nn layers (conv, pooling, rnn, ...)"


def _net(init: str, forward: str, params: str = "x") -> str:
    """A ``Net`` whose ``__init__`` runs ``init`` and whose ``forward(params)`` runs ``forward``."""
    init = "\n".join("        " + line for line in init.strip().splitlines())
    forward = "\n".join("        " + line for line in forward.strip().splitlines())
    return (HEADER + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"{init}\n\n    def forward(self, {params}):\n{forward}\n")


#: torch name -> (source, inputs: name -> how to draw it, training mode?)
CASES = {
    "torch.nn.Conv1d": (_net(
        "self.a = nn.Conv1d(4, 6, 3, padding=1)\n"
        "self.b = nn.Conv1d(6, 6, 4, padding='same', dilation=2, groups=2, bias=False, padding_mode='reflect')\n"
        "self.c = nn.Conv1d(6, 3, 3, 2, (2,), padding_mode='circular')",
        "return self.c(self.b(self.a(x))), self.a(x[0])"), {"x": ("normal", (2, 4, 11))}, False),
    "torch.nn.Conv2d": (_net(
        "self.a = nn.Conv2d(4, 6, 3, padding=(1, 2))\n"
        "self.b = nn.Conv2d(6, 6, (4, 3), padding='same', dilation=(2, 1), groups=3)\n"
        "self.c = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False, padding_mode='replicate')\n"
        "self.d = nn.Conv2d(8, 2, 2, padding='valid')",
        "return self.d(self.c(self.b(self.a(x)))), self.a(x[1])"), {"x": ("normal", (2, 4, 9, 8))}, False),
    "torch.nn.ConvTranspose2d": (_net(
        "self.a = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)\n"
        "self.b = nn.ConvTranspose2d(6, 4, (3, 2), (2, 3), (2, 0), (1, 2), 2, False, (2, 1))\n"
        "self.c = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)",
        "return self.b(self.a(x)), self.a(x[0]), self.c(x, output_size=(10, 14))"),
        {"x": ("normal", (2, 4, 5, 7))}, False),
    "torch.nn.BatchNorm2d": (_net(
        "self.bn = nn.BatchNorm2d(3, momentum=0.3)\nself.fixed = nn.BatchNorm2d(3, eps=1e-3, affine=False)",
        "return self.bn(x), self.fixed(x * 2)"), {"x": ("normal", (4, 3, 5, 6))}, True),
    "torch.nn.BatchNorm2d.running_mean": (_net("self.bn = nn.BatchNorm2d(3, momentum=0.3)", "return self.bn(x)")
                                          + "\n\ndef run(net: Net, x: torch.Tensor):\n    net(x)\n    net(x * 2 + 1)\n"
                                            "    return net.bn.running_mean\n",
                                          {"x": ("normal", (4, 3, 5, 6))}, True),
    "torch.nn.BatchNorm2d.running_var": (_net("self.bn = nn.BatchNorm2d(3)", "return self.bn(x)")
                                         + "\n\ndef run(net: Net, x: torch.Tensor):\n    net(x)\n    net(x * 3)\n"
                                           "    return net.bn.running_var\n",
                                         {"x": ("normal", (4, 3, 5, 6))}, True),
    "torch.nn.BatchNorm3d": (_net(
        "self.bn = nn.BatchNorm3d(3, momentum=0.3)\nself.fixed = nn.BatchNorm3d(3, eps=1e-3, affine=False)",
        "return self.bn(x), self.fixed(x * 2)"), {"x": ("normal", (2, 3, 4, 5, 3))}, True),
    "torch.nn.BatchNorm3d.running_mean": (_net("self.bn = nn.BatchNorm3d(3, momentum=0.3)", "return self.bn(x)")
                                          + "\n\ndef run(net: Net, x: torch.Tensor):\n    net(x)\n    net(x * 2 + 1)\n"
                                            "    return net.bn.running_mean\n",
                                          {"x": ("normal", (2, 3, 4, 5, 3))}, True),
    "torch.nn.BatchNorm3d.running_var": (_net("self.bn = nn.BatchNorm3d(3)", "return self.bn(x)")
                                         + "\n\ndef run(net: Net, x: torch.Tensor):\n    net(x)\n    net(x * 3)\n"
                                           "    return net.bn.running_var\n",
                                         {"x": ("normal", (2, 3, 4, 5, 3))}, True),
    "torch.nn.MaxPool2d": (_net(
        "self.a = nn.MaxPool2d(2)\nself.b = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)\n"
        "self.c = nn.MaxPool2d((3, 2), (2, 1), (1, 0), (2, 1))\nself.d = nn.MaxPool2d(2, return_indices=True)",
        "values, indices = self.d(x)\nreturn self.a(x), self.b(x), self.c(x), values, indices"),
        {"x": ("normal", (2, 3, 9, 8))}, False),
    "torch.nn.AvgPool2d": (_net(
        "self.a = nn.AvgPool2d(2)\nself.b = nn.AvgPool2d(3, 2, 1, count_include_pad=False)\n"
        "self.c = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)\nself.d = nn.AvgPool2d(2, divisor_override=3)",
        "return self.a(x), self.b(x), self.c(x), self.d(x)"), {"x": ("normal", (2, 3, 9, 8))}, False),
    "torch.nn.AdaptiveAvgPool2d": (_net(
        "self.a = nn.AdaptiveAvgPool2d(1)\nself.b = nn.AdaptiveAvgPool2d((4, 3))\nself.c = nn.AdaptiveAvgPool2d((None, 3))",
        "return self.a(x), self.b(x), self.c(x)"), {"x": ("normal", (2, 3, 9, 8))}, False),
    "torch.nn.Flatten": (_net("self.a = nn.Flatten()\nself.b = nn.Flatten(0, 2)",
                              "return self.a(x), self.b(x)"), {"x": ("normal", (2, 3, 4, 5))}, False),
    "torch.nn.LSTM": (_net(
        "self.a = nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)\n"
        "self.b = nn.LSTM(10, 3, 3, False, False, 0)",
        "out, (h, c) = self.a(x)\nout2, (h2, c2) = self.b(out, (h0, c0))\nsingle, _ = self.b(out[0])\n"
        "return out, h, c, out2, h2, c2, single", "x, h0, c0"),
        {"x": ("normal", (2, 6, 4)), "h0": ("normal", (3, 6, 3)), "c0": ("normal", (3, 6, 3))}, False),
    "torch.nn.GRU": (_net(
        "self.a = nn.GRU(4, 5, batch_first=True, bidirectional=True)\nself.b = nn.GRU(10, 3, 2, bias=False)",
        "out, h = self.a(x)\nout2, h2 = self.b(out, h0)\nreturn out, h, out2, h2, self.a(x[0])[0]", "x, h0"),
        {"x": ("normal", (2, 6, 4)), "h0": ("normal", (2, 6, 3))}, False),
    "torch.nn.RNN": (_net(
        "self.a = nn.RNN(4, 5, 2, 'relu')\nself.b = nn.RNN(5, 3, nonlinearity='tanh', bidirectional=True)",
        "out, h = self.a(x)\nout2, h2 = self.b(out)\nreturn out, h, out2, h2"), {"x": ("normal", (6, 2, 4))}, False),
    "torch.nn.ELU": (_net("self.a = nn.ELU()\nself.b = nn.ELU(alpha=0.5, inplace=True)",
                          "return self.a(x), self.b(x * 4)"), {"x": ("normal", (3, 40))}, False),
    "torch.nn.Softplus": (_net("self.a = nn.Softplus()\nself.b = nn.Softplus(beta=2, threshold=5)",
                               "return self.a(x), self.b(x * 4)"), {"x": ("normal", (3, 40))}, False),
    "torch.nn.PReLU": (_net("self.a = nn.PReLU()\nself.b = nn.PReLU(3, init=0.1)",
                            "return self.a(x), self.b(x), self.b.weight"), {"x": ("normal", (2, 3, 4, 5))}, False),
    "torch.nn.SiLU": (_net("self.act = nn.SiLU(inplace=True)", "return self.act(x * 4)"),
                      {"x": ("normal", (3, 40))}, False),
    # flags given as any truthy/falsy value, as torch takes them (MindSpore's validators want a bool)
    "torch.nn.GroupNorm": (_net("self.a = nn.GroupNorm(2, 4)\nself.b = nn.GroupNorm(4, 4, eps=1e-3, affine=False)\n"
                                "self.c = nn.GroupNorm(2, 4, affine=nn.Sequential())",
                                "return self.a(x), self.b(x), self.a(x[:, :, 0]), self.a.weight, self.c(x)"),
                           {"x": ("normal", (2, 4, 5, 6))}, False),
    "torch.nn.Upsample": (_net(
        "self.a = nn.Upsample(scale_factor=2)\nself.b = nn.Upsample(scale_factor=2, mode='bilinear')\n"
        "self.c = nn.Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)\n"
        "self.d = nn.Upsample(size=(7, 9), mode='bilinear')\nself.e = nn.Upsample(scale_factor=(2, 3), mode='nearest')\n"
        "self.f = nn.Upsample(scale_factor=3, mode='linear')",
        "return self.a(x), self.b(x), self.c(x), self.d(x), self.e(x), self.f(x[:, :, 0])"),
        {"x": ("normal", (2, 3, 5, 6))}, False),
    "torch.nn.Bilinear": (_net("self.a = nn.Bilinear(3, 4, 5)\nself.b = nn.Bilinear(3, 4, 2, False)\n"
                               "self.c = nn.Bilinear(3, 4, 2, nn.ReLU())",
                               "return self.a(x, y), self.b(x, y), self.c(x, y)", "x, y"),
                          {"x": ("normal", (6, 3)), "y": ("normal", (6, 4))}, False),
    "torch.nn.CosineSimilarity": (_net("self.a = nn.CosineSimilarity()\nself.b = nn.CosineSimilarity(dim=-1, eps=1e-6)",
                                       "return self.a(x, y), self.b(x.unsqueeze(1), y.unsqueeze(0)), self.a(x * 1e-6, y)",
                                       "x, y"),
                                  {"x": ("normal", (4, 5)), "y": ("normal", (4, 5))}, False),
    "torch.nn.L1Loss": (_net("self.a = nn.L1Loss()\nself.b = nn.L1Loss(reduction='none')\nself.c = nn.L1Loss(reduction='sum')",
                             "return self.a(x, y), self.b(x, y), self.c(x, y[:1])", "x, y"),
                        {"x": ("normal", (3, 4)), "y": ("normal", (3, 4))}, False),
    "torch.nn.NLLLoss": (_net(
        "self.a = nn.NLLLoss()\nself.b = nn.NLLLoss(w, reduction='sum')\nself.c = nn.NLLLoss(weight=w, ignore_index=2)\n"
        "self.d = nn.NLLLoss(reduction='none')",
        "return self.a(logp, labels), self.b(logp, labels), self.c(logp, labels), self.d(logp, labels)",
        "logp, labels").replace("class Net", "w = torch.tensor([0.5, 1.0, 2.0, 1.5, 0.2])\n\n\nclass Net"),
        {"logp": ("logprob", (6, 5)), "labels": ("int", 5, (6,))}, False),
    "torch.nn.KLDivLoss": (_net(
        "self.a = nn.KLDivLoss(reduction='batchmean')\nself.b = nn.KLDivLoss()\n"
        "self.c = nn.KLDivLoss(reduction='batchmean', log_target=True)\nself.d = nn.KLDivLoss(reduction='none', log_target=True)\n"
        "self.e = nn.KLDivLoss(reduction='sum')",
        "return self.a(logp, p), self.b(logp, p), self.c(logp, logq), self.d(logp, logq), self.e(logp, p)",
        "logp, p, logq"), {"logp": ("logprob", (6, 5)), "p": ("prob", (6, 5)), "logq": ("logprob", (6, 5))}, False),
    "torch.nn.SmoothL1Loss": (_net(
        "self.a = nn.SmoothL1Loss()\nself.b = nn.SmoothL1Loss(reduction='none', beta=0.5)\nself.c = nn.SmoothL1Loss(beta=2.0)",
        "return self.a(x, y), self.b(x, y), self.c(x, y)", "x, y"),
        {"x": ("normal", (3, 4)), "y": ("normal", (3, 4))}, False),
    "torch.nn.MultiheadAttention": (_net(
        "self.a = nn.MultiheadAttention(8, 2)\nself.b = nn.MultiheadAttention(8, 2, batch_first=True, kdim=4, vdim=6)",
        "out, weights = self.a(q, k, k, key_padding_mask=pad)\n"
        "out2, _ = self.a(q, k, k, need_weights=False, attn_mask=mask)\n"
        "out3, w3 = self.b(q.transpose(0, 1), kb, vb, average_attn_weights=False)\n"
        "return out, weights, out2, out3, w3", "q, k, kb, vb, pad, mask"),
        {"q": ("normal", (5, 3, 8)), "k": ("normal", (6, 3, 8)), "kb": ("normal", (3, 6, 4)), "vb": ("normal", (3, 6, 6)),
         "pad": ("mask", (3, 6)), "mask": ("causal", (5, 6))}, False),
    "torch.nn.TransformerEncoderLayer": (_net(
        "self.a = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)\n"
        "self.b = nn.TransformerEncoderLayer(8, 2, 16, 0.1, 'gelu', 1e-3, batch_first=True, norm_first=True)",
        "return self.a(x, src_key_padding_mask=pad), self.b(x.transpose(0, 1), src_mask=mask)", "x, pad, mask"),
        {"x": ("normal", (5, 3, 8)), "pad": ("mask", (3, 5)), "mask": ("causal", (5, 5))}, False),
    "torch.nn.TransformerDecoderLayer": (_net(
        "self.a = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)\n"
        "self.b = nn.TransformerDecoderLayer(8, 2, 16, 0.1, 'gelu', 1e-3, batch_first=True, norm_first=True)",
        "return self.a(tgt, x, tgt_mask=mask4, memory_key_padding_mask=pad), self.b(tgt.transpose(0, 1), x.transpose(0, 1))",
        "x, tgt, pad, mask4"),
        {"x": ("normal", (5, 3, 8)), "tgt": ("normal", (4, 3, 8)), "pad": ("mask", (3, 5)), "mask4": ("causal", (4, 4))},
        False),
    "torch.nn.TransformerDecoder": (_net(
        "self.a = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8))",
        "return self.a(tgt, x, tgt_mask=mask4, tgt_key_padding_mask=tpad), self.a(tgt, x)", "x, tgt, tpad, mask4"),
        {"x": ("normal", (5, 3, 8)), "tgt": ("normal", (4, 3, 8)), "tpad": ("mask", (3, 4)), "mask4": ("causal", (4, 4))},
        False),
    "torch.nn.Transformer": (_net(
        "self.a = nn.Transformer(8, 2, 1, 2, 16, batch_first=True)\nself.b = nn.Transformer(8, 2, 2, 1, 16, norm_first=True)",
        "mask = nn.Transformer.generate_square_subsequent_mask(4)\n"
        "return (self.a(x.transpose(0, 1), tgt.transpose(0, 1), tgt_mask=mask, src_key_padding_mask=pad, "
        "memory_key_padding_mask=pad), self.b(x, tgt, tgt_mask=mask))", "x, tgt, pad"),
        {"x": ("normal", (5, 3, 8)), "tgt": ("normal", (4, 3, 8)), "pad": ("mask", (3, 5))}, False),
    "torch.nn.Transformer.generate_square_subsequent_mask": (_net(
        "self.lin = nn.Linear(4, 4)",
        "return nn.Transformer.generate_square_subsequent_mask(4) + x, nn.Transformer.generate_square_subsequent_mask(1)"),
        {"x": ("normal", (4, 4))}, False),
    "torch.nn.TransformerEncoder": (_net(
        "self.a = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8))\n"
        "self.b = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1, "
        "enable_nested_tensor=False)",
        "return self.a(x, src_key_padding_mask=pad), self.b(x.transpose(0, 1), mask=mask), self.a(x)", "x, pad, mask"),
        {"x": ("normal", (5, 3, 8)), "pad": ("mask", (3, 5)), "mask": ("causal", (5, 5))}, False),
}

#: torch parameter names -> MindSpore names that ``name_map`` does not give (see the entry's note)
EXTRA_RENAMES: dict = {}
#: torch state that MindSpore does not save: a loss's class weights (a plain attribute there)
TORCH_ONLY = {"torch.nn.NLLLoss": {"b.weight", "c.weight"}}
#: MindSpore parameters torch does not have: affine=False keeps a fixed (untrained) gamma = 1, beta = 0
MINDSPORE_ONLY = {"torch.nn.BatchNorm2d": {"fixed.gamma", "fixed.beta"}, "torch.nn.BatchNorm3d": {"fixed.gamma", "fixed.beta"},
                  "torch.nn.GroupNorm": {"b.gamma", "b.beta", "c.gamma", "c.beta"}}


def _draw(spec, rng):
    kind = spec[0]
    if kind == "int":
        return rng.integers(0, spec[1], spec[2]).astype(np.int64)
    if kind == "prob":
        return rng.dirichlet(np.ones(spec[1][-1]), spec[1][:-1]).astype(np.float32)
    if kind == "logprob":
        return np.log(rng.dirichlet(np.ones(spec[1][-1]), spec[1][:-1])).astype(np.float32)
    if kind == "mask":  # key padding: the last key of the first sequence is left out
        mask = np.zeros(spec[1], bool)
        mask[0, -1] = True
        return mask
    if kind == "causal":
        return np.triu(np.ones(spec[1], bool), 1)
    return rng.standard_normal(spec[1]).astype(np.float32)


def _compare(got, want, atol, path="out"):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {len(got)} vs {len(want)} results"
        for i, (g, w) in enumerate(zip(got, want)):
            _compare(g, w, atol, f"{path}[{i}]")
        return
    assert got.shape == want.shape, f"{path}: shape {got.shape} vs torch {want.shape}"
    assert got.dtype == want.dtype, f"{path}: dtype {got.dtype} vs torch {want.dtype}"
    np.testing.assert_allclose(got, want, atol=atol, rtol=0, err_msg=path)


pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)


def _section_keys() -> list[str]:
    return section_keys(SECTION)


def test_every_layer_entry_with_a_tolerance_has_a_case():
    keys = _section_keys()
    assert "torch.nn.Conv2d" in keys and "torch.nn.TransformerEncoderLayer" in keys
    missing = [k for k in keys if SPEC.get(k).tolerance is not None and k not in CASES]
    assert not missing
    assert not [k for k in CASES if SPEC.get(k) is None or SPEC.get(k).tolerance is None]


def _copy_weights(key, t_net, ms_net):
    mapping = dict(name_map(t_net))
    for old, new in EXTRA_RENAMES.get(key, ()):
        mapping = {k: v.replace(old, new) for k, v in mapping.items()}
    ms_params = ms_net.parameters_dict()
    t_state = t_net.state_dict()
    torch_only = TORCH_ONLY.get(key, set())
    mapping = {k: v for k, v in mapping.items() if k not in torch_only}
    ms_only = MINDSPORE_ONLY.get(key, set())
    assert set(mapping.values()) == set(ms_params) - ms_only, (sorted(mapping.values()), sorted(ms_params))
    for name in ms_only:
        param = ms_params[name]
        assert not param.requires_grad and np.all(param.asnumpy() == (1.0 if name.endswith("gamma") else 0.0))
    for t_name, ms_name in mapping.items():
        value = t_state[t_name].detach().numpy()
        assert tuple(ms_params[ms_name].shape) == value.shape, (t_name, ms_name)
        ms_params[ms_name].set_data(mindspore.Tensor(value.copy(), dtype=ms_params[ms_name].dtype))


def run_layer_case(key, source, inputs_spec, training, draw, jit, module, tmp_path, monkeypatch):
    """Convert a ``Net`` case with the real table (every site converted, ``key`` among them,
    no torch left, ``@mindspore.jit`` exactly when asked), import it, copy torch's weights
    into it, set both to ``training`` and run both on copies of the same inputs (drawn with
    ``draw(spec, rng)``): the converted and the torch results.  A case module that defines
    ``run(net, *inputs)`` is run through it instead of one call."""
    converted = convert_source(source, SPEC, "case.py", jit=jit)
    assert not [s for s in converted.sites if s.kind not in ("converted", "graph")], converted.code
    assert any(s.rule == key for s in converted.sites), f"{key} not converted:\n{converted.code}"
    assert not re.search(r"^\s*(import|from) torch|(?<![\w.])torch\.", converted.code, re.M), converted.code
    assert ("@jit_construct" in converted.code) == jit, converted.code
    (tmp_path / f"{module}.py").write_text(converted.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ms_mod = importlib.import_module(module)
    t_mod: dict = {"__name__": "torch_case"}
    exec(compile(source, "<torch>", "exec"), t_mod)

    torch.manual_seed(0)
    t_net, ms_net = t_mod["Net"](), ms_mod.Net()
    _copy_weights(key, t_net, ms_net)
    t_net.train(training)
    ms_net.set_train(training)
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    inputs = {name: draw(spec, rng) for name, spec in inputs_spec.items()}
    t_args = [torch.from_numpy(a.copy()) for a in inputs.values()]
    ms_args = [mindspore.Tensor(a.copy()) for a in inputs.values()]
    if "run" in t_mod:
        return _numpy(ms_mod.run(ms_net, *ms_args)), _numpy(t_mod["run"](t_net, *t_args))
    return _numpy(ms_net(*ms_args)), _numpy(t_net(*t_args))


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "pynative"])
@pytest.mark.parametrize("key", sorted(CASES))
def test_converted_layer_matches_torch(key, jit, tmp_path, monkeypatch):
    source, inputs_spec, training = CASES[key]
    got, want = run_layer_case(key, source, inputs_spec, training, _draw, jit,
                               f"layercase_{zlib.crc32(key.encode())}_{int(jit)}", tmp_path, monkeypatch)
    _compare(got, want, SPEC.get(key).tolerance)


# --------------------------------------------------------------------------
# what the helpers do beyond the cases above




def test_mindspore_layers_differ_where_the_helpers_say(compat):
    """The measured reasons for the helpers, so that a MindSpore release that fixes them shows."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 5, 7)).astype(np.float32)
    t = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    plain = mindspore.nn.Conv2dTranspose(4, 6, 3, stride=2, pad_mode="pad", padding=1, output_padding=1, has_bias=True)
    helper = compat.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
    for cell in (plain, helper):
        cell.weight.set_data(mindspore.Tensor(t.weight.detach().numpy()))
        cell.bias.set_data(mindspore.Tensor(t.bias.detach().numpy()))
    want = t(torch.from_numpy(x)).detach().numpy()
    assert np.abs(plain(mindspore.Tensor(x)).asnumpy() - want).max() > 0.1
    np.testing.assert_allclose(helper(mindspore.Tensor(x)).asnumpy(), want, atol=1e-5, rtol=0)
    assert mindspore.nn.MaxPool2d(2)(mindspore.Tensor(x)).shape == (2, 4, 4, 6)  # stride 1 by default
    assert compat.MaxPool2d(2)(mindspore.Tensor(x)).shape == (2, 4, 2, 3)
    assert mindspore.nn.Conv1d(4, 6, 3).weight.shape == (6, 4, 1, 3)
    assert compat.Conv1d(4, 6, 3).weight.shape == (6, 4, 3)
    with pytest.raises(Exception):
        mindspore.nn.LSTM(4, 5, dropout=0)
    small = mindspore.Tensor(np.full((2, 3), 1e-5, np.float32))
    assert float(mindspore.ops.cosine_similarity(small, small)[0]) < 0.1
    assert abs(float(compat.cosine_similarity(small, small)[0]) - 1.0) < 1e-6
    _, none = compat.MultiheadAttention(8, 2)(*(mindspore.Tensor(rng.standard_normal((5, 3, 8)).astype(np.float32)),) * 3,
                                               need_weights=False)
    assert none is None
    assert not compat.MultiheadAttention(8, 2).out_proj.bias.asnumpy().any()  # torch starts it at zero


def test_helper_upsample_refuses_what_it_cannot_match(compat):
    x = mindspore.Tensor(np.zeros((1, 1, 5, 6), np.float32))
    with pytest.raises(ValueError, match="not an integer"):
        compat.Upsample(scale_factor=1.5, mode="bilinear")(x)
    with pytest.raises(ValueError, match="bicubic"):
        compat.Upsample(scale_factor=2, mode="bicubic")
    assert compat.Upsample(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)(x).shape == (1, 1, 7, 9)
    want = torch.nn.Upsample(scale_factor=1.5, mode="area")(torch.arange(30.0).reshape(1, 1, 5, 6)).numpy()
    got = compat.Upsample(scale_factor=1.5, mode="area")(mindspore.Tensor(np.arange(30.0, dtype=np.float32).reshape(1, 1, 5, 6)))
    np.testing.assert_allclose(got.asnumpy(), want, atol=1e-5, rtol=0)


def test_helper_conv_and_attention_argument_errors_as_torch(compat):
    with pytest.raises(ValueError, match="strided"):
        compat.Conv2d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        compat.Conv1d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="zeros"):
        compat.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="proj_size"):
        compat.LSTM(2, 3, proj_size=2)
    q = mindspore.Tensor(np.zeros((2, 1, 4), np.float32))
    with pytest.raises(RuntimeError, match="attn_mask"):
        compat.MultiheadAttention(4, 2)(q, q, q, is_causal=True)


@pytest.mark.parametrize("name, kwargs, shape", [
    ("Conv1d", {"in_channels": 16, "out_channels": 32, "kernel_size": 3}, (32, 16, 3)),
    ("Conv2d", {"in_channels": 16, "out_channels": 32, "kernel_size": 3}, (32, 16, 3, 3)),
    ("ConvTranspose2d", {"in_channels": 16, "out_channels": 32, "kernel_size": 3, "groups": 2}, (16, 16, 3, 3)),
])
def test_helper_conv_initialization_is_torchs(compat, name, kwargs, shape):
    """kaiming-uniform with a = sqrt(5): weight and bias within +-1/sqrt(fan_in), as torch's."""
    t = getattr(torch.nn, name)(**kwargs)
    m = getattr(compat, name)(**kwargs)
    assert tuple(m.weight.shape) == tuple(t.weight.shape) == shape
    bound = 1 / np.sqrt(np.prod(shape[1:]))
    for tensor in (m.weight.asnumpy(), m.bias.asnumpy()):
        assert np.abs(tensor).max() <= bound + 1e-7
        assert np.abs(tensor).max() > 0.8 * bound
    assert abs(m.weight.asnumpy().std() - t.weight.detach().numpy().std()) < 0.1 * bound


@pytest.mark.parametrize("cls", ["Conv1d", "Conv2d"])
def test_conv_helpers_keep_torchs_attributes_for_the_functional_form(compat, cls):
    """``stride``, ``padding``, ``dilation``... read as torch's, so that code handing a layer's own
    attributes to ``F.conv2d`` (DeepCTR-Torch's Conv2dSame) computes what torch computes
    (MindSpore's Conv2d keeps ``padding`` as (top, bottom, left, right), which F.conv2d refused)."""
    rng = np.random.default_rng(0)
    for kwargs in ({}, {"stride": 2, "padding": 1}, {"padding": "same"}, {"padding": 2, "dilation": 2},
                   {"padding": 1, "padding_mode": "reflect"}, {"padding": "valid", "bias": False}):
        t_layer = getattr(torch.nn, cls)(3, 4, 3, **kwargs)
        ms_layer = getattr(compat, cls)(3, 4, 3, **kwargs)
        for attr in ("stride", "padding", "dilation", "kernel_size", "groups", "in_channels", "out_channels",
                     "padding_mode"):
            assert getattr(ms_layer, attr) == getattr(t_layer, attr), (kwargs, attr)
    if cls == "Conv2d":
        t_layer = torch.nn.Conv2d(3, 4, 3, stride=1, padding=(1, 2))
        ms_layer = compat.Conv2d(3, 4, 3, stride=1, padding=(1, 2))
        ms_layer.weight.set_data(mindspore.Tensor(t_layer.weight.detach().numpy()))
        ms_layer.bias.set_data(mindspore.Tensor(t_layer.bias.detach().numpy()))
        x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
        want = torch.nn.functional.conv2d(torch.from_numpy(x), t_layer.weight, t_layer.bias, t_layer.stride,
                                          t_layer.padding, t_layer.dilation, t_layer.groups).detach().numpy()
        got = compat.conv2d(mindspore.Tensor(x), ms_layer.weight, ms_layer.bias, ms_layer.stride, ms_layer.padding,
                            ms_layer.dilation, ms_layer.groups).asnumpy()
        np.testing.assert_allclose(got, want, atol=1e-5)
        np.testing.assert_allclose(ms_layer(mindspore.Tensor(x)).asnumpy(), want, atol=1e-5)
