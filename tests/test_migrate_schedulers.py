"""The emitted learning-rate schedulers drive the helper optimizers as torch's drive torch's.

Each scheduler is stepped side by side with torch's over ~30 epochs (two parameter groups,
an outside change of the rate in the middle, chained schedulers), and the learning rates
must be *equal*, not close: the helpers compute torch's formulas in Python floats, term for
term.  An optimizer step must use the scheduled rate, and converted torch code (through the
real table) must follow torch's schedule.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

SPEC = load_spec()
LR = torch.optim.lr_scheduler


pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)


class Poly:
    """A callable object (its attributes go into LambdaLR's state_dict, as in torch)."""

    def __init__(self, power):
        self.power = power

    def __call__(self, epoch):
        return (1 - epoch / 40) ** self.power


#: id -> [(scheduler class name, kwargs), ...] applied to one optimizer (more than one: chained)
SCHEDULES = {
    "step": [("StepLR", {"step_size": 7, "gamma": 0.5})],
    "step_default_gamma": [("StepLR", {"step_size": 3})],
    "multistep": [("MultiStepLR", {"milestones": [5, 12, 12, 20], "gamma": 0.3})],
    "exponential": [("ExponentialLR", {"gamma": 0.9})],
    "cosine": [("CosineAnnealingLR", {"T_max": 10, "eta_min": 1e-3})],
    "cosine_past_t_max": [("CosineAnnealingLR", {"T_max": 7})],
    "lambda": [("LambdaLR", {"lr_lambda": lambda epoch: 0.95 ** epoch})],
    "lambda_per_group": [("LambdaLR", {"lr_lambda": [lambda epoch: 1 / (epoch + 1), Poly(2)]})],
    "chained": [("StepLR", {"step_size": 4, "gamma": 0.5}), ("ExponentialLR", {"gamma": 0.97})],
    "chained_cosine": [("ExponentialLR", {"gamma": 0.9}), ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.01})],
    "one_cycle": [("OneCycleLR", {"max_lr": 0.5, "total_steps": 30})],
    "one_cycle_three_phase_linear": [("OneCycleLR", {"max_lr": [0.4, 0.2], "epochs": 3, "steps_per_epoch": 11,
                                                     "three_phase": True, "anneal_strategy": "linear",
                                                     "pct_start": 0.25})],
}


def _pair(compat, name="SGD", **kwargs):
    """A torch optimizer and the helper one over the same two parameter groups."""
    rng = np.random.default_rng(0)
    w = [rng.standard_normal(s).astype(np.float32) for s in [(3, 2), (4,)]]
    t_params = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in w]
    m_params = [mindspore.Parameter(mindspore.Tensor(a.copy()), name=f"s{i}") for i, a in enumerate(w)]
    groups = [{"lr": 0.1}, {"lr": 0.03}]
    t_opt = getattr(torch.optim, name)([dict(g, params=[p]) for g, p in zip(groups, t_params)], **kwargs)
    m_opt = getattr(compat, name)([dict(g, params=[p]) for g, p in zip(groups, m_params)], **kwargs)
    return t_opt, m_opt, t_params, m_params


def _build(module, schedule, opt, **extra):
    return [getattr(module, name)(opt, **kwargs, **extra) for name, kwargs in schedule]


def _lrs(opt):
    return [group["lr"] for group in opt.param_groups]


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_scheduler_sets_torchs_learning_rates_exactly(compat, schedule):
    """30 epochs of optimizer.step(); scheduler.step(): every group's rate and get_last_lr()
    equal torch's (==), also after the rates are halved from outside at epoch 13."""
    t_opt, m_opt, _, _ = _pair(compat)
    t_scheds, m_scheds = _build(LR, SCHEDULES[schedule], t_opt), _build(compat, SCHEDULES[schedule], m_opt)
    assert _lrs(m_opt) == _lrs(t_opt)
    assert [s.get_last_lr() for s in m_scheds] == [s.get_last_lr() for s in t_scheds]
    history = []
    for epoch in range(30):
        if epoch == 13:
            for opt in (t_opt, m_opt):
                for group in opt.param_groups:
                    group["lr"] *= 0.5
        t_opt.step()
        m_opt.step()
        for t_sched, m_sched in zip(t_scheds, m_scheds):
            t_sched.step()
            m_sched.step()
            assert m_sched.last_epoch == t_sched.last_epoch == epoch + 1
            assert m_sched.get_last_lr() == t_sched.get_last_lr(), (epoch, m_sched.get_last_lr(), t_sched.get_last_lr())
        assert _lrs(m_opt) == _lrs(t_opt), (epoch, _lrs(m_opt), _lrs(t_opt))
        assert [g["initial_lr"] for g in m_opt.param_groups] == [g["initial_lr"] for g in t_opt.param_groups]
        history.append(_lrs(m_opt))
    assert len({tuple(h) for h in history}) > 3, "the schedule must move"


