"""Custom autograd Functions (``torch.autograd.Function`` subclasses with static forward/backward,
called through ``apply``): converted with the real table onto the helper's ``Function`` (MindSpore's
own implementation of torch's API, PyNative only), and trained against torch."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()

DANN = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.autograd import Function
    from torch.autograd.function import once_differentiable


    class GradReverse(Function):
        \"\"\"The gradient reversal layer of domain-adversarial training.\"\"\"

        @staticmethod
        def forward(ctx, x, alpha):
            ctx.alpha = alpha
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output.neg() * ctx.alpha, None


    class ScaledSquare(torch.autograd.Function):
        \"\"\"x * x * w, with its gradient written by hand (saved tensors, needs_input_grad).\"\"\"

        @staticmethod
        def forward(ctx, x, w, scale=1.0):
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            return x * x * w * scale

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            gx = grad * 2 * x * w * ctx.scale if ctx.needs_input_grad[0] else None
            gw = (grad * x * x * ctx.scale).sum(0) if ctx.needs_input_grad[1] else None
            return gx, gw, None


    def grad_reverse(x, alpha=1.0):
        return GradReverse.apply(x, alpha)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Linear(4, 6)
            self.w = nn.Parameter(torch.full((6,), 0.5))
            self.label = nn.Linear(6, 3)
            self.domain = nn.Linear(6, 2)

        def forward(self, x, alpha):
            h = ScaledSquare.apply(torch.tanh(self.features(x)), self.w, scale=2.0)
            return self.label(h), self.domain(grad_reverse(h, alpha))


    def build():
        return Net()


    def train(model: Net, batches, alpha):
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        losses = []
        for x, y, d in batches:
            opt.zero_grad()
            label_out, domain_out = model(x, alpha)
            loss = F.cross_entropy(label_out, y) + F.cross_entropy(domain_out, d)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    """)


def test_custom_functions_convert_and_leave_their_construct_in_pynative():
    out = convert_source(DANN, SPEC, "dann.py")
    left = [(s.kind, s.rule, s.line) for s in out.sites if s.kind in ("uncertain", "unsupported")]
    assert left == [], left
    assert "class GradReverse(Function):" in out.code and "class ScaledSquare(Function):" in out.code
    assert "import torch" not in out.code and "@jit_construct" not in out.code, out.code
    reasons = [s.reason for s in out.sites if s.kind == "pynative"]
    assert any("Net.construct stays in PyNative: applies the custom autograd Function ScaledSquare" in r
               for r in reasons), reasons
    # the training step calls the model: it stays in PyNative too, rather than failing to compile at run time
    assert any("the loss closure calls model, a Net whose forward applies" in r for r in reasons), reasons
    assert "compiled_value_and_grad" not in out.code and "value_and_grad" in out.code


