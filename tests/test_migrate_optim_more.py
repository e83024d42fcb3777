"""The emitted AdamW, RMSprop, Adagrad, Adadelta and Adamax keep torch's formulas, defaults and protocol.

Each helper optimizer is stepped side by side with torch's over 25 steps on differently shaped
parameters (float32, float64 and both in one group), with a parameter that has no gradient
every third step (torch skips it: its state lags behind), and the weights and the state torch
code reads (exp_avg, square_avg, sum, ...) must agree.  clip_grad_value_ clamps as torch's.
Converted torch code (through the real table) builds the helpers with torch's defaults.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from test_migrate_numeric import DTYPES, SHAPES, both_versions, step_side_by_side  # noqa: E402  (needs torch and mindspore)


pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)


OPTIMIZER_CASES = [
    ("AdamW", {}),  # torch's defaults: lr 1e-3, weight_decay 0.01
    ("AdamW", {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1, "eps": 1e-6}),
    ("AdamW", {"lr": 1e-2, "weight_decay": 0.0, "amsgrad": True}),
    ("AdamW", {"lr": 5e-3, "amsgrad": True, "maximize": True, "betas": (0.3, 0.9)}),
    ("RMSprop", {}),  # lr 0.01, alpha 0.99, eps 1e-8
    ("RMSprop", {"lr": 1e-3, "alpha": 0.9, "momentum": 0.9}),
    ("RMSprop", {"lr": 1e-3, "centered": True, "weight_decay": 0.05}),
    ("RMSprop", {"lr": 1e-3, "centered": True, "momentum": 0.5, "maximize": True, "alpha": 0.3}),
    ("Adagrad", {}),  # lr 0.01, eps 1e-10
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.05, "initial_accumulator_value": 0.1, "eps": 1e-6, "maximize": True}),
    ("Adadelta", {}),  # lr 1.0, rho 0.9, eps 1e-6
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.02, "maximize": True}),
    ("Adamax", {}),  # lr 2e-3, betas (0.9, 0.999), eps 1e-8
    ("Adamax", {"lr": 1e-2, "betas": (0.3, 0.9), "eps": 1e-3, "weight_decay": 0.05, "maximize": True}),
]
STATE_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "momentum_buffer", "sum",
              "acc_delta", "exp_inf")


@pytest.mark.parametrize("dtypes", sorted(DTYPES))
@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZER_CASES)])
def test_helper_optimizer_matches_torch(compat, name, kwargs, dtypes):
    t_opt, m_opt, tps, mps = step_side_by_side(compat, name, kwargs, dtypes, lambda rng: 10.0 ** rng.uniform(-4, -1))
    assert {k: v for k, v in m_opt.defaults.items()} == {k: t_opt.defaults[k] for k in m_opt.defaults}
    for tp, mp in zip(tps, mps):
        assert mp.dtype == (mindspore.float64 if tp.dtype == torch.float64 else mindspore.float32)
        np.testing.assert_allclose(mp.asnumpy(), tp.detach().numpy(), rtol=0, atol=1e-6)
    for tp, mp in zip(tps, mps):  # torch-like code reading the state keeps working
        t_state, m_state = t_opt.state[tp], m_opt.state[mp]
        for key in STATE_KEYS:
            assert (key in m_state) == (key in t_state), key
            if key in t_state:
                np.testing.assert_allclose(m_state[key].asnumpy(), t_state[key].numpy(), rtol=1e-5, atol=1e-7,
                                           err_msg=key)
        assert m_state["step"] == int(t_state["step"])


def test_helper_adamw_defaults_are_torchs(compat):
    """weight_decay=0.01 by default (Adam's is 0): one step with a zero gradient shrinks the
    weights by 1 - lr * 0.01, exactly as torch."""
    w = np.linspace(-1, 1, 7).astype(np.float32)
    tp = torch.nn.Parameter(torch.from_numpy(w.copy()))
    mp = mindspore.Parameter(mindspore.Tensor(w.copy()), name="w")
    t_opt, m_opt = torch.optim.AdamW([tp]), compat.AdamW([mp])
    assert m_opt.defaults["weight_decay"] == t_opt.defaults["weight_decay"] == 0.01
    tp.grad, mp.grad = torch.zeros(7), mindspore.Tensor(np.zeros(7, np.float32))
    t_opt.step()
    m_opt.step()
    np.testing.assert_array_equal(mp.asnumpy(), tp.detach().numpy())
    np.testing.assert_allclose(mp.asnumpy(), w * (1 - 1e-3 * 0.01), rtol=1e-7)


def test_helper_optimizers_take_param_groups_and_new_rates(compat):
    """Two groups with their own options, and a learning rate changed between steps (as a
    scheduler does): each group follows torch's."""
    rng = np.random.default_rng(3)
    w0 = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    for name, extra in (("AdamW", {"weight_decay": 0.5}), ("RMSprop", {"momentum": 0.9}), ("Adagrad", {"lr_decay": 0.1})):
        tps = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
        mps = [mindspore.Parameter(mindspore.Tensor(w.copy()), name=f"g{i}") for i, w in enumerate(w0)]
        t_opt = getattr(torch.optim, name)([{"params": tps[:2]}, {"params": tps[2:], **extra}], lr=0.01)
        m_opt = getattr(compat, name)([{"params": mps[:2]}, {"params": mps[2:], **extra}], lr=0.01)
        for step in range(8):
            for tp, mp in zip(tps, mps):
                g = rng.standard_normal(tuple(tp.shape)).astype(np.float32)
                tp.grad, mp.grad = torch.from_numpy(g.copy()), mindspore.Tensor(g.copy())
            if step == 4:
                for t_group, m_group in zip(t_opt.param_groups, m_opt.param_groups):
                    t_group["lr"] *= 0.3
                    m_group["lr"] *= 0.3
            t_opt.step()
            m_opt.step()
        for tp, mp in zip(tps, mps):
            np.testing.assert_allclose(mp.asnumpy(), tp.detach().numpy(), rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", ["AdamW", "RMSprop", "Adagrad"])
def test_helper_optimizer_updates_a_jitted_cell(compat, name):
    """The step writes into each Parameter's storage: a construct compiled with mindspore.jit
    sees the new weights."""

    class Net(mindspore.nn.Cell):
        def __init__(self):
            super().__init__()
            self.dense = mindspore.nn.Dense(3, 2)

        @mindspore.jit
        def construct(self, x):
            return self.dense(x)

    net = Net()
    x = mindspore.Tensor(np.ones((1, 3), np.float32))
    before = net(x).asnumpy()
    opt = getattr(compat, name)(net.trainable_params(), lr=0.1)
    for _ in range(2):
        for p in net.trainable_params():
            p.grad = mindspore.ops.ones_like(p)
        opt.step()
        weight, bias = (p.asnumpy() for p in net.trainable_params())
        np.testing.assert_allclose(net(x).asnumpy(), x.asnumpy() @ weight.T + bias, atol=1e-6)
    assert np.abs(net(x).asnumpy() - before).max() > 0.1


@pytest.mark.parametrize("clip", [0.5, 2, 1e-3])
def test_helper_clip_grad_value_matches_torch(compat, clip):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in [(3,), (2, 2), (2, 3, 4)]]
    tps = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    mps = [mindspore.Parameter(mindspore.Tensor(np.zeros(g.shape, np.float32)), name=f"p{i}") for i, g in enumerate(grads)]
    for tp, mp, g in zip(tps[:2], mps[:2], grads):  # the last parameter has no gradient
        tp.grad, mp.grad = torch.from_numpy(g.copy()), mindspore.Tensor(g.copy())
    assert torch.nn.utils.clip_grad_value_(tps, clip) is None
    assert compat.clip_grad_value_(mps, clip) is None
    for tp, mp in zip(tps, mps):
        if tp.grad is None:
            assert getattr(mp, "grad", None) is None
        else:
            np.testing.assert_array_equal(mp.grad.asnumpy(), tp.grad.numpy())
    one = mindspore.Parameter(mindspore.Tensor(np.zeros(3, np.float32)), name="one")
    one.grad = mindspore.Tensor(np.array([-5.0, 0.1, 5.0], np.float32))
    compat.clip_grad_value_(one, clip)  # a single tensor, as torch accepts
    np.testing.assert_array_equal(one.grad.asnumpy(), np.clip([-5.0, 0.1, 5.0], -clip, clip).astype(np.float32))


TRAINING = """\
import torch
import torch.nn as nn


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int):
    opt = {make}
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.05)
        opt.step()
    return model
"""
MAKERS = {
    "adamw": "torch.optim.AdamW(model.parameters(), lr=0.01)",
    "rmsprop": "torch.optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5)",
    "adagrad": "torch.optim.Adagrad(model.parameters(), lr=0.1)",
}


def twin_linears(compat, seed: int):
    """Inputs, targets, the weight, and a torch Linear(3, 2) with a MindSpore Dense(3, 2) holding
    the same random weights."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
    w, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    t_model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        t_model.weight.copy_(torch.from_numpy(w))
        t_model.bias.copy_(torch.from_numpy(b))
    m_model = mindspore.nn.Dense(3, 2)
    compat.assign_data(m_model.weight, mindspore.Tensor(w))
    compat.assign_data(m_model.bias, mindspore.Tensor(b))
    return x, y, w, t_model, m_model


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_converted_training_loop_matches_torch(compat, name, tmp_path, monkeypatch):
    """A torch loop with the optimizer and clip_grad_value_, converted with the real table
    (training_step turns backward() into value_and_grad), trains as torch's does."""
    source = TRAINING.format(make=MAKERS[name])
    code, ms_mod, t_mod = both_versions(source, f"train_{name}", tmp_path, monkeypatch)
    assert "clip_grad_value_(" in code and "value_and_grad" in code
    x, y, w, t_model, m_model = twin_linears(compat, seed=4)
    t_mod["train"](t_model, torch.from_numpy(x), torch.from_numpy(y), 10)
    ms_mod.train(m_model, mindspore.Tensor(x), mindspore.Tensor(y), 10)
    assert np.abs(m_model.weight.asnumpy() - w).max() > 1e-3  # it trained
    np.testing.assert_allclose(m_model.weight.asnumpy(), t_model.weight.detach().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(m_model.bias.asnumpy(), t_model.bias.detach().numpy(), rtol=0, atol=1e-5)


CUSTOM_OPTIMIZERS = """\
import torch
from torch.optim import Optimizer


class MomentumSGD(Optimizer):
    \"\"\"A custom optimizer as research code writes them: param_groups, per-parameter state,
    in-place updates (a chained one among them) and an optional closure.\"\"\"

    def __init__(self, params, lr=0.1, momentum=0.9, weight_decay=0.0):
        super(MomentumSGD, self).__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if group["weight_decay"] != 0:
                    d_p = d_p.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if "momentum_buffer" not in state:
                    buf = state["momentum_buffer"] = torch.clone(d_p).detach()
                else:
                    buf = state["momentum_buffer"]
                    buf.mul_(group["momentum"]).add_(d_p)
                p.add_(buf, alpha=-group["lr"])
        return loss


class Damped(MomentumSGD):
    \"\"\"A subclass of a subclass, with a method of its own.\"\"\"

    def scale_lr(self, factor: float) -> None:
        for group in self.param_groups:
            group["lr"] = group["lr"] * factor


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, opt: torch.optim.Optimizer = None):
    opt = opt or Damped(model.parameters(), lr=0.05, momentum=0.8, weight_decay=0.01)
    losses = []
    for i in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        if i == 4:
            opt.scale_lr(0.5)
        losses.append(loss.item())
    return losses, opt
"""


def test_converted_custom_optimizer_trains_as_torchs(compat, tmp_path, monkeypatch):
    """A torch.optim.Optimizer subclass (and a subclass of it) converts with nothing left for a
    person: the base becomes the helper's Optimizer, ``self.param_groups``' parameters and
    ``self.state[p]``'s buffers are known tensors (so the in-place updates, a chained
    ``buf.mul_(m).add_(g)`` among them, write in place), the loop's backward() finds the
    optimizer; losses, weights and the momentum buffers agree with torch's over 10 steps."""
    code, ms_mod, t_mod = both_versions(CUSTOM_OPTIMIZERS, "custom_optim", tmp_path, monkeypatch)
    assert "class MomentumSGD(Optimizer)" in code and not re.search(r"\btorch\b", code)
    assert "assign_data(buf, assign_data(buf, buf * group[\"momentum\"]) + d_p)" in code
    assert "compiled_value_and_grad(" in code
    x, y, _, t_model, m_model = twin_linears(compat, seed=5)
    t_losses, t_opt = t_mod["train"](t_model, torch.from_numpy(x), torch.from_numpy(y), 10)
    m_losses, m_opt = ms_mod.train(m_model, mindspore.Tensor(x), mindspore.Tensor(y), 10)
    assert isinstance(m_opt, compat.Optimizer) and m_opt.param_groups[0]["lr"] == t_opt.param_groups[0]["lr"] == 0.025
    np.testing.assert_allclose(m_losses, t_losses, rtol=1e-5)
    assert abs(t_losses[-1] - t_losses[0]) > 1e-2  # it trained
    for tp, mp in zip(t_model.parameters(), m_model.trainable_params()):
        np.testing.assert_allclose(mp.asnumpy(), tp.detach().numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(m_opt.state[mp]["momentum_buffer"].asnumpy(),
                                   t_opt.state[tp]["momentum_buffer"].numpy(), rtol=0, atol=1e-5)