@pytest.mark.parametrize("schedule", ["step", "multistep", "exponential", "cosine", "lambda_per_group"])
def test_scheduler_state_dict_and_resume(compat, schedule):
    """state_dict() has torch's keys and values; a new scheduler that loads it continues as
    torch's does; building one with last_epoch >= 0 needs each group's initial_lr, as in torch."""
    (name, kwargs), = SCHEDULES[schedule]
    t_opt, m_opt, _, _ = _pair(compat)
    t_sched, m_sched = getattr(LR, name)(t_opt, **kwargs), getattr(compat, name)(m_opt, **kwargs)
    for _ in range(9):
        t_opt.step()
        m_opt.step()
        t_sched.step()
        m_sched.step()
    t_state, m_state = t_sched.state_dict(), m_sched.state_dict()
    assert sorted(m_state) == sorted(t_state)
    assert {k: v for k, v in m_state.items()} == {k: v for k, v in t_state.items()}

    t_opt2, m_opt2, _, _ = _pair(compat)
    for t_group, m_group, t_old in zip(t_opt2.param_groups, m_opt2.param_groups, t_opt.param_groups):
        t_group["lr"] = m_group["lr"] = t_old["lr"]  # what optimizer.load_state_dict restores
    t_sched2, m_sched2 = getattr(LR, name)(t_opt2, **kwargs), getattr(compat, name)(m_opt2, **kwargs)
    t_sched2.load_state_dict(t_state)
    m_sched2.load_state_dict(m_state)
    for _ in range(12):
        t_opt2.step()
        m_opt2.step()
        t_sched2.step()
        m_sched2.step()
        assert m_sched2.get_last_lr() == t_sched2.get_last_lr()
        assert _lrs(m_opt2) == _lrs(t_opt2)

    resumed = []
    for module, opt in ((LR, t_opt), (compat, m_opt)):
        sched = getattr(module, name)(opt, **kwargs, last_epoch=9)  # the groups have initial_lr
        sched.step()
        resumed.append((sched.last_epoch, sched.get_last_lr(), _lrs(opt)))
    assert resumed[0] == resumed[1]
    for module in (LR, compat):
        t_fresh, m_fresh, _, _ = _pair(compat)
        with pytest.raises(KeyError):
            getattr(module, name)(t_fresh if module is LR else m_fresh, **kwargs, last_epoch=3)


def test_lambda_lr_state_dict_keeps_callable_objects(compat):
    t_opt, m_opt, _, _ = _pair(compat)
    lambdas = [lambda epoch: 0.9 ** epoch, Poly(3)]
    t_sched, m_sched = LR.LambdaLR(t_opt, lambdas), compat.LambdaLR(m_opt, lambdas)
    assert m_sched.state_dict()["lr_lambdas"] == t_sched.state_dict()["lr_lambdas"] == [None, {"power": 3}]
    other = Poly(1)
    m_sched2 = compat.LambdaLR(m_opt, [lambdas[0], other])
    m_sched2.load_state_dict(m_sched.state_dict())
    assert other.power == 3
    with pytest.raises(ValueError):
        compat.LambdaLR(m_opt, [lambdas[0]])


@pytest.mark.parametrize("schedule", ["step", "multistep", "exponential", "cosine"])
def test_step_with_an_epoch_uses_the_closed_form(compat, schedule):
    """The deprecated scheduler.step(epoch): last_epoch jumps and the closed form sets the rate,
    with a warning, as in torch."""
    (name, kwargs), = SCHEDULES[schedule]
    t_opt, m_opt, _, _ = _pair(compat)
    t_sched, m_sched = getattr(LR, name)(t_opt, **kwargs), getattr(compat, name)(m_opt, **kwargs)
    for epoch in (3, 17, 8, 25, 0):
        with pytest.warns(UserWarning):
            t_sched.step(epoch)
        with pytest.warns(UserWarning):
            m_sched.step(epoch)
        assert m_sched.last_epoch == t_sched.last_epoch == epoch
        assert m_sched.get_last_lr() == t_sched.get_last_lr()


