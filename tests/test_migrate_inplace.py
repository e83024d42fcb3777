"""In-place arithmetic (``add_``, ``sub_``, ``mul_``, ``div_``): MindSpore 2.10's methods of these
names return a new tensor on a CPU and leave the receiver as it was, so the table writes them
through ``assign_data``.  Checked against torch: the receiver itself changes (another reference
sees it), the result is the receiver, and gradients flow through it as in torch."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec
from test_migrate_numeric import converted_f, run_both

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

SPEC = load_spec()

CASES = {
    "torch.Tensor.add_": "h = x * 1.0\n    alias = [h]\n    out = h.add_(y, alpha=0.5)\n    return alias[0], out, h",
    "torch.Tensor.sub_": "h = x * 1.0\n    h.data.sub_(-2, y)\n    return h",  # the old sub_(value, other)
    "torch.Tensor.mul_": "h = x * 1.0\n    keep = h\n    h.mul_(y)\n    return keep",
    "torch.Tensor.div_": "h = x + 3.0\n    h.div_(2.0)\n    return h",
}


@pytest.mark.parametrize("key", list(CASES))
def test_in_place_arithmetic_writes_the_receiver(key, compat, tmp_path, monkeypatch):
    body = CASES[key]
    source = f"import torch\n\ndef f(x: torch.Tensor, y: torch.Tensor):\n    {body}\n"
    f = converted_f(source, key, f"inplace_{key.rpartition('.')[2]}", tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((3, 4)).astype(np.float32),
              "y": rng.standard_normal((3, 4)).astype(np.float32)}
    got, want = run_both(source, f, inputs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_in_place_updates_of_a_local_new_tensor_rebind_it_and_differentiate(compat, tmp_path, monkeypatch):
    """drop_connect-style code inside a loss: ``h = x * 2.0`` then ``h.div_(0.8)``, ``h.mul_(mask)``.
    Nothing else holds ``h``'s tensor, so the statements become ``h = h / 0.8`` and
    ``h = h * mask``: the same values, and MindSpore differentiates them (its autograd refuses
    an in-place write into a tensor the loss depends on: Div/Mul keep their inputs)."""
    source = textwrap.dedent("""\
        import torch

        def f(x: torch.Tensor, mask: torch.Tensor):
            h = x * 2.0
            h.div_(0.8)
            h.mul_(mask)
            return (h * h).sum()
        """)
    f = converted_f(source, "torch.Tensor.mul_", "inplace_grad", tmp_path, monkeypatch)
    code = convert_source(source, SPEC, "inplace_grad.py").code
    assert "h = h / 0.8" in code and "h = h * mask" in code and "assign_data" not in code, code
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5)).astype(np.float32)
    mask = (rng.random((2, 5)) < 0.5).astype(np.float32)
    namespace: dict = {}
    exec(compile(source, "<torch>", "exec"), namespace)
    tx = torch.from_numpy(x).requires_grad_(True)
    loss = namespace["f"](tx, torch.from_numpy(mask))
    loss.backward()
    value, grad = mindspore.value_and_grad(f)(mindspore.Tensor(x), mindspore.Tensor(mask))
    np.testing.assert_allclose(value.asnumpy(), loss.item(), rtol=1e-6)
    np.testing.assert_allclose(grad.asnumpy(), tx.grad.numpy(), rtol=1e-6)


def test_an_in_place_update_of_a_shared_tensor_inside_a_differentiated_computation_fails_loudly(
        compat, tmp_path, monkeypatch):
    """The same with another name holding the tensor (``keep = h``): the write must reach it, so
    it stays in place (``assign_data``), and MindSpore 2.10 refuses it inside a differentiated
    computation ("modified by an inplace operation").  A known gap, and a loud one: the value is
    right."""
    source = textwrap.dedent("""\
        import torch

        def f(x: torch.Tensor, mask: torch.Tensor):
            h = x * 2.0
            keep = h
            h.mul_(mask)
            return (keep * keep).sum()
        """)
    f = converted_f(source, "torch.Tensor.mul_", "inplace_grad_shared", tmp_path, monkeypatch)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5)).astype(np.float32)
    mask = (rng.random((2, 5)) < 0.5).astype(np.float32)
    namespace: dict = {}
    exec(compile(source, "<torch>", "exec"), namespace)
    want = namespace["f"](torch.from_numpy(x), torch.from_numpy(mask)).item()
    np.testing.assert_allclose(f(mindspore.Tensor(x), mindspore.Tensor(mask)).asnumpy(), want, rtol=1e-6)
    with pytest.raises(RuntimeError, match="inplace"):
        mindspore.value_and_grad(f)(mindspore.Tensor(x), mindspore.Tensor(mask))


#: name -> (function body over x, y (3, 4) and idx, whether the in-place statements may rebind)
REBINDING = {
    "factory then index_add_": ("out = torch.zeros(3, 4)\n    out.index_add_(0, idx, y)\n    return out", True),
    "chain on a local": ("h = x * 1.0\n    h.mul_(2.0).add_(y)\n    return h", True),
    "in a loop, read after it": ("acc = torch.zeros_like(x)\n    for i in range(3):\n        acc.add_(x * i)\n"
                                 "    return acc * 2", True),
    "reads itself": ("h = x + 1.0\n    h.mul_(h)\n    return h", True),
    "alias before": ("h = x * 1.0\n    keep = h\n    h.add_(y)\n    return keep", False),
    "view before": ("h = x * 1.0\n    v = h.view(-1)\n    h.add_(1.0)\n    return v", False),
    "appended in the loop": ("h = torch.zeros(3, 4)\n    outs = []\n    for i in range(2):\n        h.add_(y)\n"
                             "        outs.append(h)\n    return outs[0]", False),
    "a parameter": ("x.add_(y)\n    return x", False),
    "bound to another name": ("h = y\n    h.add_(1.0)\n    return y", False),
    "read by a nested function": ("h = x * 1.0\n    get = lambda: h\n    h.add_(y)\n    return get()", False),
    "one-hot by scatter_ of a number": ("oh = torch.zeros(3, 5)\n    oh.scatter_(1, idx.view(-1, 1), 1.0)\n    return oh", True),
    "clone then scatter_add_": ("out = x.clone()\n    out.scatter_add_(1, idx.view(-1, 1).repeat(1, 2), y)\n    return out",
                                True),
    "scatter_add_ in a branch": ("deg = torch.zeros(3)\n    if y.sum() > -100:\n        deg.scatter_add_(0, idx, y[:, 0])\n"
                                 "    return deg", True),
}


@pytest.mark.parametrize("name", sorted(REBINDING))
def test_in_place_statements_rebind_a_local_only_where_nothing_else_can_hold_its_tensor(
        name, compat, tmp_path, monkeypatch):
    """``x.op_(...)`` as a statement on a local name whose every binding is a new tensor and
    whose other reads come after the last such statement, outside loops holding one, becomes
    ``x = <value>``; otherwise the write stays in place.  Either way the values are torch's."""
    body, rebinds = REBINDING[name]
    source = f"import torch\n\ndef f(x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor):\n    {body}\n"
    code = convert_source(source, SPEC, "rebind.py").code
    assert ("assign_data" not in code) == rebinds, code
    key = "torch.Tensor." + re.search(r"\.(\w+_)\(", body).group(1)
    f = converted_f(source, key, f"rebind_{sorted(REBINDING).index(name)}", tmp_path, monkeypatch)
    rng = np.random.default_rng(4)
    inputs = {"x": rng.standard_normal((3, 4)).astype(np.float32), "y": rng.standard_normal((3, 4)).astype(np.float32),
              "idx": np.array([2, 0, 2])}
    got, want = run_both(source, f, inputs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


INITIALIZERS = {
    "torch.Tensor.fill_": "label = x * 0.0\n    alias = [label]\n    label.fill_(0.25)\n    return alias[0], label",
    "torch.Tensor.zero_": "acc = x + 1.0\n    keep = acc\n    acc.zero_()\n    return keep",
}


@pytest.mark.parametrize("key", list(INITIALIZERS))
def test_an_initializer_on_a_named_tensor_writes_it_in_place(key, compat, tmp_path, monkeypatch):
    """``label.fill_(real_label)`` (DCGAN's labels), ``acc.zero_()``: another reference sees the
    new values, as in torch (they used to be unsupported outside ``.data`` and module tensors)."""
    source = f"import torch\n\ndef f(x: torch.Tensor):\n    {INITIALIZERS[key]}\n"
    f = converted_f(source, key, f"inplace_init_{key.rpartition('.')[2]}", tmp_path, monkeypatch)
    inputs = {"x": np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)}
    got, want = run_both(source, f, inputs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("line, why", [
    ("x.view(-1).mul_(2)", "computed tensor"),
    ("x[x.argmax()].fill_(2)", "computed tensor"),
    ("x.div_(2, rounding_mode='floor')", "rounding_mode"),
])
def test_in_place_updates_it_cannot_write_are_unsupported(line, why):
    out = convert_source(f"import torch\n\ndef f(x: torch.Tensor):\n    {line}\n", SPEC, "m.py")
    flagged = [s for s in out.sites if s.kind == "unsupported"]
    assert len(flagged) == 1 and why in flagged[0].reason, [(s.kind, s.reason) for s in out.sites]


def test_an_unknown_receiver_is_uncertain_not_left_silently():
    out = convert_source("import torch\n\ndef f(x, y):\n    x.mul_(y)\n", SPEC, "m.py")
    assert [s.kind for s in out.sites] == ["uncertain"], out.sites


FRESH = textwrap.dedent("""\
    import torch

    def f(n: int, d: int):
        a = torch.zeros(d).add_(1.5)
        b = torch.FloatTensor(n, d).zero_()
        c = torch.empty(n, d).uniform_(-0.1, 0.1)
        e = torch.randn(n, d).normal_(2.0, 0.01)
        return a, b, c, e
    """)


def test_an_initializer_on_a_factorys_new_tensor_becomes_its_value(compat, tmp_path, monkeypatch):
    """``torch.empty(n, d).uniform_(...)`` (a common init): nothing else holds the new tensor, so
    the converted code is the value itself, no in-place write; torch.FloatTensor(...) is a tensor
    (it used to be of unknown type there, and its zero_() was left without a report)."""
    out = convert_source(FRESH, SPEC, "m.py")
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    assert "assign_data" not in out.code and ".zero_()" not in out.code, out.code
    (tmp_path / "inplace_fresh.py").write_text(out.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mindspore.set_seed(0)
    a, b, c, e = (t.asnumpy() for t in importlib.import_module("inplace_fresh").f(200, 50))
    np.testing.assert_array_equal(a, np.full(50, 1.5, np.float32))
    np.testing.assert_array_equal(b, np.zeros((200, 50), np.float32))
    assert c.shape == (200, 50) and c.min() >= -0.1 and c.max() <= 0.1 and c.std() > 0.05
    assert abs(e.mean() - 2.0) < 0.01 and abs(e.std() - 0.01) < 0.002


#: in-place forms of out-of-place members (api_map's ``inplace_of``): the call each case makes
INPLACE_OF = {
    "torch.Tensor.clamp_": "clamp_(-0.5, max=0.5)",
    "torch.Tensor.relu_": "relu_()",
    "torch.Tensor.sigmoid_": "sigmoid_()",
    "torch.Tensor.tanh_": "tanh_()",
    "torch.Tensor.exp_": "exp_()",
    "torch.Tensor.log_": "log_()",
    "torch.Tensor.sqrt_": "sqrt_()",
    "torch.Tensor.abs_": "abs_()",
    "torch.Tensor.neg_": "neg_()",
    "torch.Tensor.round_": "round_()",
    "torch.Tensor.pow_": "pow_(2)",
    "torch.Tensor.masked_fill_": "masked_fill_(y > 0, 0.25)",
    "torch.Tensor.sign_": "sign_()",
    "torch.Tensor.floor_": "floor_()",
    "torch.Tensor.ceil_": "ceil_()",
    "torch.Tensor.trunc_": "trunc_()",
    "torch.Tensor.frac_": "frac_()",
    "torch.Tensor.reciprocal_": "reciprocal_()",
    "torch.Tensor.square_": "square_()",
    "torch.Tensor.rsqrt_": "rsqrt_()",
    "torch.Tensor.sin_": "sin_()",
    "torch.Tensor.cos_": "cos_()",
    "torch.Tensor.erf_": "erf_()",
    "torch.Tensor.log1p_": "log1p_()",
    "torch.Tensor.expm1_": "expm1_()",
    "torch.Tensor.log2_": "log2_()",
    "torch.Tensor.log10_": "log10_()",
    "torch.Tensor.sinh_": "sinh_()",
    "torch.Tensor.cosh_": "cosh_()",
    "torch.Tensor.fmod_": "fmod_(0.7)",
    "torch.Tensor.remainder_": "remainder_(0.7)",
    "torch.Tensor.lerp_": "lerp_(y, 0.25)",
    "torch.Tensor.addcmul_": "addcmul_(y, y, value=0.5)",
    "torch.Tensor.addcdiv_": "addcdiv_(y, y.abs() + 1.0, value=0.5)",
    "torch.Tensor.clamp_min_": "clamp_min_(0.2)",
    "torch.Tensor.clamp_max_": "clamp_max_(0.2)",
    "torch.Tensor.clip_": "clip_(-0.3, 0.3)",
    "torch.Tensor.atan2_": "atan2_(y)",
    "torch.Tensor.tril_": "tril_()",
    "torch.Tensor.triu_": "triu_(1)",
    "torch.Tensor.floor_divide_": "floor_divide_(0.7)",
    "torch.Tensor.index_add_": "index_add_(0, torch.tensor([2, 0, 2]), y, alpha=0.5)",
    "torch.Tensor.scatter_add_": "scatter_add_(1, torch.tensor([[0, 0], [3, 1], [2, 2]]), y)",
    "torch.Tensor.scatter_": "scatter_(1, torch.tensor([[0, 1], [3, 1], [2, 0]]), y)",
}
#: in-place forms that need a positive receiver
POSITIVE = {"torch.Tensor.log_", "torch.Tensor.sqrt_", "torch.Tensor.rsqrt_", "torch.Tensor.log1p_",
            "torch.Tensor.log2_", "torch.Tensor.log10_"}


def test_every_inplace_of_entry_has_a_case():
    assert sorted(k for k in SPEC.rules if SPEC.rules[k].inplace_of) == sorted(INPLACE_OF)


@pytest.mark.parametrize("key", sorted(INPLACE_OF))
def test_an_in_place_form_writes_the_out_of_place_result_into_the_receiver(key, compat, tmp_path, monkeypatch):
    """``h.op_(...)``: the receiver changes (another reference sees it), the call's value is the
    receiver, and the values are torch's."""
    start = "x.abs() * 3.0 + 0.1" if key in POSITIVE else "x * 3.0"
    source = (f"import torch\n\ndef f(x: torch.Tensor, y: torch.Tensor):\n    h = {start}\n"
              f"    alias = [h]\n    out = h.{INPLACE_OF[key]}\n    return alias[0], out, h\n")
    f = converted_f(source, key, f"inplace_of_{key.rpartition('.')[2]}", tmp_path, monkeypatch)
    rng = np.random.default_rng(3)
    inputs = {"x": rng.standard_normal((3, 4)).astype(np.float32), "y": rng.standard_normal((3, 4)).astype(np.float32)}
    got, want = run_both(source, f, inputs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_bernoulli_fills_the_receiver_with_draws(compat, tmp_path, monkeypatch):
    """efficientnet's drop_connect: ``mask = torch.empty(...); mask.bernoulli_(keep)``; and on a
    factory's new tensor the draw is the value."""
    source = textwrap.dedent("""\
        import torch

        def f(x: torch.Tensor):
            mask = torch.empty([4000, 1], dtype=x.dtype)
            mask.bernoulli_(0.8)
            half = torch.zeros(4000).bernoulli_()
            return mask, half
        """)
    f = converted_f(source, "torch.Tensor.bernoulli_", "inplace_bernoulli", tmp_path, monkeypatch)
    mindspore.set_seed(0)
    mask, half = (t.asnumpy() for t in f(mindspore.Tensor(np.ones((2, 2), np.float32))))
    assert mask.shape == (4000, 1) and mask.dtype == np.float32 and set(np.unique(mask)) == {0.0, 1.0}
    assert abs(mask.mean() - 0.8) < 0.03 and abs(half.mean() - 0.5) < 0.03


VIEWS = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class CrossNet(nn.Module):
        """DeepCTR-Torch's CrossNet: initializers applied to rows of one Parameter."""

        def __init__(self, n):
            super().__init__()
            self.kernels = nn.Parameter(torch.Tensor(n, 4, 1))
            self.bias = nn.Parameter(torch.Tensor(n, 4, 1))
            for i in range(self.kernels.shape[0]):
                nn.init.constant_(self.kernels[i], 0.5 * (i + 1))
            for i in range(self.bias.shape[0]):
                nn.init.zeros_(self.bias[i])

        def forward(self, x):
            return x @ self.kernels[0] + self.bias[1].sum()


    def f(x: torch.Tensor):
        h = x * 1.0
        h[1].add_(2.0)
        h[:, 2].mul_(-1.0)
        nn.init.ones_(h[0, 1:3])
        return h
''')


def test_in_place_writes_into_rows_of_a_tensor_reach_the_tensor(compat, tmp_path, monkeypatch):
    """``p[i]`` is a view in torch; in MindSpore 2.10 ``copy_`` into one fails or (past the first
    row) writes nothing, and its in-place methods leave it: ``assign_data`` writes views with
    ``view[...] = value``, which reaches the base tensor (a Parameter too)."""
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(VIEWS, "inplace_views", tmp_path, monkeypatch)
    t_net, ms_net = t_mod["CrossNet"](3), ms_mod.CrossNet(3)
    np.testing.assert_array_equal(ms_net.kernels.asnumpy(), t_net.kernels.detach().numpy())
    np.testing.assert_array_equal(ms_net.bias.asnumpy(), t_net.bias.detach().numpy())
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(ms_mod.f(mindspore.Tensor(x)).asnumpy(), t_mod["f"](torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(ms_net(mindspore.Tensor(x)).asnumpy(), t_net(torch.from_numpy(x)).detach().numpy())


FREEZE_AND_SET = textwrap.dedent('''\
    import numpy as np
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.out = nn.Linear(2, 1)

        def forward(self, x):
            return self.out(self.fc(x))


    @torch.no_grad()
    def reset(net: Net):
        """GRU4Rec's compatibility reset: weights set_ from numpy arrays."""
        net.fc.weight.set_(torch.tensor(np.full((2, 3), 0.5, np.float32)))
        net.out.bias.set_(torch.zeros(1))


    def freeze(net: Net):
        for p in net.fc.parameters():
            p.requires_grad_(False)
        return sum(p.numel() for p in net.parameters() if p.requires_grad)
''')


def test_requires_grad_and_set_write_what_torch_writes(compat, tmp_path, monkeypatch):
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(FREEZE_AND_SET, "freeze_and_set", tmp_path, monkeypatch)
    assert "requires_grad_(p, False)" in code and "tensor_set(" in code
    t_net, ms_net = t_mod["Net"](), ms_mod.Net()
    t_mod["reset"](t_net)
    ms_mod.reset(ms_net)
    np.testing.assert_array_equal(ms_net.fc.weight.asnumpy(), t_net.fc.weight.detach().numpy())
    np.testing.assert_array_equal(ms_net.out.bias.asnumpy(), t_net.out.bias.detach().numpy())
    assert ms_mod.freeze(ms_net) == t_mod["freeze"](t_net) == 3
    assert [p.name for p in ms_net.trainable_params()] == ["out.weight", "out.bias"]
    with pytest.raises(NotImplementedError, match="Parameter"):
        compat.requires_grad_(mindspore.Tensor(np.ones(2, np.float32)))
    kept = mindspore.Parameter(mindspore.Tensor(np.zeros((2, 2), np.float32)), name="w")
    compat.tensor_set(kept, mindspore.Tensor(np.ones((3,), np.float32)))  # another shape: the storage is swapped
    assert kept.shape == (3,) and kept.asnumpy().tolist() == [1.0, 1.0, 1.0]


NEW_RESULTS = textwrap.dedent('''\
    import torch


    def sample(eps: torch.Tensor, std: torch.Tensor, mu: torch.Tensor):
        """TaNP's reparameterisation: an in-place add on a product nothing else holds."""
        z = eps.mul(std).add_(mu)
        y = (eps * 2).mul_(std)
        k = torch.exp(std).sub_(1)
        return z, y, k, eps, std
''')


def test_in_place_updates_of_new_tensors_are_their_values(compat, tmp_path, monkeypatch):
    """``eps.mul(std).add_(mu)``: the receiver is a new tensor nobody else holds (a product, an
    exp, an arithmetic expression), so the update is the out-of-place value; the inputs are left
    as they were, as in torch.  A view (``w.view(-1).add_(1)``) is still refused."""
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(NEW_RESULTS, "inplace_new_results", tmp_path, monkeypatch)
    assert "eps.mul(std) + mu" in code and "assign_data" not in code
    rng = np.random.default_rng(5)
    args = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    got = ms_mod.sample(*[mindspore.Tensor(a) for a in args])
    want = t_mod["sample"](*[torch.from_numpy(a.copy()) for a in args])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.asnumpy(), w.numpy(), rtol=1e-6, atol=1e-6)
    refused = convert_source("import torch\ndef f(w: torch.Tensor):\n    return w.view(-1).add_(1)\n", SPEC, "v.py")
    assert [s.kind for s in refused.sites if s.rule == "torch.Tensor.add_"] == ["unsupported"]


LEGACY_NEW = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class RNNModel(nn.Module):
        """pytorch/examples' word_language_model: the hidden state from the weights' legacy new()."""

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4).double()

        def init_hidden(self, bsz):
            weight = next(self.parameters()).data
            return (weight.new(2, bsz, 4).zero_(), weight.new(2, bsz, 4).fill_(0.5),
                    weight.new([1, 2, 3]), weight.new())
''')


def test_legacy_new_builds_tensors_of_the_receivers_dtype(compat, tmp_path, monkeypatch):
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(LEGACY_NEW, "legacy_new", tmp_path, monkeypatch)
    assert "tensor_new(weight, 2, bsz, 4)" in code
    got = ms_mod.RNNModel().init_hidden(5)
    want = t_mod["RNNModel"]().init_hidden(5)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape) and g.dtype == mindspore.float64 and w.dtype == torch.float64
        np.testing.assert_array_equal(g.asnumpy(), w.numpy())
