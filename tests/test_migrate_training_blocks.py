"""``loss.backward()`` whose loss is computed across compound statements (a logging ``if``, a
regularisation loop, a ``no_grad`` target), checked against torch; and what must not be
converted silently: a loss needing a module's output computed before an earlier ``step()``
(the GAN generator step), and the parameters of two optimizers in one loop body."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()

SOURCE = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


    def train(model: nn.Module, batches, l2: float, verbose: bool = False):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for x, y in batches:
            opt.zero_grad()
            pred = model(x)
            if verbose:
                print(pred.shape)
            with torch.no_grad():
                anchor = model(x * 0.5)
            loss = F.mse_loss(pred, y) + 0.1 * ((pred - anchor) ** 2).mean()
            for p in model.parameters():
                loss += l2 * p.pow(2).sum()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    """)


def _sites(code: str) -> list:
    return [(s.kind, s.rule, s.reason) for s in convert_source(code, SPEC, "t.py").sites if s.kind not in ("converted", "graph", "pynative")]


def test_compound_statements_join_the_closure_and_match_torch(compat, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from migrate.weights import name_map, to_mindspore
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(SOURCE, SPEC, "train.py")
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    body = out.code[out.code.index("def _loss_fn"):out.code.index("= pynative_value_and_grad(")]
    # the forward, the logging if, the stopped no_grad target and the regularisation loop
    assert "pred = model(x)" in body and "if verbose:" in body and "for p in module_parameters(model):" in body
    assert "ops.stop_gradient(model(x * 0.5))" in body, out.code
    ms_mod = load_converted(out.code, "train_blocks_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(SOURCE, ms_mod)
    params = ms_model.parameters_dict()
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32))
            for _ in range(3)]
    want = t_mod["train"](t_model, [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data], 0.01, True)
    got = ms_mod.train(ms_model, [(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in data], 0.01, True)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    trained, _ = to_mindspore(t_model.state_dict(), name_map(t_model))
    for key, array in trained.items():
        np.testing.assert_allclose(params[key].asnumpy(), array, rtol=1e-5, atol=1e-6)


GAN = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    netG, netD = nn.Linear(2, 3), nn.Linear(3, 1)
    optG = torch.optim.Adam(netG.parameters())
    optD = torch.optim.Adam(netD.parameters())
    crit = nn.BCEWithLogitsLoss()
    for real, noise, ones, zeros in batches:
        netD.zero_grad()
        fake = netG(noise)
        errD = crit(netD(real), ones) + crit(netD(fake.detach()), zeros)
        errD.backward()
        optD.step()
        netG.zero_grad()
        errG = crit(netD(fake), ones)
        errG.backward()
        optG.step()
    """)


def test_a_module_output_from_before_an_earlier_step_is_not_cut_off_silently():
    sites = _sites(GAN)
    assert [(k, r) for k, r, _ in sites] == [("unsupported", "torch.Tensor.backward")], sites
    reason = sites[0][2]
    assert "`fake`" in reason and "`fake = netG(noise)`" in reason and "`optD.step()`" in reason


def test_each_backward_differentiates_the_parameters_of_the_optimizer_that_steps_next():
    code = GAN.replace("errG = crit(netD(fake), ones)", "errG = crit(netD(netG(noise)), ones)")
    out = convert_source(code, SPEC, "gan.py")
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    calls = [line.strip() for line in out.code.splitlines() if "value_and_grad(" in line]
    assert len(calls) == 2
    assert "optD.parameters" in calls[0] and "optG.parameters" in calls[1], calls


def test_data_prepared_before_an_early_continue_stays_outside_and_converts():
    code = textwrap.dedent("""\
        import torch
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i, (x, y) in enumerate(batches):
            x = x * 2.0
            if i % 2:
                continue
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        """)
    out = convert_source(code, SPEC, "t.py")
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    closure = out.code[out.code.index("def _loss_fn"):out.code.index("value_and_grad(_loss_fn")]
    assert "continue" not in closure and "x * 2.0" not in closure


def test_a_forward_before_an_early_continue_is_reported():
    code = textwrap.dedent("""\
        import torch
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i, (x, y) in enumerate(batches):
            pred = model(x)
            if i % 2:
                continue
            loss = ((pred - y) ** 2).mean()
            loss.backward()
            opt.step()
        """)
    sites = _sites(code)
    assert len(sites) == 1 and sites[0][0] == "unsupported"
    assert "`pred = model(x)`" in sites[0][2] and "`if i % 2:`" in sites[0][2]


def test_a_loop_with_its_own_break_rides_along_but_a_return_is_a_barrier_or_a_guard():
    loop = textwrap.dedent("""\
        import torch
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        def step(x, y, extra):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            for t in extra:
                if t is None:
                    break
                loss = loss + (model(t) ** 2).mean()
            {guard}
            loss.backward()
            opt.step()
        """)
    out = convert_source(loop.format(guard="pass"), SPEC, "t.py")
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    closure = out.code[out.code.index("def _loss_fn"):out.code.index("value_and_grad(_loss_fn")]
    assert "break" in closure and "for t in extra:" in closure and "loss = ((model(x) - y) ** 2).mean()" in closure
    guarded = loop.format(guard="if loss is None:\n        return")
    out = convert_source(guarded, SPEC, "t.py")  # a guard that leaves early: the gradients are taken before it
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    assert out.code.index("value_and_grad(_loss_fn") < out.code.index("if loss is None:") < out.code.index("accumulate_grad("), out.code
    returning = loop.format(guard="pass").replace("        loss = loss + (model(t) ** 2).mean()\n",
                                                   "        loss = loss + (model(t) ** 2).mean()\n        return\n")
    assert "        return\n" in returning
    sites = _sites(returning)  # a return inside the loss computation itself stays a barrier
    assert [k for k, _, _ in sites] == ["unsupported"], sites


SWITCHED = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


    def train(model: nn.Module, batches, frozen_target: bool):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for x, y in batches:
            opt.zero_grad()
            pred = model(x)
            with torch.set_grad_enabled(not frozen_target):
                target = y + 0.5 * model(x * 0.5)
            loss = F.mse_loss(pred, target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses
    """)