def test_get_lr_outside_step_warns_and_subclass_of_the_base(compat):
    """A custom scheduler written against LRScheduler (get_lr from base_lrs and last_epoch)
    runs on the helper base as on torch's; get_lr() outside step() warns in both."""
    for module in (LR, compat):
        class Warmup(module.LRScheduler):
            def get_lr(self):
                return [base * min(1.0, (self.last_epoch + 1) / 5) for base in self.base_lrs]

        module.Warmup = Warmup
    t_opt, m_opt, _, _ = _pair(compat)
    t_sched, m_sched = LR.Warmup(t_opt), compat.Warmup(m_opt)
    for _ in range(8):
        t_opt.step()
        m_opt.step()
        t_sched.step()
        m_sched.step()
        assert m_sched.get_last_lr() == t_sched.get_last_lr()
    del LR.Warmup
    with pytest.warns(UserWarning):
        compat.StepLR(m_opt, 3).get_lr()
    with pytest.raises(TypeError):
        compat.StepLR(object(), 3)


@pytest.mark.parametrize("name, kwargs", [("SGD", {"momentum": 0.9}), ("Adam", {}), ("SGD", {"weight_decay": 0.1})])
@pytest.mark.parametrize("schedule", ["step", "cosine", "chained"])
def test_optimizer_step_uses_the_scheduled_rate(compat, name, kwargs, schedule):
    """12 epochs with fixed random gradients: the helper optimizer's parameters follow torch's,
    which they would not if a step read another rate than the scheduled one."""
    t_opt, m_opt, t_params, m_params = _pair(compat, name, **kwargs)
    t_scheds, m_scheds = _build(LR, SCHEDULES[schedule], t_opt), _build(compat, SCHEDULES[schedule], m_opt)
    rng = np.random.default_rng(1)
    unscheduled = [p.asnumpy().copy() for p in m_params]
    for _ in range(12):
        for tp, mp in zip(t_params, m_params):
            g = rng.standard_normal(tuple(tp.shape)).astype(np.float32)
            tp.grad, mp.grad = torch.from_numpy(g.copy()), mindspore.Tensor(g.copy())
        t_opt.step()
        m_opt.step()
        for t_sched, m_sched in zip(t_scheds, m_scheds):
            t_sched.step()
            m_sched.step()
        for tp, mp in zip(t_params, m_params):
            np.testing.assert_allclose(mp.asnumpy(), tp.detach().numpy(), rtol=0, atol=2e-6)
    # the same gradients at the constant first rate end elsewhere: the schedule mattered
    rng = np.random.default_rng(1)
    t_const = [torch.nn.Parameter(torch.from_numpy(a)) for a in unscheduled]
    opt = getattr(torch.optim, name)([{"params": [p], "lr": lr} for p, lr in zip(t_const, (0.1, 0.03))], **kwargs)
    for _ in range(12):
        for p in t_const:
            p.grad = torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32))
        opt.step()
    assert max(np.abs(p.detach().numpy() - mp.asnumpy()).max() for p, mp in zip(t_const, m_params)) > 1e-3


TRAINING = """\
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, StepLR

def run(w0: torch.Tensor, grads: torch.Tensor):
    w = torch.nn.Parameter(w0)
    opt = torch.optim.SGD([w], lr=0.2, momentum=0.5)
    decay = StepLR(opt, step_size=4, gamma=0.5)
    cosine = CosineAnnealingLR(opt, T_max=6, eta_min=0.01)
    lrs = []
    for epoch in range(15):
        w.grad = grads[epoch]
        opt.step()
        decay.step()
        cosine.step()
        lrs.append(opt.param_groups[0]["lr"])
        lrs.append(cosine.get_last_lr()[0])
    return w, lrs
"""


