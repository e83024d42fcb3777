"""The "more layers, functional forms and explained gaps" entries compute what torch computes.

Functional forms: each case is a small torch function converted with the real table; both run
on the same random input and must agree within the entry's ``tolerance`` (values and dtypes),
in PyNative and under mindspore.jit
(reusing the machinery of tests/test_migrate_numeric_functions.py).  Layers: a ``Net`` built
from the layer, converted, torch's parameters copied into the Cell under ``name_map``'s names
(LSTMCell/GRUCell: torch's own names), run with and without ``@mindspore.jit``
(tests/test_migrate_numeric_layers.py's machinery).  The entries without a target must be
reported unsupported with their note; the reductions must take torch's ``axis=`` alias.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec
from test_migrate_numeric import _compare, case_source, converted_f, run_both, run_jit, section_keys

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from test_migrate_numeric_layers import _compare as _compare_layer  # noqa: E402
from test_migrate_numeric_layers import _net, run_layer_case  # noqa: E402

SPEC = load_spec()
SECTION = "# ---------------------------------------------------------------- more layers, functional forms and explained gaps"
HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"

# input name -> (kind, shape[, bound]); kinds: normal, wide (x 30: softplus/logsigmoid tails), logprob, prob, int, sign
INPUTS = {
    "x": ("normal", (3, 8)),
    "y": ("normal", (3, 8)),
    "x3": ("normal", (2, 3, 5)),
    "y3": ("normal", (2, 3, 5)),
    "wide": ("wide", (4, 10)),
    "ints": ("int", (3, 8), 9),
    "logp": ("logprob", (6, 5)),
    "logq": ("logprob", (6, 5)),
    "q": ("prob", (6, 5)),
    "labels": ("int", (6,), 5),
    "w5": ("positive", (5,)),
    "a": ("normal", (7,)),
    "b": ("normal", (7,)),
    "sgn": ("sign", (7,)),
    "seq": ("normal", (2, 4, 11)),
    "k": ("normal", (6, 4, 3)),
    "kg": ("normal", (6, 2, 4)),
    "kb": ("normal", (6,)),
    "g5": ("normal", (5,)),
    "rm": ("normal", (3,)),
    "rv": ("positive", (3,)),
    "g3": ("normal", (3,)),
    "img": ("normal", (4, 3, 5, 6)),
    "ids": ("int", (9,), 10),
    "ids2": ("int", (3, 4), 10),
    "offs": ("offsets", (0, 3, 3, 5)),
    "w10": ("normal", (10, 4)),
    "psw": ("normal", (9,)),
}

#: case id -> (entry, body of `def f(<inputs used>)`)
FN_CASES = {
    "softmin": ("torch.nn.functional.softmin", "return F.softmin(x, dim=1), F.softmin(x3, -1), F.softmin(x), "
                "F.softmin(x3), F.softmin(x, 0, dtype=torch.float64)"),
    "embedding_bag": ("torch.nn.functional.embedding_bag",
                      "return F.embedding_bag(ids2, w10), F.embedding_bag(ids, w10, offs, mode='max'), "
                      "F.embedding_bag(ids, w10, offs, mode='sum', per_sample_weights=psw, padding_idx=2)"),
    "pdist": ("torch.nn.functional.pdist", "return F.pdist(x), F.pdist(x, p=1.0), F.pdist(x[:2], 3.0)"),
    "rms_norm": ("torch.nn.functional.rms_norm",
                 "return F.rms_norm(x, (8,)), F.rms_norm(x3, [3, 5], eps=1e-2), F.rms_norm(x, [8], weight=x[0])"),
    "relu6": ("torch.nn.functional.relu6", "return F.relu6(x * 4), F.relu6(x, inplace=False)"),
    "elu": ("torch.nn.functional.elu", "return F.elu(x * 4), F.elu(x, alpha=0.5), F.elu(x, 2.0, False)"),
    "selu": ("torch.nn.functional.selu", "return F.selu(x * 4), F.selu(x3.double())"),
    "tanh": ("torch.nn.functional.tanh", "return F.tanh(x * 4), F.tanh(wide)"),
    "softplus": ("torch.nn.functional.softplus", "return F.softplus(x), F.softplus(wide, beta=2, threshold=5), F.softplus(x, 0.5)"),
    "nll_loss": ("torch.nn.functional.nll_loss",
                 "return F.nll_loss(logp, labels), F.nll_loss(logp, labels, w5, ignore_index=2), "
                 "F.nll_loss(logp, labels, reduction='none'), F.nll_loss(logp, labels, weight=w5, reduction='sum')"),
    "l1_loss": ("torch.nn.functional.l1_loss", "return F.l1_loss(x, y), F.l1_loss(x, y, reduction='none'), F.l1_loss(x3, y3[0], reduction='sum')"),
    "smooth_l1_loss": ("torch.nn.functional.smooth_l1_loss",
                       "return F.smooth_l1_loss(x, y), F.smooth_l1_loss(x * 2, y, beta=0.5), "
                       "F.smooth_l1_loss(x, y, reduction='none', beta=2.0), F.smooth_l1_loss(x, y, reduction='sum')"),
    "kl_div": ("torch.nn.functional.kl_div",
               "return F.kl_div(logp, q), F.kl_div(logp, q, reduction='batchmean'), F.kl_div(logp, q, reduction='sum'), "
               "F.kl_div(logp, q, reduction='none'), F.kl_div(logp, logq, reduction='batchmean', log_target=True), "
               "F.kl_div(logp, logq, reduction='mean', log_target=True)"),
    "pairwise_distance": ("torch.nn.functional.pairwise_distance",
                          "return F.pairwise_distance(x, y), F.pairwise_distance(x3, y3, 1.0, 1e-3, True), "
                          "F.pairwise_distance(x3, y3[0, 0], p=float('inf')), F.pairwise_distance(a, b), F.pairwise_distance(x, y, 3)"),
    "conv1d": ("torch.nn.functional.conv1d",
               "return F.conv1d(seq, k), F.conv1d(seq, k, kb, 2, 1), F.conv1d(seq, kg, None, 1, 'same', 2, 2), "
               "F.conv1d(seq[0], k, kb, (1,), (2,)), F.conv1d(seq, k, padding='valid', stride=3)"),
    "layer_norm": ("torch.nn.functional.layer_norm",
                   "return F.layer_norm(x3, (5,)), F.layer_norm(x3, [5], g5, g5 * 2, 1e-3), "
                   "F.layer_norm(x3 * 100 + 3, (3, 5)), F.layer_norm(x3, x3.shape[-1:], weight=g5)"),
    "batch_norm_eval": ("torch.nn.functional.batch_norm",
                        "return F.batch_norm(x3, rm, rv), "
                        "F.batch_norm(img, rm, rv, g3, rm * 2, eps=1e-3), F.batch_norm(img[:, :, 0, 0], rm, rv), "
                        "F.batch_norm(img, None, None, g3, None, True), F.batch_norm(img, None, None, training=True)"),
    "batch_norm_train": ("torch.nn.functional.batch_norm",
                         "mean, var = rm.clone(), rv.clone()\n"
                         "    out = F.batch_norm(img, mean, var, g3, rm, training=True, momentum=0.3)\n"
                         "    out2 = F.batch_norm(img * 2 + 1, mean, var, training=True)\n"
                         "    return out, out2, mean, var"),
    "softsign": ("torch.nn.functional.softsign", "return F.softsign(x * 4), F.softsign(wide)"),
    "logsigmoid": ("torch.nn.functional.logsigmoid", "return F.logsigmoid(x), F.logsigmoid(wide * 5)"),
    "hardtanh": ("torch.nn.functional.hardtanh",
                 "return F.hardtanh(x * 2), F.hardtanh(x * 4, -2.0, 3.0), F.hardtanh(x, max_val=0.5), F.hardtanh(ints, 2, 5)"),
    "mish": ("torch.nn.functional.mish", "return F.mish(x * 4), F.mish(wide)"),
    "glu": ("torch.nn.functional.glu", "return F.glu(x), F.glu(x[:2], 0), F.glu(x3[:, :2], dim=1), F.glu(x, dim=1)"),
    "margin_ranking_loss": ("torch.nn.functional.margin_ranking_loss",
                            "return F.margin_ranking_loss(a, b, sgn), F.margin_ranking_loss(a, b, sgn, 0.5), "
                            "F.margin_ranking_loss(a, b, sgn, margin=0.2, reduction='none'), "
                            "F.margin_ranking_loss(a, b, sgn, reduction='sum')"),
    "hardswish": ("torch.nn.functional.hardswish", "return F.hardswish(x * 4), F.hardswish(wide, inplace=False), F.hardswish(x3.double() * 4)"),
    "hardsigmoid": ("torch.nn.functional.hardsigmoid", "return F.hardsigmoid(x * 4), F.hardsigmoid(wide, False), F.hardsigmoid(x3.double() * 4)"),
    "group_norm": ("torch.nn.functional.group_norm",
                   "return F.group_norm(img, 3), F.group_norm(img, 1, g3, rm, 1e-3), F.group_norm(x3, num_groups=3, weight=g3), "
                   "F.group_norm(img * 5 + 2, 3, bias=g3, eps=0.1)"),
    "pixel_shuffle": ("torch.nn.functional.pixel_shuffle",
                      "return F.pixel_shuffle(img[:, :1].repeat(1, 4, 1, 1), 2), F.pixel_shuffle(img.reshape(1, 4, 3, 30), upscale_factor=2), "
                      "F.pixel_shuffle(img.reshape(8, 9, 5), 2), F.pixel_shuffle(img.reshape(2, 2, 9, 5, 2), 3)"),
    "adaptive_max_pool2d": ("torch.nn.functional.adaptive_max_pool2d",
                            "values, idx = F.adaptive_max_pool2d(img, (2, 4), True)\n"
                            "    return F.adaptive_max_pool2d(img, 1), values, idx, F.adaptive_max_pool2d(img[0], output_size=(None, 4)), "
                            "F.adaptive_max_pool2d(img, 3, return_indices=False)"),
    "adaptive_avg_pool1d": ("torch.nn.functional.adaptive_avg_pool1d",
                            "return F.adaptive_avg_pool1d(seq, 4), F.adaptive_avg_pool1d(seq, 1), F.adaptive_avg_pool1d(seq[0], (5,)), "
                            "F.adaptive_avg_pool1d(seq, output_size=11)"),
    "max_pool1d": ("torch.nn.functional.max_pool1d",
                   "values, idx = F.max_pool1d(seq, 3, 2, 1, 2, False, True)\n"
                   "    return F.max_pool1d(seq, 2), F.max_pool1d(seq, 3, stride=2, padding=1, ceil_mode=True), values, idx, "
                   "F.max_pool1d(seq[0], (3,), (1,)), F.max_pool1d(seq, 2, return_indices=True)[1]"),
    "avg_pool1d": ("torch.nn.functional.avg_pool1d",
                   "return F.avg_pool1d(seq, 2), F.avg_pool1d(seq, 3, 2, 1, False, False), "
                   "F.avg_pool1d(seq, 3, stride=2, padding=1, ceil_mode=True), F.avg_pool1d(seq[0], (4,), count_include_pad=True)"),
    "celu": ("torch.nn.functional.celu", "return F.celu(x * 4), F.celu(wide, 0.5), F.celu(x, alpha=2.0, inplace=False), F.celu(x3.double())"),
    "huber_loss": ("torch.nn.functional.huber_loss",
                   "return F.huber_loss(x * 2, y), F.huber_loss(x, y, 'none', 0.5), F.huber_loss(x3, y3[0], reduction='sum', delta=3.0)"),
    # torch's axis= alias of dim= in the reductions (the existing entries without `args`; see
    # test_axis_alias_where_args_are_declared for the others)
    "axis_max": ("torch.max", "values, idx = torch.max(x, axis=1)\n    return values, idx, torch.max(x3, axis=0, keepdim=True)[0]"),
    "axis_min": ("torch.min", "values, idx = torch.min(x, axis=0)\n    return values, idx, torch.min(x3, axis=2, keepdim=True)[1]"),
    "axis_tensor_sum": ("torch.Tensor.sum", "return x.sum(axis=1), x3.sum(axis=0, keepdim=True)"),
    "axis_tensor_mean": ("torch.Tensor.mean", "return x.mean(axis=1), x3.mean(axis=-1, keepdim=True)"),
    "axis_tensor_max": ("torch.Tensor.max", "values, idx = x.max(axis=1)\n    return values, idx, x3.max(axis=0, keepdim=True)[0]"),
    "axis_tensor_min": ("torch.Tensor.min", "values, idx = x.min(axis=0)\n    return values, idx, x3.min(axis=2)[1]"),
}
#: cases not run under mindspore.jit (none: batch_norm's in-place running statistics update there too, measured)
NOT_JITTED: set = set()


def _draw(spec, rng):
    kind, shape = spec[0], spec[1]
    if kind == "int":
        return rng.integers(0, spec[2], shape).astype(np.int64)
    if kind == "offsets":  # fixed bag starts (EmbeddingBag)
        return np.array(shape, np.int64)
    if kind == "prob":
        return rng.dirichlet(np.ones(shape[-1]), shape[:-1]).astype(np.float32)
    if kind == "logprob":
        return np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1])).astype(np.float32)
    if kind == "sign":
        return np.where(rng.standard_normal(shape) > 0, 1.0, -1.0).astype(np.float32)
    data = rng.standard_normal(shape).astype(np.float32)
    if kind == "wide":
        return data * 30
    return np.abs(data) + 0.5 if kind == "positive" else data


def _source(body: str) -> tuple[str, list[str]]:
    return case_source(body, INPUTS, HEADER)


def _inputs(case, used):
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    return {n: _draw(INPUTS[n], rng) for n in used}


pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)


def _convert(case, tmp_path, monkeypatch):
    key, body = FN_CASES[case]
    source, used = _source(body)
    return source, used, converted_f(source, key, f"nncase_{zlib.crc32(case.encode())}", tmp_path, monkeypatch)


def _section_keys() -> list[str]:
    return section_keys(SECTION)


def test_every_entry_of_this_section_with_a_tolerance_has_a_case():
    keys = _section_keys()
    assert "torch.nn.functional.relu6" in keys and "torch.autograd.grad" in keys
    covered = {key for key, _ in FN_CASES.values()} | set(LAYER_CASES)
    missing = [k for k in keys if SPEC.get(k).tolerance is not None and k not in covered]
    assert not missing
    assert not [k for k in covered if SPEC.get(k) is None or SPEC.get(k).tolerance is None]


@pytest.mark.parametrize("case", sorted(FN_CASES))
def test_converted_code_matches_torch(case, tmp_path, monkeypatch):
    source, used, f = _convert(case, tmp_path, monkeypatch)
    inputs = _inputs(case, used)
    got, want = run_both(source, f, inputs)
    _compare(got, want, SPEC.get(FN_CASES[case][0]).tolerance)


@pytest.mark.parametrize("case", sorted(set(FN_CASES) - NOT_JITTED))
def test_converted_code_runs_the_same_under_jit(case, tmp_path, monkeypatch):
    _, used, f = _convert(case, tmp_path, monkeypatch)
    inputs = _inputs(case, used)
    got, want = run_jit(f, inputs)
    _compare(got, want, max(SPEC.get(FN_CASES[case][0]).tolerance, 1e-6), int32_ok=True)


# ---------------------------------------------------------------- layers
#: torch name -> (source, inputs: name -> (kind, shape), training mode?)
LAYER_CASES = {
    "torch.nn.SELU": (_net("self.a = nn.SELU()\nself.b = nn.SELU(inplace=True)", "return self.a(x * 4), self.b(x)"),
                      {"x": ("normal", (3, 40))}, False),
    "torch.nn.Mish": (_net("self.a = nn.Mish()\nself.b = nn.Mish(True)", "return self.a(x * 4), self.b(x * 30)"),
                      {"x": ("normal", (3, 40))}, False),
    "torch.nn.LogSigmoid": (_net("self.a = nn.LogSigmoid()", "return self.a(x), self.a(x * 150)"),
                            {"x": ("normal", (3, 40))}, False),
    "torch.nn.Hardtanh": (_net("self.a = nn.Hardtanh()\nself.b = nn.Hardtanh(-2.0, 3.0)\nself.c = nn.Hardtanh(max_val=0.5, inplace=True)",
                               "return self.a(x), self.b(x * 4), self.c(x)"), {"x": ("normal", (3, 40))}, False),
    "torch.nn.MaxPool1d": (_net(
        "self.a = nn.MaxPool1d(2)\nself.b = nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True)\n"
        "self.c = nn.MaxPool1d(3, 2, 1, 2)\nself.d = nn.MaxPool1d(2, return_indices=True)",
        "values, indices = self.d(x)\nreturn self.a(x), self.b(x), self.c(x), values, indices, self.a(x[0])"),
        {"x": ("normal", (2, 3, 9))}, False),
    "torch.nn.AvgPool1d": (_net(
        "self.a = nn.AvgPool1d(2)\nself.b = nn.AvgPool1d(3, 2, 1, count_include_pad=False)\n"
        "self.c = nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True)",
        "return self.a(x), self.b(x), self.c(x), self.a(x[0])"), {"x": ("normal", (2, 3, 9))}, False),
    "torch.nn.AdaptiveAvgPool1d": (_net(
        "self.a = nn.AdaptiveAvgPool1d(1)\nself.b = nn.AdaptiveAvgPool1d(4)\nself.c = nn.AdaptiveAvgPool1d((5,))",
        "return self.a(x), self.b(x), self.c(x), self.b(x[0])"), {"x": ("normal", (2, 3, 9))}, False),
    "torch.nn.LSTMCell": (_net(
        "self.a = nn.LSTMCell(4, 5)\nself.b = nn.LSTMCell(5, 3, bias=False)",
        "h, c = self.a(x, (h0, c0))\nh2, c2 = self.b(h)\nh3, c3 = self.a(x[0])\nreturn h, c, h2, c2, h3, c3", "x, h0, c0"),
        {"x": ("normal", (6, 4)), "h0": ("normal", (6, 5)), "c0": ("normal", (6, 5))}, False),
    "torch.nn.GRUCell": (_net(
        "self.a = nn.GRUCell(4, 5)\nself.b = nn.GRUCell(5, 3, False)",
        "h = self.a(x, h0)\nreturn h, self.b(h), self.a(x[0], h0[0])", "x, h0"),
        {"x": ("normal", (6, 4)), "h0": ("normal", (6, 5))}, False),
    "torch.nn.EmbeddingBag": (_net(
        "self.a = nn.EmbeddingBag(10, 4)\nself.b = nn.EmbeddingBag(10, 4, mode='max', include_last_offset=True)\n"
        "self.c = nn.EmbeddingBag(10, 4, mode='sum', padding_idx=0)",
        "return self.a(ids2), self.a(ids, offs), self.b(ids, offs_last), self.c(ids, offs, per_sample_weights=w), "
        "self.c(ids2)", "ids, ids2, offs, offs_last, w"),
        {"ids": ("int", (9,), 10), "ids2": ("int", (3, 4), 10), "offs": ("offsets", (0, 3, 3, 5)),
         "offs_last": ("offsets", (0, 4, 4, 9)), "w": ("normal", (9,))}, False),
    "torch.nn.ZeroPad1d": (_net("self.a = nn.ZeroPad1d(2)\nself.b = nn.ZeroPad1d((1, -2))",
                                "return self.a(x), self.b(x), self.a(x[0])"), {"x": ("normal", (2, 3, 6))}, False),
    "torch.nn.ConstantPad1d": (_net("self.a = nn.ConstantPad1d(2, 3.5)\nself.b = nn.ConstantPad1d((0, 3), -1.0)",
                                    "return self.a(x), self.b(x)"), {"x": ("normal", (2, 3, 6))}, False),
    "torch.nn.ReflectionPad1d": (_net("self.a = nn.ReflectionPad1d(2)\nself.b = nn.ReflectionPad1d((3, 1))",
                                      "return self.a(x), self.b(x), self.a(x[0])"), {"x": ("normal", (2, 3, 6))}, False),
    "torch.nn.ReplicationPad1d": (_net("self.a = nn.ReplicationPad1d(2)\nself.b = nn.ReplicationPad1d((0, 4))",
                                       "return self.a(x), self.b(x)"), {"x": ("normal", (2, 3, 6))}, False),
    "torch.nn.PairwiseDistance": (_net(
        "self.a = nn.PairwiseDistance()\nself.b = nn.PairwiseDistance(p=1.0, eps=1e-3, keepdim=True)",
        "return self.a(x, y), self.b(x, y), self.a(x, y[:1])", "x, y"),
        {"x": ("normal", (4, 6)), "y": ("normal", (4, 6))}, False),
    "torch.nn.RMSNorm": (_net(
        "self.a = nn.RMSNorm(6)\nself.b = nn.RMSNorm([3, 6], eps=1e-3)\nself.c = nn.RMSNorm((6,), elementwise_affine=False)\n"
        "nn.init.normal_(self.a.weight)",
        "return self.a(x), self.b(x), self.c(x)"), {"x": ("normal", (2, 3, 6))}, False),
    "torch.nn.RNNCell": (_net(
        "self.a = nn.RNNCell(4, 5)\nself.b = nn.RNNCell(5, 3, False, nonlinearity='relu')",
        "h = self.a(x, h0)\nreturn h, self.b(h), self.a(x[0], h0[0]), self.a(x)", "x, h0"),
        {"x": ("normal", (6, 4)), "h0": ("normal", (6, 5))}, False),
    "torch.nn.Softmin": (_net(
        "self.a = nn.Softmin(dim=1)\nself.b = nn.Softmin()\nself.c = nn.Softmin(-1)",
        "return self.a(x), self.b(x), self.b(x3), self.c(x3)", "x, x3"),
        {"x": ("normal", (4, 5)), "x3": ("normal", (2, 3, 4))}, False),
    "torch.nn.UpsamplingNearest2d": (_net(
        "self.a = nn.UpsamplingNearest2d(scale_factor=2)\nself.b = nn.UpsamplingNearest2d(size=(7, 9))",
        "return self.a(x), self.b(x)"), {"x": ("normal", (2, 3, 5, 6))}, False),
    "torch.nn.UpsamplingBilinear2d": (_net(
        "self.a = nn.UpsamplingBilinear2d(scale_factor=2)\nself.b = nn.UpsamplingBilinear2d((7, 9))",
        "return self.a(x), self.b(x)"), {"x": ("normal", (2, 3, 5, 6))}, False),
    "torch.nn.ZeroPad2d": (_net(
        "self.a = nn.ZeroPad2d(2)\nself.b = nn.ZeroPad2d((1, 2, 0, 3))\nself.c = nn.ZeroPad2d((-1, 2, 1, -2))",
        "return self.a(x), self.b(x), self.c(x), self.c(x), self.b(x[0])"), {"x": ("normal", (2, 3, 4, 5))}, False),
    "torch.nn.MarginRankingLoss": (_net(
        "self.a = nn.MarginRankingLoss()\nself.b = nn.MarginRankingLoss(0.3, reduction='none')\n"
        "self.c = nn.MarginRankingLoss(margin=0.1, reduction='sum')",
        "return self.a(x, y, t), self.b(x, y, t), self.c(x, y, t)", "x, y, t"),
        {"x": ("normal", (7,)), "y": ("normal", (7,)), "t": ("sign", (7,))}, False),
    "torch.nn.Hardswish": (_net("self.a = nn.Hardswish()\nself.b = nn.Hardswish(inplace=True)", "return self.a(x * 4), self.b(x)"),
                           {"x": ("normal", (3, 40))}, False),
    "torch.nn.Hardsigmoid": (_net("self.a = nn.Hardsigmoid()\nself.b = nn.Hardsigmoid(True)", "return self.a(x * 4), self.b(x)"),
                             {"x": ("normal", (3, 40))}, False),
    "torch.nn.InstanceNorm2d": (_net("self.a = nn.InstanceNorm2d(4)\nself.b = nn.InstanceNorm2d(4, eps=1e-3, affine=True)\n"
                                     "self.c = nn.InstanceNorm2d(4, 1e-5, 0.1, False, False)",
                                     "return self.a(x * 3 + 1), self.b(x), self.c(x), self.a(x[0]), self.b(x[1])"),
                                {"x": ("normal", (2, 4, 5, 6))}, True),
    "torch.nn.PixelShuffle": (_net("self.a = nn.PixelShuffle(2)\nself.b = nn.PixelShuffle(upscale_factor=3)",
                                   "return self.a(x), self.b(x[:, :9]), self.a(x[0]), self.a(x.unsqueeze(0))"),
                              {"x": ("normal", (2, 12, 3, 4))}, False),
    "torch.nn.PixelUnshuffle": (_net("self.a = nn.PixelUnshuffle(2)\nself.b = nn.PixelUnshuffle(downscale_factor=3)",
                                     "return self.a(x), self.b(x[:, :, :, :6]), self.a(x[0])"), {"x": ("normal", (2, 3, 6, 8))}, False),
    "torch.nn.Unflatten": (_net("self.a = nn.Unflatten(1, (2, 6))\nself.b = nn.Unflatten(-1, [2, -1])\n"
                                "self.c = nn.Unflatten(dim=2, unflattened_size=(5, 1))",
                                "return self.a(x), self.b(x), self.c(x)"), {"x": ("normal", (2, 12, 5, 4))}, False),
    "torch.nn.AdaptiveMaxPool2d": (_net(
        "self.a = nn.AdaptiveMaxPool2d(1)\nself.b = nn.AdaptiveMaxPool2d((4, 3), True)\nself.c = nn.AdaptiveMaxPool2d((None, 3))",
        "values, idx = self.b(x)\nreturn self.a(x), values, idx, self.c(x), self.c(x[0])"), {"x": ("normal", (2, 3, 9, 8))}, False),
    "torch.nn.AdaptiveMaxPool1d": (_net(
        "self.a = nn.AdaptiveMaxPool1d(1)\nself.b = nn.AdaptiveMaxPool1d(4, return_indices=True)\nself.c = nn.AdaptiveMaxPool1d((5,))",
        "values, idx = self.b(x)\nreturn self.a(x), values, idx, self.c(x), self.c(x[0])"), {"x": ("normal", (2, 3, 9))}, False),
    "torch.nn.ReflectionPad2d": (_net("self.a = nn.ReflectionPad2d(2)\nself.b = nn.ReflectionPad2d((1, 2, 0, 3))",
                                      "return self.a(x), self.b(x), self.b(x), self.b(x[0])"), {"x": ("normal", (2, 3, 4, 5))}, False),
    "torch.nn.ReplicationPad2d": (_net("self.a = nn.ReplicationPad2d(2)\nself.b = nn.ReplicationPad2d(padding=(1, 2, 0, 3))",
                                       "return self.a(x), self.b(x), self.b(x), self.b(x[0])"), {"x": ("normal", (2, 3, 4, 5))}, False),
    "torch.nn.ConstantPad2d": (_net(
        "self.a = nn.ConstantPad2d(2, 1.5)\nself.b = nn.ConstantPad2d((1, 2, 0, 3), -1)\nself.c = nn.ConstantPad2d((-1, 2, 1, -2), value=0.5)",
        "return self.a(x), self.b(x), self.c(x), self.c(x), self.b(x[0])"), {"x": ("normal", (2, 3, 4, 5))}, False),
    "torch.nn.GLU": (_net("self.a = nn.GLU()\nself.b = nn.GLU(1)\nself.c = nn.GLU(dim=0)", "return self.a(x), self.b(x), self.c(x[:2])"),
                     {"x": ("normal", (4, 6, 8))}, False),
    "torch.nn.Softsign": (_net("self.a = nn.Softsign()", "return self.a(x), self.a(x * 30)"), {"x": ("normal", (3, 40))}, False),
    "torch.nn.CELU": (_net("self.a = nn.CELU()\nself.b = nn.CELU(0.5, inplace=True)\nself.c = nn.CELU(alpha=2.0)",
                           "return self.a(x * 4), self.b(x * 4), self.c(x * 4)"), {"x": ("normal", (3, 40))}, False),
    "torch.nn.Threshold": (_net("self.a = nn.Threshold(0.1, 20)\nself.b = nn.Threshold(threshold=-0.5, value=0.0, inplace=True)",
                                "return self.a(x), self.b(x), self.a(torch.round(x))"), {"x": ("normal", (3, 40))}, False),
    "torch.nn.Tanhshrink": (_net("self.a = nn.Tanhshrink()", "return self.a(x), self.a(x * 4), self.a(x * 30)"),
                            {"x": ("normal", (3, 40))}, False),
    "torch.nn.HuberLoss": (_net("self.a = nn.HuberLoss()\nself.b = nn.HuberLoss('none', 0.5)\nself.c = nn.HuberLoss(reduction='sum', delta=2.0)",
                                "return self.a(x * 2, y), self.b(x, y), self.c(x * 3, y[0])", "x, y"),
                           {"x": ("normal", (6, 5)), "y": ("normal", (6, 5))}, False),
    "torch.nn.SoftMarginLoss": (_net("self.a = nn.SoftMarginLoss()\nself.b = nn.SoftMarginLoss(reduction='none')\n"
                                     "self.c = nn.SoftMarginLoss(reduction='sum')",
                                     "return self.a(x, t), self.b(x * 10, t), self.c(x, t)", "x, t"),
                                {"x": ("normal", (6, 5)), "t": ("sign", (6, 5))}, False),
    "torch.nn.CosineEmbeddingLoss": (_net("self.a = nn.CosineEmbeddingLoss()\nself.b = nn.CosineEmbeddingLoss(0.2, reduction='none')\n"
                                          "self.c = nn.CosineEmbeddingLoss(margin=-0.3, reduction='sum')",
                                          "return self.a(x, y, t), self.b(x, y, t), self.c(x, y, t)", "x, y, t"),
                                     {"x": ("normal", (6, 5)), "y": ("normal", (6, 5)), "t": ("sign", (6,))}, False),
    "torch.nn.TripletMarginLoss": (_net("self.a = nn.TripletMarginLoss()\nself.b = nn.TripletMarginLoss(2.0, 1, reduction='none')\n"
                                        "self.c = nn.TripletMarginLoss(margin=0.5, p=3, eps=1e-3, swap=True, reduction='sum')",
                                        "return self.a(x, y, z), self.b(x, y, z), self.c(x, y, z), self.a(x[0], y[0], z[0])", "x, y, z"),
                                   {"x": ("normal", (6, 5)), "y": ("normal", (6, 5)), "z": ("normal", (6, 5))}, False),
    "torch.nn.Conv3d": (_net(
        "self.a = nn.Conv3d(4, 6, 3, padding=1)\n"
        "self.b = nn.Conv3d(6, 6, (3, 2, 3), padding='same', dilation=(2, 1, 1), groups=2, bias=False, padding_mode='reflect')\n"
        "self.c = nn.Conv3d(6, 4, 3, 2, (1, 0, 2), padding_mode='replicate')\n"
        "self.d = nn.Conv3d(4, 2, 2, padding='valid', padding_mode='circular')",
        "return self.d(self.c(self.b(self.a(x)))), self.a(x[0])"), {"x": ("normal", (2, 4, 6, 7, 5))}, False),
}

#: the entries this file checks numerically (tests/test_migrate_numeric.py reads this file's CASES)
CASES = dict.fromkeys(sorted({key for key, _ in FN_CASES.values()} | set(LAYER_CASES)))


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "pynative"])
@pytest.mark.parametrize("key", sorted(LAYER_CASES))
def test_converted_layer_matches_torch(key, jit, tmp_path, monkeypatch):
    source, inputs_spec, training = LAYER_CASES[key]
    got, want = run_layer_case(key, source, inputs_spec, training, _draw, jit,
                               f"nnlayercase_{zlib.crc32(key.encode())}_{int(jit)}", tmp_path, monkeypatch)
    _compare_layer(got, want, SPEC.get(key).tolerance)


def test_rnn_cells_keep_torchs_parameter_names_and_initialization(compat):
    """A torch LSTMCell/GRUCell state dict loads by name; initialization U(-1/sqrt(h), 1/sqrt(h))."""
    for name in ("LSTMCell", "GRUCell"):
        t_cell, ms_cell = getattr(torch.nn, name)(4, 100), getattr(compat, name)(4, 100)
        ms_params = ms_cell.parameters_dict()
        assert {k: tuple(v.shape) for k, v in t_cell.state_dict().items()} == \
               {k: tuple(p.shape) for k, p in ms_params.items()}
        for p in ms_params.values():
            values = p.asnumpy()
            assert np.abs(values).max() <= 0.1 and np.abs(values).max() > 0.09 and abs(values.mean()) < 0.01


def test_mindspore_differs_where_the_notes_say(compat):
    """The measured MindSpore 2.10 differences the helpers exist for."""
    big = mindspore.Tensor(np.array([-150.0, -100.0, 3.0], np.float32))
    assert np.isinf(mindspore.ops.logsigmoid(big).asnumpy()[0])  # torch: -150
    np.testing.assert_allclose(compat.logsigmoid(big).asnumpy(), [-150.0, -100.0, -0.04858735], rtol=1e-6)
    x = mindspore.Tensor(np.random.default_rng(0).standard_normal((2, 3, 9)).astype(np.float32))
    with pytest.raises(Exception):
        mindspore.nn.AdaptiveAvgPool1d(4)(x)  # 9 not divisible by 4
    assert compat.AdaptiveAvgPool1d(4)(x).shape == (2, 3, 4)
    assert mindspore.nn.MaxPool1d(2)(x).shape == (2, 3, 8)  # MindSpore's stride 1
    tail = mindspore.Tensor(np.array([50.0, 90.0], np.float32))
    assert np.isnan(mindspore.ops.mish(tail).asnumpy()).all()  # torch: 50, 90
    np.testing.assert_allclose(compat.mish(tail).asnumpy(), [50.0, 90.0])
    assert compat.MaxPool1d(2)(x).shape == (2, 3, 4)


@pytest.mark.parametrize("key", ["torch.autograd.grad"])
def test_entries_without_target_are_reported_with_their_note(key):
    rule = SPEC.get(key)
    assert rule.target is None and rule.note
    module, _, name = key.rpartition(".")
    # inside a list: `v = torch.autograd.grad(a, b)` itself is the training_step transform's (its own reasons)
    converted = convert_source(f"import {module.split('.')[0]}\nimport {module}\nv = [{key}(a, b)]\n", SPEC, "case.py")
    sites = [s for s in converted.sites if s.rule == key]
    assert sites and all(s.kind == "unsupported" for s in sites), converted.code
    assert rule.note.split(":")[0] in converted.code


@pytest.mark.parametrize("call, want", [
    ("torch.sum(x, axis=1)", "ops.sum(x, dim=1)"), ("torch.mean(x, axis=1)", "ops.mean(x, axis=1)"),
    ("torch.argmax(x, axis=1)", "ops.argmax(x, dim=1)"), ("x.argmax(axis=1)", "ops.argmax(x, dim=1)"),
    ("x.sum(axis=0, keepdims=True)", "x.sum(dim=0, keepdim=True)")])
def test_numpy_spellings_where_args_are_declared_bind_as_torchs_names(call, want):
    """torch's argument parser takes axis= for dim= and keepdims= for keepdim= on every function and
    tensor method it parses; they bind as those names, so the target gets its own spelling of
    them (ops.sum's dim, ops.mean's axis).  Their values: test_migrate_numeric_functions.py."""
    converted = convert_source(f"import torch\ndef f(x: torch.Tensor):\n    return {call}\n", SPEC, "case.py")
    assert [s.kind for s in converted.sites if s.kind != "converted"] == [], converted.code
    assert f"return {want}" in converted.code, converted.code


def test_none_for_a_parameter_whose_default_is_none_is_leaving_it_out(compat, tmp_path, monkeypatch):
    """``torch.mean(inputs, dim=-1, out=None)`` (DeepCTR-Torch's SENETLayer) and ``dtype=None``,
    ``device=None``, ``generator=None``: torch's defaults, converted as if left out and computing
    what torch computes; a value other than None stays refused."""
    from test_migrate_numeric import both_versions

    source = ("import torch\n\n\ndef f(x: torch.Tensor):\n"
              "    return (torch.mean(x, dim=-1, out=None), torch.sum(x, 0, out=None), torch.mean(x, -1, False, dtype=None),\n"
              "            torch.zeros(3, dtype=None, device=None), torch.cumsum(x, 1, dtype=None))\n")
    code, ms_mod, t_mod = both_versions(source, "none_defaults", tmp_path, monkeypatch)
    assert "None" not in code.split("def f")[1], code
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for got, want in zip(ms_mod.f(mindspore.Tensor(x)), t_mod["f"](torch.from_numpy(x))):
        np.testing.assert_allclose(got.asnumpy(), want.numpy(), atol=1e-6)
    refused = convert_source("import torch\ndef f(x: torch.Tensor, y):\n    return torch.mean(x, dim=-1, out=y)\n",
                             SPEC, "case.py")
    assert [s.kind for s in refused.sites if s.rule == "torch.mean"] == ["unsupported"]


def test_sparse_embeddings_convert_with_dense_gradients_of_the_same_values(compat, tmp_path, monkeypatch):
    """``nn.Embedding(..., sparse=True)`` (GRU4Rec) and ``F.embedding(..., sparse=True)``: torch's
    gradient is a sparse tensor, MindSpore's a dense one with the same values."""
    from migrate.weights import name_map
    from test_migrate_numeric import both_versions

    source = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
              "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.emb = nn.Embedding(10, 3, sparse=True)\n\n"
              "    def forward(self, ids):\n"
              "        return (self.emb(ids) * F.embedding(ids, self.emb.weight * 2, sparse=True)).sum()\n")
    code, ms_mod, t_mod = both_versions(source, "sparse_embedding", tmp_path, monkeypatch)
    assert "sparse" not in code, code
    t_net, ms_net = t_mod["Net"](), ms_mod.Net()
    ms_params = ms_net.parameters_dict()
    for t_name, ms_name in dict(name_map(t_net)).items():
        ms_params[ms_name].set_data(mindspore.Tensor(t_net.state_dict()[t_name].numpy()))
    ids = np.array([[1, 4, 4], [9, 0, 1]], np.int64)
    loss = t_net(torch.from_numpy(ids))
    loss.backward()
    assert t_net.emb.weight.grad.is_sparse
    ms_loss, (grad,) = mindspore.value_and_grad(ms_net, None, ms_net.trainable_params())(mindspore.Tensor(ids))
    np.testing.assert_allclose(ms_loss.asnumpy(), loss.item(), rtol=1e-6)
    np.testing.assert_allclose(grad.asnumpy(), t_net.emb.weight.grad.to_dense().numpy(), atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_an_embeddings_padding_row_gets_no_gradient_as_in_torch(compat, tmp_path, monkeypatch, jit):
    """``nn.Embedding(..., padding_idx=i)``: the padding row starts at zero in both, and torch
    never trains it; MindSpore's nn.Embedding gave it the summed gradient of its lookups, so the
    row drifted (found by ``tests/scripts/padded_sequences.py``).  Outputs and gradients as
    torch's, negative ``padding_idx`` too, in PyNative and compiled."""
    from migrate.weights import name_map
    from test_migrate_numeric import both_versions

    source = ("import torch\nimport torch.nn as nn\n\n\n"
              "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.a = nn.Embedding(10, 3, padding_idx=0)\n        self.b = nn.Embedding(6, 3, padding_idx=-1)\n\n"
              "    def forward(self, ids):\n"
              "        return (self.a(ids) * self.a(ids).sum(-1, keepdim=True)).sum() + (self.b(ids % 6) ** 2).sum()\n")
    code, ms_mod, t_mod = both_versions(source, f"padding_embedding_{jit}", tmp_path, monkeypatch, jit=jit)
    assert "Embedding(10, 3, padding_idx=0" in code and "nn.Embedding" not in code.replace("import nn", ""), code
    torch.manual_seed(0)
    t_net, ms_net = t_mod["Net"](), ms_mod.Net()
    with torch.no_grad():
        t_net.a.weight[0] = 0.5  # a padding row set by hand: read as it is, still not trained
    ms_params = ms_net.parameters_dict()
    for t_name, ms_name in dict(name_map(t_net)).items():
        ms_params[ms_name].set_data(mindspore.Tensor(t_net.state_dict()[t_name].numpy()))
    ids = np.array([[1, 0, 4, 5], [0, 9, 0, 11 % 10]], np.int64)
    loss = t_net(torch.from_numpy(ids))
    loss.backward()
    assert t_net.a.weight.grad[0].abs().sum() == 0 and t_net.b.weight.grad[5].abs().sum() == 0
    ms_loss, grads = mindspore.value_and_grad(ms_net, None, ms_net.trainable_params())(mindspore.Tensor(ids))
    np.testing.assert_allclose(ms_loss.asnumpy(), loss.item(), rtol=1e-6)
    for grad, t_param in zip(grads, [t_net.a.weight, t_net.b.weight]):
        np.testing.assert_allclose(grad.asnumpy(), t_param.grad.numpy(), atol=1e-6)


DROPOUT2D = HEADER + """\
def f(x):
    return F.dropout2d(x, 0.5), F.dropout2d(x, 0.5, training=False), F.dropout2d(x, p=0.25, training=True)
"""


def test_dropout2d_drops_whole_channels_as_torchs(tmp_path, monkeypatch):
    """Random, so checked by its properties: each (sample, channel) map is all zero or all the
    input scaled by 1 / (1 - p); training=False is the identity; about p of the channels go."""
    from test_migrate_numeric import converted_f

    f = converted_f(DROPOUT2D, "torch.nn.functional.dropout2d", "dropout2d_case", tmp_path, monkeypatch)
    x = np.random.default_rng(0).standard_normal((40, 50, 3, 3)).astype(np.float32)
    half, same, quarter = (t.asnumpy() for t in f(mindspore.Tensor(x)))
    np.testing.assert_array_equal(same, x)
    for out, p in ((half, 0.5), (quarter, 0.25)):
        kept = np.abs(out).reshape(40, 50, -1).max(-1) > 0
        np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-6)
        assert not out[~kept].any()
        assert abs((~kept).mean() - p) < 0.05


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.01, 0.1, 0.2, 1.5, -0.3])
def test_the_helpers_leaky_relu_is_torchs_bit_for_bit_with_its_gradient_at_zero(compat, dtype, slope):
    """MindSpore's own (maximum(alpha * x, x)) splits the gradient at 0 (0.505 for slope 0.01)
    and keeps a float64 slope in float32; the helper gives torch's values and gradients exactly,
    in PyNative and compiled, as a function and as the Cell."""
    x = np.array([-2.0, -0.0, 0.0, 1e-30, -1e-30, 3.0, -1e-3, 7.5], dtype)
    tx = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.leaky_relu(tx, slope)
    want.sum().backward()
    cell = compat.LeakyReLU(slope)

    def function(v):
        return compat.leaky_relu(v, slope)

    fns = {"function": function, "cell": cell, "compiled": mindspore.jit(function)}
    for name, fn in fns.items():
        if name == "compiled" and dtype == np.float64:
            continue  # a Python float argument of a graph is float32: the constant-slope Cell covers float64
        got = fn(mindspore.Tensor(x))
        grad = mindspore.grad(lambda v: fn(v).sum())(mindspore.Tensor(x))
        assert got.dtype == mindspore.tensor(x).dtype, name
        np.testing.assert_array_equal(got.asnumpy(), want.detach().numpy(), err_msg=name)
        np.testing.assert_array_equal(grad.asnumpy(), tx.grad.numpy(), err_msg=name)
    jit_cell = compat.LeakyReLU(slope)
    jit_cell.construct = mindspore.jit(jit_cell.construct)
    np.testing.assert_array_equal(jit_cell(mindspore.Tensor(x)).asnumpy(), want.detach().numpy())
    assert cell.negative_slope == slope  # torch's attribute