@pytest.mark.parametrize("frozen", [False, True])
def test_set_grad_enabled_with_a_runtime_mode_matches_torch(frozen, compat, tmp_path, monkeypatch):
    """The block's values are cut off from the gradient exactly when the mode is false: with a
    frozen target the gradient differs from the one through both calls (torch's numbers decide)."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from migrate.weights import name_map, to_mindspore
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(SWITCHED, SPEC, "switched.py")
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.code
    assert "if not frozen_target else ops.stop_gradient(" in out.code, out.code
    ms_mod = load_converted(out.code, f"switched_ms_{int(frozen)}", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(SWITCHED, ms_mod)
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32))
            for _ in range(3)]
    want = t_mod["train"](t_model, [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data], frozen)
    got = ms_mod.train(ms_model, [(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in data], frozen)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    trained, _ = to_mindspore(t_model.state_dict(), name_map(t_model))
    params = ms_model.parameters_dict()
    for key, array in trained.items():
        np.testing.assert_allclose(params[key].asnumpy(), array, rtol=1e-5, atol=1e-6)


GAN_G_FIRST = textwrap.dedent("""\
    import numpy as np
    import torch
    import torch.nn as nn
    from torch.autograd import Variable

    cuda = True if torch.cuda.is_available() else False
    Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor


    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.generator = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 4), nn.Tanh())
            self.discriminator = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Sigmoid())


    def build():
        return Pair()


    def train(pair, batches, noises):
        generator, discriminator = pair.generator, pair.discriminator
        adversarial_loss = torch.nn.BCELoss()
        optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.01, betas=(0.5, 0.999))
        optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.01, betas=(0.5, 0.999))
        losses = []
        for imgs, noise in zip(batches, noises):
            valid = Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
            fake = Variable(Tensor(imgs.size(0), 1).fill_(0.0), requires_grad=False)
            real_imgs = Variable(imgs.type(Tensor))

            optimizer_G.zero_grad()
            z = Variable(Tensor(noise))
            gen_imgs = generator(z)
            g_loss = adversarial_loss(discriminator(gen_imgs), valid)
            g_loss.backward()
            optimizer_G.step()

            optimizer_D.zero_grad()
            real_loss = adversarial_loss(discriminator(real_imgs), valid)
            fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            optimizer_D.step()
            losses.append((g_loss.item(), d_loss.item()))
        return losses
    """)


def test_a_gan_with_legacy_tensor_types_and_a_detached_generator_output_trains_as_torch(compat, tmp_path, monkeypatch):
    """eriklindernoren/PyTorch-GAN's loop: ``Tensor = torch.cuda.FloatTensor if cuda else
    torch.FloatTensor`` builds the targets and casts the batch (``imgs.type(Tensor)``); the
    discriminator's loss reads the generator's output from before ``optimizer_G.step()`` only as
    ``gen_imgs.detach()``, a constant to torch's backward too, so that step converts (it was
    reported unsupported, and the legacy types uncertain / ``Tensor.type`` unsupported)."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from migrate.weights import name_map, to_mindspore
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(GAN_G_FIRST, SPEC, "gan.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "type_of(imgs, Tensor)" in out.code and "Tensor = FloatTensor if cuda else FloatTensor" in out.code
    ms_mod = load_converted(out.code, "gan_g_first_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(GAN_G_FIRST, ms_mod)
    rng = np.random.default_rng(0)
    batches = [rng.uniform(-1, 1, (6, 4)) for _ in range(3)]  # float64, cast by imgs.type(Tensor)
    noises = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(3)]
    want = t_mod["train"](t_model, [torch.from_numpy(b) for b in batches], noises)
    got = ms_mod.train(ms_model, [mindspore.Tensor(b) for b in batches], noises)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    trained, _ = to_mindspore(t_model.state_dict(), name_map(t_model))
    params = ms_model.parameters_dict()
    for key, array in trained.items():
        np.testing.assert_allclose(params[key].asnumpy(), array, rtol=1e-4, atol=1e-6)


UNTYPED_OPTIMIZER = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


    def make_optimizer(model, name):
        if isinstance(name, str):
            return torch.optim.Adam(model.parameters(), lr=0.05) if name == "adam" else torch.optim.SGD(model.parameters(), lr=0.1)
        return name


    def fit(model: nn.Module, optimizer, batches):
        optim = make_optimizer(model, optimizer)
        losses = []
        for x, y in batches:
            optim.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            optim.step()
            losses.append(loss.item())
        return losses
    """)


def test_an_optimizer_of_unknown_type_next_to_backward_trains_as_torch_and_is_checked(compat, tmp_path, monkeypatch):
    """DeepCTR-Torch's fit(): ``optim = self.optim`` is whatever compile() was given (a name or an
    optimizer). zero_grad() before and step() after the backward on that object: the step
    differentiates ``optimizer_parameters(optim)``, which refuses a non-optimizer at run time."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(UNTYPED_OPTIMIZER, SPEC, "fit.py")
    assert "optimizer_parameters(optim)" in out.code, out.code
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    ms_mod = load_converted(out.code, "untyped_optim_ms", tmp_path, monkeypatch)
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32))
            for _ in range(3)]
    for name in ("adam", "sgd"):
        t_mod, t_model, ms_model = twin_models(UNTYPED_OPTIMIZER, ms_mod)
        want = t_mod["fit"](t_model, name, [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data])
        got = ms_mod.fit(ms_model, name, [(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in data])
        np.testing.assert_allclose(got, want, rtol=1e-5)

    class NotAnOptimizer:
        def zero_grad(self):
            pass

        def step(self):
            pass

    with pytest.raises(TypeError, match="not an optimizer of the converted program"):
        ms_mod.fit(ms_mod.build(), NotAnOptimizer(), [(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in data])


AMP = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    from torch.cuda.amp import GradScaler, autocast


    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


    def fit(model: nn.Module, batches, fp16: bool):
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        scaler = GradScaler(enabled=fp16)
        losses = []
        for x, y in batches:
            with autocast(enabled=fp16):
                loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
        return losses
    """)


def test_a_mixed_precision_loop_trains_as_torchs_float32_run(compat, tmp_path, monkeypatch):
    """SimCLR's loop: autocast around the forward, ``scaler.scale(loss).backward()``,
    ``scaler.step(opt)``, ``scaler.update()``. The helpers compute in float32 (no loss scaling):
    the same losses as torch with AMP disabled, the step differentiating opt's parameters."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(AMP, SPEC, "amp.py")
    assert "pynative_value_and_grad(_loss_fn, opt.parameters" in out.code, out.code
    assert "scaler.scale" not in out.code and "scaler.step(opt)" in out.code
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    ms_mod = load_converted(out.code, "amp_ms", tmp_path, monkeypatch)
    rng = np.random.default_rng(2)
    data = [(rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 1)).astype(np.float32))
            for _ in range(3)]
    t_mod, t_model, ms_model = twin_models(AMP, ms_mod)
    want = t_mod["fit"](t_model, [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data], False)
    got = ms_mod.fit(ms_model, [(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in data], True)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    scaler = compat.GradScaler(enabled=True)
    assert scaler.get_scale() == 1.0 and not scaler.is_enabled()


UNKNOWN_LOSS = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    def build():
        return nn.Linear(4, 1)


    class Trainer:
        \"\"\"LightGCN's BPRLoss.stageOne: the loss comes from a module handed in, of unknown type.\"\"\"

        def __init__(self, model, loss_fn, lr):
            self.model = model
            self.loss_fn = loss_fn
            self.opt = torch.optim.Adam(model.parameters(), lr=lr)

        def stage(self, x, y):
            loss = self.loss_fn(self.model(x), y)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return loss.item()


    def no_optimizer(loss):
        loss.backward()
    """)


def test_a_backward_on_a_loss_of_unknown_type_between_an_optimizers_calls_is_a_training_step(
        compat, tmp_path, monkeypatch):
    """``loss`` is of unknown type (what an unknown loss module returns), but an optimizer's
    ``zero_grad()`` and ``step()`` surround its ``backward()``: a tensor's, converted and trained
    as torch trains; a bare ``loss.backward()`` with no optimizer stays a question for a person."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(UNKNOWN_LOSS, SPEC, "unknown_loss.py")
    left = [(s.kind, s.rule, s.line) for s in out.sites if s.kind in ("uncertain", "unsupported")]
    assert left == [("uncertain", "torch.Tensor.backward", 26)], left  # no_optimizer()
    assert "value_and_grad" in out.code
    ms_mod = load_converted(out.code, "unknown_loss_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(UNKNOWN_LOSS, ms_mod)
    t_trainer = t_mod["Trainer"](t_model, torch.nn.MSELoss(), 0.05)
    ms_trainer = ms_mod.Trainer(ms_model, mindspore.nn.MSELoss(), 0.05)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
        want = t_trainer.stage(torch.from_numpy(x), torch.from_numpy(y))
        got = ms_trainer.stage(mindspore.Tensor(x), mindspore.Tensor(y))
        np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(ms_model.weight.asnumpy(), t_model.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


ZERO_GRAD_AFTER = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    def build():
        return nn.Linear(3, 2)


    def run_epoch(model: nn.Module, optimizer, batches):
        \"\"\"The optimizer comes in untyped and is cleared after its step, ready for the next batch.\"\"\"
        losses = []
        for x, y in batches:
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        return losses
    """)


def test_an_untyped_optimizer_cleared_after_its_step_is_the_one_differentiated(compat, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(ZERO_GRAD_AFTER, SPEC, "zero_after.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "optimizer_parameters(optimizer)" in out.code
    ms_mod = load_converted(out.code, "zero_after_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(ZERO_GRAD_AFTER, ms_mod)
    rng = np.random.default_rng(2)
    data = [(rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32))
            for _ in range(4)]
    want = t_mod["run_epoch"](t_model, torch.optim.SGD(t_model.parameters(), lr=0.1, momentum=0.9),
                              [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data])
    got = ms_mod.run_epoch(ms_model, compat.SGD(ms_model.trainable_params(), lr=0.1, momentum=0.9),
                           [(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in data])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(ms_model.weight.asnumpy(), t_model.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


ACCUMULATED = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    from torch.distributions import Categorical


    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.saved_log_probs = []
            self.scales = []

        def forward(self, x):
            return torch.softmax(self.fc(x), dim=-1)


    policy = Policy()
    optimizer = torch.optim.Adam(policy.parameters(), lr=0.01)


    def act(state):
        probs = policy(state)
        m = Categorical(probs)
        action = m.sample()
        policy.saved_log_probs.append(m.log_prob(action))
        policy.scales.append(2.0)
        return action


    def finish_episode():
        loss = -torch.stack(policy.saved_log_probs).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


    def scaled_step(x):
        loss = (policy(x).sum(-1) * policy.scales[0]).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


    def remember(x):
        policy.last = policy(x)


    def step_on_last():
        loss = policy.last.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    """)


def test_a_loss_over_values_a_module_collected_while_acting_is_reported():
    """REINFORCE (pytorch/examples): the log-probabilities are appended to ``policy.saved_log_probs``
    while acting and summed in another function.  Differentiated there they are constants: the
    converted step would train nothing, silently; it is reported instead, and so is a module
    output kept in an attribute by another function (``policy.last``).  An attribute filled
    with constants (``policy.scales``) does not stop a step."""
    out = convert_source(ACCUMULATED, SPEC, "reinforce.py")
    left = [(s.kind, s.line, s.reason) for s in out.sites if s.kind == "unsupported"]
    assert left == [("unsupported", 33, "the loss reads `policy.saved_log_probs`, whose items are computed outside the "
                                        "differentiated closure (`policy.saved_log_probs.append(m.log_prob(action))`): "
                                        "no gradient would flow through them; compute them inside the step"),
                    ("unsupported", 51, "the loss reads `policy.last`, whose items are computed outside the "
                                        "differentiated closure (`policy.last = policy(x)`): no gradient would flow "
                                        "through them; compute them inside the step")], left
    assert "value_and_grad(_loss_fn" in out.code  # scaled_step converts


STRAIGHT = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(x)


    def one_step(weights, x, y):
        net = Net()
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = ((net(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item(), net.fc.weight.detach().numpy(), net.fc.bias.detach().numpy()
    """)


def test_a_step_written_straight_after_building_its_model_and_optimizer_trains_as_torch(compat, tmp_path,
                                                                                       monkeypatch):
    """Model, optimizer and loss in one block (a script or a tutorial without a loop): the
    closure starts after the optimizer is built (it was moved inside, and the step then read the
    optimizer before it existed: UnboundLocalError)."""
    torch = pytest.importorskip("torch")
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(STRAIGHT, "straight_step", tmp_path, monkeypatch)
    closure = code[code.index("def _loss_fn"):code.index("value_and_grad(_loss_fn")]
    assert "SGD(" not in closure and "Net()" not in closure, code
    rng = np.random.default_rng(0)
    weights = {"fc.weight": rng.standard_normal((1, 3)).astype(np.float32), "fc.bias": np.zeros(1, np.float32)}
    x, y = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    for got, want in zip(ms_mod.one_step(weights, x, y), t_mod["one_step"](weights, x, y)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


TRAINER = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Trainer:
        def __init__(self, model, lr=0.1):
            self.model = model
            self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
            self.criterion = nn.MSELoss()

        def train_epoch(self, batches):
            total = 0.0
            for x, y in batches:
                self.optimizer.zero_grad()
                output = self.model(x)
                output = output.reshape(-1)
                loss = self.criterion(output, y.reshape(-1))
                loss.backward()
                self.optimizer.step()
                total += loss.item()
            return total


    def run(weights, xs, ys):
        net = nn.Linear(3, 1)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        trainer = Trainer(net)
        batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in zip(xs, ys)]
        return [trainer.train_epoch(batches) for _ in range(3)], net.weight.detach().numpy()
    """)


def test_a_forward_through_an_object_held_model_stays_in_the_differentiated_closure(compat, tmp_path, monkeypatch):
    """``output = self.model(x)`` in a trainer class whose ``self.model`` is of unknown type was
    taken for a value no parameter reaches and moved before the compiled step: every gradient
    was zero and the model never trained, without a word."""
    torch = pytest.importorskip("torch")
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(TRAINER, "held_model", tmp_path, monkeypatch)
    closure = code[code.index("def _loss_fn"):code.index("value_and_grad(_loss_fn")]
    assert "self.model(x)" in closure, code
    rng = np.random.default_rng(0)
    weights = {"weight": rng.standard_normal((1, 3)).astype(np.float32), "bias": np.zeros(1, np.float32)}
    xs = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    ys = [rng.standard_normal(4).astype(np.float32) for _ in range(3)]
    (got_losses, got_w), (want_losses, want_w) = ms_mod.run(weights, xs, ys), t_mod["run"](weights, xs, ys)
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    np.testing.assert_allclose(got_w, want_w, rtol=1e-5, atol=1e-6)
    assert want_losses[-1] < want_losses[0]


UNTYPED_MODEL = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 2)
            self.dec = nn.Linear(2, 4)

        def encode(self, x):
            return torch.tanh(self.enc(x))

        def decode(self, h):
            return self.dec(h)


    def train(model, opt, batches):
        for x in batches:
            opt.zero_grad()
            x = x.float().view(-1, 4)
            h = model.encode(x)
            loss = ((model.decode(h) - x) ** 2).mean()
            loss.backward()
            opt.step()


    def run(weights, xs):
        model = AE()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        train(model, torch.optim.SGD(model.parameters(), lr=0.5), [torch.from_numpy(x) for x in xs])
        return model.enc.weight.detach().numpy(), model.dec.weight.detach().numpy()
    """)


def test_a_method_call_on_a_model_of_unknown_type_stays_in_the_differentiated_closure(compat, tmp_path,
                                                                                      monkeypatch):
    """``h = model.encode(x)`` with ``model`` an unannotated parameter was taken for data (a
    method of a receiver followed by its name) and moved before the compiled step: the encoder
    got no gradient, silently.  A method torch's tensors do not have, on a receiver of unknown
    type, may compute with parameters, and the step is not compiled around it: MindSpore runs a
    Python object's method once, when it compiles (measured: a sampler's draw frozen into the
    graph)."""
    pytest.importorskip("torch")
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(UNTYPED_MODEL, "untyped_model", tmp_path, monkeypatch)
    closure = code[code.index("def _loss_fn"):code.index("value_and_grad(_loss_fn")]
    assert "model.encode(x)" in closure, code
    # not compiled: unknown code there (a Python object's method) would run once, at compile time
    assert "compiled_value_and_grad" not in code
    steps = [s.reason for s in convert_source(UNTYPED_MODEL, SPEC, "m.py").sites if s.kind == "pynative"]
    assert steps == ["the training step stays in PyNative: the loss closure calls model.encode() on a receiver of "
                     "unknown type (Python code there would run once, when the graph is compiled)"], steps
    rng = np.random.default_rng(0)
    weights = {"enc.weight": rng.standard_normal((2, 4)), "enc.bias": np.zeros(2), "dec.weight": rng.standard_normal((4, 2)),
               "dec.bias": np.zeros(4)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    xs = [rng.standard_normal((3, 4)).astype(np.float64) for _ in range(3)]
    for got, want in zip(ms_mod.run(weights, xs), t_mod["run"](weights, xs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


GUARDED = """\
import torch
import torch.nn.functional as F


def run(model, x, y, opt, limit):
    skipped, losses = 0, []
    for start in range(0, 12, 4):
        loss = F.mse_loss(model(x[start:start + 4]), y[start:start + 4])
        if torch.isnan(loss) or loss.item() > limit:
            skipped += 1
            continue
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return skipped, losses
"""


def test_a_guard_between_the_loss_and_its_backward_skips_the_step_as_torchs(compat, tmp_path, monkeypatch):
    """``if torch.isnan(loss) or loss.item() > limit: continue`` between the loss and backward():
    the gradients are taken before the guard (torch's forward ran there too) and stored at the
    backward, so a skipped batch changes nothing; a guard followed by a new binding of the loss
    stays reported (the loss must then be computed after the guard)."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(GUARDED, "guarded_step", tmp_path, monkeypatch)
    assert code.index("value_and_grad(_loss_fn") < code.index("continue") < code.index("accumulate_grad("), code
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.normal(size=(12, 1)).astype(np.float32)
    y[4:8] *= 10  # the second batch's loss is large: skipped
    t_model, m_model = torch.nn.Linear(3, 1), mindspore.nn.Dense(3, 1)
    m_model.weight.set_data(mindspore.Tensor(t_model.weight.detach().numpy()))
    m_model.bias.set_data(mindspore.Tensor(t_model.bias.detach().numpy()))
    want = t_mod["run"](t_model, torch.from_numpy(x), torch.from_numpy(y), torch.optim.SGD(t_model.parameters(), lr=0.1), 5.0)
    got = ms_mod.run(m_model, mindspore.Tensor(x), mindspore.Tensor(y), compat.SGD(m_model.trainable_params(), lr=0.1), 5.0)
    assert got[0] == want[0] == 1
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
    np.testing.assert_allclose(m_model.weight.asnumpy(), t_model.weight.detach().numpy(), rtol=1e-5)

    rebound = GUARDED.replace("        opt.zero_grad()\n", "        loss = loss / 2\n        opt.zero_grad()\n")
    out = convert_source(rebound, SPEC, "rebound.py")
    reasons = [s.reason for s in out.sites if s.kind == "unsupported"]
    assert len(reasons) == 1 and "`if torch.isnan(loss) or loss.item() > limit:`" in reasons[0], out.code
    remade = GUARDED.replace("        opt.zero_grad()\n", "        x = x * 2\n        opt.zero_grad()\n")
    out = convert_source(remade, SPEC, "remade.py")  # torch's backward reads the graph built before: fine
    assert not [s for s in out.sites if s.kind == "unsupported"], out.code