def test_converted_code_follows_torchs_schedule(tmp_path, monkeypatch):
    converted = convert_source(TRAINING, SPEC, "training.py")
    assert not [s for s in converted.sites if s.kind not in ("converted", "graph", "pynative")], converted.code
    assert "torch" not in converted.code.replace("_torch_compat", ""), converted.code
    assert "from _torch_compat import CosineAnnealingLR, SGD, StepLR" in converted.code, converted.code
    (tmp_path / "sched_case.py").write_text(converted.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ms_case = importlib.import_module("sched_case")
    namespace: dict = {}
    exec(compile(TRAINING, "<torch>", "exec"), namespace)
    rng = np.random.default_rng(2)
    w0, grads = rng.standard_normal(5).astype(np.float32), rng.standard_normal((15, 5)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither side warns on this (correctly ordered) loop
        t_w, t_lrs = namespace["run"](torch.from_numpy(w0.copy()), torch.from_numpy(grads))
        m_w, m_lrs = ms_case.run(mindspore.Tensor(w0.copy()), mindspore.Tensor(grads))
    assert m_lrs == t_lrs
    np.testing.assert_allclose(m_w.asnumpy(), t_w.detach().numpy(), rtol=0, atol=1e-6)


PLATEAU_CASES = [
    {},
    {"threshold": 0.1, "patience": 1},
    {"mode": "max", "factor": 0.5, "patience": 1},
    {"factor": 0.3, "patience": 0, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 2},
    {"mode": "max", "threshold_mode": "abs", "patience": 2, "min_lr": [0.02, 0.005]},
    {"factor": 0.5, "patience": 0, "min_lr": 0.04, "eps": 1e-3},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=[str(i) for i in range(len(PLATEAU_CASES))])
def test_reduce_lr_on_plateau_follows_torchs_rates(compat, kwargs):
    """Two parameter groups, a metric that improves, stalls and wobbles (a 0-d tensor half the
    time): the rates, the bad-epoch count and the cooldown equal torch's at every epoch, and a
    scheduler restored from the state dict halfway on continues the same."""
    rng = np.random.default_rng(0)
    metrics = list(np.cumsum(rng.standard_normal(30) * 0.1) + np.where(np.arange(30) < 10, -np.arange(30) * 0.1, -1.0) + 3)
    tp = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
    mp = [mindspore.Parameter(mindspore.Tensor(np.zeros(2, np.float32)), name="a"),
          mindspore.Parameter(mindspore.Tensor(np.zeros(3, np.float32)), name="b")]
    t_opt = torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.05}], lr=0.1)
    m_opt = compat.SGD([{"params": [mp[0]]}, {"params": [mp[1]], "lr": 0.05}], lr=0.1)
    t_s, m_s = LR.ReduceLROnPlateau(t_opt, **kwargs), compat.ReduceLROnPlateau(m_opt, **kwargs)
    for epoch, value in enumerate(metrics):
        t_s.step(value)
        m_s.step(mindspore.Tensor(np.float32(value)) if epoch % 2 else value)
        if epoch == 15:
            state = m_s.state_dict()
            m_s = compat.ReduceLROnPlateau(m_opt, **kwargs)
            m_s.load_state_dict(state)
        assert [g["lr"] for g in m_opt.param_groups] == [g["lr"] for g in t_opt.param_groups], epoch
        assert m_s.get_last_lr() == t_s.get_last_lr()
        assert (m_s.num_bad_epochs, m_s.cooldown_counter, m_s.in_cooldown) == \
            (t_s.num_bad_epochs, t_s.cooldown_counter, t_s.in_cooldown)
    assert min(g["lr"] for g in t_opt.param_groups) < 0.05  # the schedule did reduce


def test_reduce_lr_on_plateau_refuses_what_torchs_refuses(compat):
    opt = compat.SGD([mindspore.Parameter(mindspore.Tensor(np.zeros(1, np.float32)), name="w")], lr=0.1)
    for bad, message in [({"factor": 1.0}, "Factor should be < 1.0"), ({"mode": "up"}, "mode up is unknown"),
                         ({"threshold_mode": "pct"}, "threshold mode pct is unknown"),
                         ({"min_lr": [0.1, 0.2]}, "expected 1 min_lrs")]:
        with pytest.raises(ValueError, match=message):
            compat.ReduceLROnPlateau(opt, **bad)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"momentum": 0.9}),
    ("Adam", {"betas": (0.8, 0.99)}),
    ("SGD", {"momentum": 0.9, "three_phase": True, "base_momentum": [0.8, 0.7], "max_momentum": 0.9}),
    ("Adam", {"cycle_momentum": False, "anneal_strategy": "linear"}),
])
def test_one_cycle_moves_the_momentum_as_torchs(compat, name, kwargs):
    """OneCycleLR cycles the optimizer's momentum (Adam: its first beta) against the rate and
    sets it to max_momentum when built: every group's rate and momentum equal torch's at every
    step, and the weights the optimizers reach with them agree."""
    opt_kwargs = {k: kwargs.pop(k) for k in ("momentum", "betas") if k in kwargs}
    t_opt, m_opt, t_params, m_params = _pair(compat, name, **opt_kwargs)
    t_sched = LR.OneCycleLR(t_opt, max_lr=0.3, total_steps=20, **kwargs)
    m_sched = compat.OneCycleLR(m_opt, max_lr=0.3, total_steps=20, **kwargs)
    key = "betas" if name == "Adam" else "momentum"
    rng = np.random.default_rng(1)
    for step in range(20):
        assert _lrs(m_opt) == _lrs(t_opt) and [g[key] for g in m_opt.param_groups] == [g[key] for g in t_opt.param_groups], step
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in t_params]
        for t_p, m_p, g in zip(t_params, m_params, grads):
            t_p.grad = torch.from_numpy(g)
            m_p.grad = mindspore.Tensor(g)
        t_opt.step()
        m_opt.step()
        t_sched.step()
        m_sched.step()
    for t_p, m_p in zip(t_params, m_params):
        np.testing.assert_allclose(m_p.asnumpy(), t_p.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Tried to step"):
        t_sched.step()
    with pytest.raises(ValueError, match="Tried to step"):
        m_sched.step()