def test_a_static_method_of_a_plain_class_is_checked_as_a_function_is():
    """``Cls.helper(x)`` on a class of the file: a pure static method compiles with the construct,
    one that leaves the graph keeps it in PyNative (before, any such call passed unchecked)."""
    src = textwrap.dedent("""\
        import torch.nn as nn


        class Ops:
            @staticmethod
            def double(x):
                return x * 2

            @staticmethod
            def show(x):
                print(x.sum().item())
                return x


        class Pure(nn.Module):
            def forward(self, x):
                return Ops.double(x)


        class Host(nn.Module):
            def forward(self, x):
                return Ops.show(x)
        """)
    out = convert_source(src, SPEC, "static.py")
    decisions = {s.reason.split(" ")[0]: (s.kind, s.reason) for s in out.sites if s.kind in ("graph", "pynative")}
    assert decisions["Pure.construct"][0] == "graph", decisions
    assert decisions["Host.construct"][0] == "pynative" and "show calls print()" in decisions["Host.construct"][1], decisions


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no compiled step that falls back at run time
def test_gradient_reversal_and_a_hand_written_gradient_train_as_torch(compat, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(DANN, SPEC, "dann.py")
    ms_mod = load_converted(out.code, "dann_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(DANN, ms_mod)
    rng = np.random.default_rng(3)
    batches = [(rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8), rng.integers(0, 2, 8))
               for _ in range(4)]
    want = t_mod["train"](t_model, [tuple(torch.from_numpy(a) for a in b) for b in batches], 0.7)
    got = ms_mod.train(ms_model, [(mindspore.Tensor(x), mindspore.Tensor(y, mindspore.int32),
                                   mindspore.Tensor(d, mindspore.int32)) for x, y, d in batches], 0.7)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    params = {p.name: p.asnumpy() for p in ms_model.trainable_params()}
    for name, p in t_model.named_parameters():
        np.testing.assert_allclose(params[name], p.detach().numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_the_helpers_function_binds_keywords_and_reverses_a_gradient(compat):
    mindspore = pytest.importorskip("mindspore")

    class Scale(compat.Function):
        @staticmethod
        def forward(ctx, x, factor=1.0, flip=False):
            ctx.factor, ctx.flip = factor, flip
            return x * factor

        @staticmethod
        def backward(ctx, grad):
            return (-grad if ctx.flip else grad) * ctx.factor, None, None

    x = mindspore.Tensor(np.array([1.0, -2.0, 3.0], np.float32))
    value, grad = mindspore.value_and_grad(lambda t: Scale.apply(t, flip=True, factor=3.0).sum())(x)
    assert float(value) == pytest.approx(6.0)
    np.testing.assert_allclose(grad.asnumpy(), [-3.0, -3.0, -3.0])


SPARSE_SPMM = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class SpecialSpmmFunction(torch.autograd.Function):
        \"\"\"pyGAT's: a sparse product whose backward reaches only the nonzero values.\"\"\"

        @staticmethod
        def forward(ctx, indices, values, shape, b):
            a = torch.sparse_coo_tensor(indices, values, shape)
            ctx.save_for_backward(a, b)
            ctx.N = shape[0]
            return torch.matmul(a, b)

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            grad_values = grad_b = None
            if ctx.needs_input_grad[1]:
                grad_a_dense = grad_output.matmul(b.t())
                edge_idx = a._indices()[0, :] * ctx.N + a._indices()[1, :]
                grad_values = grad_a_dense.view(-1)[edge_idx]
            if ctx.needs_input_grad[3]:
                grad_b = a.t().matmul(grad_output)
            return None, grad_values, None, grad_b


    class Attention(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n
            self.fc = nn.Linear(3, 4)
            self.a = nn.Parameter(torch.randn(8) * 0.3)

        def forward(self, x, edge):
            h = self.fc(x)
            e = torch.exp(-torch.tanh(torch.cat((h[edge[0, :], :], h[edge[1, :], :]), dim=1) @ self.a))
            rowsum = SpecialSpmmFunction.apply(edge, e, torch.Size([self.n, self.n]), torch.ones(self.n, 1))
            return SpecialSpmmFunction.apply(edge, e, torch.Size([self.n, self.n]), h) / rowsum


    def build():
        return Attention(6)
    """)


def test_a_function_saving_a_sparse_tensor_converts_and_gives_torchs_gradients(compat, tmp_path, monkeypatch):
    """pyGAT's SpecialSpmmFunction: torch.matmul on the sparse tensor it builds is the helper's
    sparse product, ``save_for_backward`` keeps the sparse tensor (MindSpore's takes tensors only),
    and values and gradients are torch's."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(SPARSE_SPMM, SPEC, "spmm.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "return sparse_mm(a, b)" in out.code, out.code
    ms_mod = load_converted(out.code, "spmm_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(SPARSE_SPMM, ms_mod)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    edge = np.array([[0, 0, 1, 2, 3, 4, 5, 5, 2], [0, 1, 1, 2, 0, 4, 5, 2, 3]])
    t_out = t_model(torch.from_numpy(x), torch.from_numpy(edge))
    (t_out ** 2).sum().backward()

    def loss(xx, ee):
        return (ms_model(xx, ee) ** 2).sum()

    value, grads = mindspore.value_and_grad(loss, None, ms_model.trainable_params())(
        mindspore.Tensor(x), mindspore.Tensor(edge))
    np.testing.assert_allclose(float(value), float((t_out ** 2).sum()), rtol=1e-5)
    t_grads = dict(t_model.named_parameters())
    for p, g in zip(ms_model.trainable_params(), grads):
        np.testing.assert_allclose(g.asnumpy(), t_grads[p.name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=p.name)


def test_a_sparse_tensor_held_in_an_attribute_keeps_its_construct_in_pynative():
    src = textwrap.dedent("""\
        import torch
        import torch.nn as nn


        class Prop(nn.Module):
            def __init__(self, idx, vals, n):
                super().__init__()
                self.adj = torch.sparse_coo_tensor(idx, vals, (n, n))
                self.fc = nn.Linear(3, 3)

            def forward(self, x):
                return torch.matmul(self.adj, self.fc(x)) + torch.mm(x, x.t())
        """)
    out = convert_source(src, SPEC, "prop.py")
    assert "sparse_mm(self.adj, self.fc(x)) + ops.matmul(x, x.t())" in out.code, out.code
    reasons = [s.reason for s in out.sites if s.kind == "pynative"]
    assert reasons == ["Prop.construct stays in PyNative: calls torch.matmul() with self.adj, a Python object "
                       "(the helper's) graph mode does not take"], reasons
