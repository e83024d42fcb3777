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
