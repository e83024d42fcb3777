"""The compiled training step: which loss closures ``training_step`` emits as
``compiled_value_and_grad(fn, weights)(*args)``, and what the helper does at run time
(one graph per set of constant arguments, PyNative when a graph cannot be had)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()
mindspore = pytest.importorskip("mindspore")
from mindspore import nn, ops  # noqa: E402


def _step_sites(out) -> list:
    return [(s.kind, s.reason) for s in out.sites if s.kind in ("graph", "pynative")]


LOOP = """\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
def fit(batches, scale: float):
    for x, y in batches:
        opt.zero_grad()
        pred = model(x) * scale
{extra}        loss = ((pred - y) ** 2).mean()
        loss.backward()
        opt.step()
"""


def test_a_pure_closure_is_compiled_with_its_reads_as_arguments():
    out = convert_source(LOOP.format(extra=""), SPEC, "t.py")
    assert "    opt.zero_grad()\n        def _loss_fn(model, x, scale, y):" in out.code, out.code
    assert "compiled_value_and_grad(_loss_fn, opt.parameters)(model, x, scale, y)" in out.code
    assert _step_sites(out) == [("graph", "the training step (forward and backward) is compiled as a graph, with "
                                          "PyNative as the fallback")]


@pytest.mark.parametrize("extra, why", [
    ("        print(pred)\n", "holds `print(pred)` (only assignments are compiled)"),
    ("        pred.data = pred\n", "assigns something other than a name in `pred.data = pred`"),
    ("        value = pred.sum().item()\n", "calls .item() (leaves the graph)"),
    ("        if scale > 1:\n            pred = pred / scale\n", "holds `if scale > 1:` (only assignments are compiled)"),
])
def test_a_closure_that_may_not_behave_as_a_graph_stays_in_pynative(extra, why):
    out = convert_source(LOOP.format(extra=extra), SPEC, "t.py")
    assert "pynative_value_and_grad(_loss_fn, opt.parameters" in out.code, out.code
    assert "compiled_value_and_grad" not in out.code
    [(kind, reason)] = _step_sites(out)
    assert kind == "pynative" and reason == f"the training step stays in PyNative: the loss closure {why}"


def test_no_jit_emits_the_plain_closure_and_reports_nothing():
    out = convert_source(LOOP.format(extra=""), SPEC, "t.py", jit=False)
    assert "pynative_value_and_grad(_loss_fn, opt.parameters)()" in out.code, out.code
    assert _step_sites(out) == []


def test_attribute_chains_are_lifted_once_and_methods_stay_calls():
    """Values read through attributes are arguments of their own; so is a called module
    (``self.net``), so that the graph does not depend on ``self``; a method stays a call on it."""
    code = """\
import torch
class Trainer:
    def __init__(self, net: torch.nn.Module):
        self.net = net
        self.opt = torch.optim.SGD(net.parameters(), lr=0.1)
        self.cfg = None

    def scale(self, y: torch.Tensor) -> torch.Tensor:
        return y * 2

    def step(self, x: torch.Tensor):
        self.opt.zero_grad()
        loss = self.scale(self.net(x).mean()) * self.cfg.weight + self.cfg.weight * self.cfg.bias
        loss.backward()
        self.opt.step()
"""
    out = convert_source(code, SPEC, "t.py")
    assert "def _loss_fn(self, x, self_net, self_cfg_weight, self_cfg_bias):" in out.code, out.code
    assert "loss = self.scale(self_net(x).mean()) * self_cfg_weight + self_cfg_weight * self_cfg_bias" in out.code
    assert "(self, x, self.net, self.cfg.weight, self.cfg.bias)" in out.code


def test_a_step_on_objects_made_anew_compiles_once(compat, tmp_path, monkeypatch):
    """A per-task object (the MAMO authors' LOCALUpdate: a new one for every user, holding the
    shared model and a new loss module) runs one compiled graph for all of them: the closure
    takes the modules, not the object, and an equal parameterless loss reuses the graph."""
    torch = pytest.importorskip("torch")
    from test_migrate_numeric import load_converted

    code = """\
import torch
class Local:
    def __init__(self, model: torch.nn.Module, x, y):
        self.model, self.x, self.y = model, x, y
        self.loss_fn = torch.nn.MSELoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def train(self):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss.item()

def run(model, xs, ys):
    return [Local(model, x, y).train() for x, y in zip(xs, ys)]
"""
    out = convert_source(code, SPEC, "local.py")
    assert "self_loss_fn" in out.code and "self_model" in out.code, out.code
    ms_mod = load_converted(out.code, "local_case", tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(6)]
    ys = [rng.normal(size=(4, 2)).astype(np.float32) for _ in range(6)]
    w, b = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    t_model = torch.nn.Linear(3, 2)
    t_model.weight.data, t_model.bias.data = torch.tensor(w), torch.tensor(b)
    t_losses = []
    for x, y in zip(xs, ys):
        opt = torch.optim.SGD(t_model.parameters(), lr=0.1)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(t_model(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        opt.step()
        t_losses.append(loss.item())
    m_model = mindspore.nn.Dense(3, 2)
    m_model.weight.set_data(mindspore.Tensor(w))
    m_model.bias.set_data(mindspore.Tensor(b))
    compat._COMPILED_STEPS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to PyNative
        m_losses = ms_mod.run(m_model, [mindspore.Tensor(x) for x in xs], [mindspore.Tensor(y) for y in ys])
    np.testing.assert_allclose(m_losses, t_losses, rtol=1e-5)
    [graphs] = [c for c in compat._COMPILED_STEPS.values() if c is not None]
    assert graphs.compiles == 1 and graphs.calls == 6


def test_constant_items_of_a_batch_become_arguments_and_the_container_does_not():
    """``batch["x"]`` is lifted like an attribute value (a dict argument would keep the step
    uncompiled); ``fns["act"](...)``, a called item, is not; the container goes only if
    something still reads it whole."""
    code = """\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
def fit(loader):
    for batch in loader:
        opt.zero_grad()
        out = model(batch["x"])
        loss = ((out - batch["y"]) ** 2).mean() + 0 * batch["x"].sum()
        loss.backward()
        opt.step()
"""
    out = convert_source(code, SPEC, "t.py")
    assert "def _loss_fn(model, batch_x, batch_y):" in out.code, out.code
    assert "loss = ((out - batch_y) ** 2).mean() + 0 * batch_x.sum()" in out.code
    assert "(model, batch[\"x\"], batch[\"y\"])" in out.code


# ----- the helper at run time ------------------------------------------------------------

class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)

    def construct(self, x):
        return self.fc(x)


def _data():
    rng = np.random.default_rng(0)
    return mindspore.Tensor(rng.standard_normal((4, 3)).astype(np.float32))


class _Custom(Exception):
    pass


def _loss(net, x, scale):
    return (net(x) * scale).sum()


def test_compiled_gradients_equal_pynative_and_graphs_are_keyed_by_constants(compat):
    net, x = Net(), _data()
    weights = net.trainable_params()
    compat._COMPILED_STEPS.pop(_loss.__code__, None)
    for scale in (2.0, 2.0, 3.0, 2.0):
        want_loss, want = mindspore.value_and_grad(_loss, None, weights)(net, x, scale)
        got_loss, got = compat.compiled_value_and_grad(_loss, weights)(net, x, scale)
        np.testing.assert_allclose(got_loss.asnumpy(), want_loss.asnumpy(), rtol=1e-6)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-6)
    cache = compat._COMPILED_STEPS[_loss.__code__]
    assert (len(cache.graphs), cache.compiles, cache.calls) == (2, 2, 4)  # scale 2.0 and 3.0
    net.set_train(True)  # a Cell's training flag is part of the key (Cells start with it False)
    compat.compiled_value_and_grad(_loss, weights)(net, x, 2.0)
    assert len(cache.graphs) == 3


def test_a_closure_graph_mode_rejects_runs_in_pynative_with_one_warning(compat):
    net, x = Net(), _data()
    weights = net.trainable_params()

    def host_loss(net, x):
        out = net(x)
        if out.shape[0] < 0:
            raise _Custom("never raised; MindSpore 2.10 compiles no custom exception class")
        return out.sum()

    with pytest.warns(RuntimeWarning, match=r"host_loss runs uncompiled \(PyNative\) from now on: it does not compile"):
        loss, grads = compat.compiled_value_and_grad(host_loss, weights)(net, x)
    want_loss, want = mindspore.value_and_grad(host_loss, None, weights)(net, x)
    np.testing.assert_allclose(loss.asnumpy(), want_loss.asnumpy(), rtol=1e-6)
    assert compat._COMPILED_STEPS[host_loss.__code__] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        compat.compiled_value_and_grad(host_loss, weights)(net, x)


def test_list_arguments_and_changing_constants_fall_back(compat, monkeypatch):
    net, x = Net(), _data()
    weights = net.trainable_params()

    def listed(net, xs):
        return net(xs[0]).sum()

    with pytest.warns(RuntimeWarning, match="an argument of type list"):
        compat.compiled_value_and_grad(listed, weights)(net, [x])

    def annealed(net, x, beta):
        return (net(x) * beta).sum()

    monkeypatch.setattr(compat, "MAX_STEP_GRAPHS", 2)
    step = compat.compiled_value_and_grad(annealed, weights)
    step(net, x, 0.1)
    step(net, x, 0.2)
    with pytest.warns(RuntimeWarning, match=r"2 graphs in 3 calls \(constant arguments that keep changing\)"):
        loss, _ = step(net, x, 0.3)
    want, _ = mindspore.value_and_grad(annealed, None, weights)(net, x, 0.3)
    np.testing.assert_allclose(loss.asnumpy(), want.asnumpy(), rtol=1e-6)


def test_tensor_arguments_are_inputs_not_frozen_constants(compat):
    net = Net()
    weights = net.trainable_params()

    def plain(net, x):
        return ops.square(net(x)).sum()

    step = compat.compiled_value_and_grad(plain, weights)
    for seed in (1, 2):
        x = mindspore.Tensor(np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32))
        loss, _ = step(net, x)
        want, _ = mindspore.value_and_grad(plain, None, weights)(net, x)
        np.testing.assert_allclose(loss.asnumpy(), want.asnumpy(), rtol=1e-6)
    assert len(compat._COMPILED_STEPS[plain.__code__].graphs) == 1


def test_a_closure_whose_statements_another_rewrite_expanded_stays_in_pynative():
    code = LOOP.format(extra="        with torch.no_grad():\n            a = pred * 2\n            b = a + 1\n"
                             "        pred = pred - b\n")
    out = convert_source(code, SPEC, "t.py")
    assert "pynative_value_and_grad(_loss_fn, opt.parameters" in out.code, out.code
    assert _step_sites(out) == [("pynative", "the training step stays in PyNative: the loss closure holds a "
                                             "statement another rewrite expanded")]


BATCHNORM_LOOP = """\
import torch
import torch.nn as nn
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 8 * 8, 3)
    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
crit = nn.CrossEntropyLoss()
def fit(batches):
    model.train()
    losses = []
    for x, y in batches:
        opt.zero_grad()
        out = model(x)
        loss = crit(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
"""


def test_a_compiled_step_with_batchnorm_trains_as_torch(compat, tmp_path, monkeypatch):
    """BatchNorm's moving statistics are updated once per compiled step, as torch's running
    statistics are; losses, weights and statistics agree over five momentum-SGD steps."""
    torch = pytest.importorskip("torch")
    from test_migrate_numeric import load_converted

    out = convert_source(BATCHNORM_LOOP, SPEC, "bn_case.py")
    assert "compiled_value_and_grad(_loss_fn, opt.parameters)(model, x, crit, y)" in out.code, out.code
    ms_case = load_converted(out.code, "bn_case", tmp_path, monkeypatch)
    namespace: dict = {}
    exec(compile(BATCHNORM_LOOP, "<torch>", "exec"), namespace)
    t_model = namespace["model"]
    names = {"bn.weight": "bn.gamma", "bn.bias": "bn.beta", "bn.running_mean": "bn.moving_mean",
             "bn.running_var": "bn.moving_variance"}
    compat.load_state_dict(ms_case.model, {names.get(k, k): mindspore.Tensor(v.detach().numpy())
                                           for k, v in t_model.state_dict().items() if "num_batches" not in k})
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((6, 3, 8, 8)).astype(np.float32), rng.integers(0, 3, 6)) for _ in range(5)]
    t_losses = namespace["fit"]([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches])
    m_losses = ms_case.fit([(mindspore.Tensor(x), mindspore.Tensor(y)) for x, y in batches])
    np.testing.assert_allclose(m_losses, t_losses, rtol=1e-5)
    np.testing.assert_allclose(ms_case.model.bn.moving_mean.asnumpy(), t_model.bn.running_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(ms_case.model.bn.moving_variance.asnumpy(), t_model.bn.running_var.numpy(), atol=1e-6)
    np.testing.assert_allclose(ms_case.model.fc.weight.asnumpy(), t_model.fc.weight.detach().numpy(), atol=1e-6)
    [cache] = [c for code, c in compat._COMPILED_STEPS.items() if code.co_filename.endswith("bn_case.py")]
    assert cache is not None and (len(cache.graphs), cache.calls) == (1, 5)  # compiled once, not fallen back


def test_a_stateless_cell_keeps_its_key_after_calls_and_differs_by_its_settings(compat):
    """The key of a Cell with no Parameters is its class and own attributes: MindSpore's
    bookkeeping, which a call changes (phase caches, hooks), is not part of it; a setting is."""

    class Scaled(nn.Cell):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor
            self.act = nn.ReLU()

        def construct(self, x):
            return self.act(x) * self.factor

    a, b, c = Scaled(2.0), Scaled(2.0), Scaled(3.0)
    key = compat._step_const_key(a)
    assert key[0] == "stateless cell" and key == compat._step_const_key(b) != compat._step_const_key(c)
    a(_data())
    mindspore.jit(a)(_data())
    assert compat._step_const_key(a) == key
    a.set_train(True)
    assert compat._step_const_key(a) != key
    assert compat._step_const_key(Net())[0] == "cell"  # holds Parameters: keyed by identity


@pytest.mark.parametrize("clear", ["model.zero_grad()", "net.zero_grad()"], ids=["unknown receiver", "module"])
def test_a_zero_grad_among_the_batch_statements_moves_before_the_compiled_step(clear):
    """``model.zero_grad()`` between the batch's tensors and the loss, on a module or on a receiver
    of unknown type (the helper's zero_grad/zero_grad_of, named by placeholders while the file is
    rewritten): it runs before the step, which compiles (it kept the step in PyNative)."""
    source = (
        "import torch\n"
        "net = torch.nn.Linear(3, 1)\n"
        "def fit(model, opt: torch.optim.Optimizer, xs, ys):\n"
        "    for b in range(0, len(ys), 4):\n"
        "        x = torch.FloatTensor(xs[b:b + 4])\n"
        "        y = torch.FloatTensor(ys[b:b + 4])\n"
        f"        {clear}\n"
        "        loss = ((model(x) - y) ** 2).mean()\n"
        "        loss.backward()\n"
        "        opt.step()\n")
    out = convert_source(source, SPEC, "t.py")
    assert "compiled_value_and_grad(_loss_fn, opt.parameters)" in out.code, out.code
    closure = out.code[out.code.index("def _loss_fn"):out.code.index("compiled_value_and_grad(")]
    assert "zero_grad" not in closure, out.code


class _TwoHeads(nn.Cell):
    """``head`` on one branch, ``other`` on the other, ``spare`` never called."""

    def __init__(self):
        super().__init__()
        self.body = nn.Dense(3, 4)
        self.head = nn.Dense(4, 1)
        self.other = nn.Dense(4, 1)
        self.spare = nn.Dense(4, 2)

    def construct(self, x, use_other=False):
        h = self.body(x)
        return self.other(h) if use_other else self.head(h)


def _two_heads_loss(net, x, use_other):
    return (net(x, use_other) ** 2).sum()


@pytest.mark.parametrize("form", ["compiled", "pynative"])
def test_a_parameter_the_loss_never_reaches_gets_none_as_in_torch(compat, form):
    net, x = _TwoHeads(), _data()
    weights = net.trainable_params()
    names = [p.name for p in weights]
    make = compat.compiled_value_and_grad if form == "compiled" else compat.pynative_value_and_grad
    compat._COMPILED_STEPS.pop(_two_heads_loss.__code__, None)
    for use_other in (False, True, False):
        _, grads = make(_two_heads_loss, weights)(net, x, use_other)
        unreached = {n for n, g in zip(names, grads) if g is None}
        taken, skipped = ("other", "head") if use_other else ("head", "other")
        assert unreached == {f"{skipped}.weight", f"{skipped}.bias", "spare.weight", "spare.bias"}, unreached
        for name, g in zip(names, grads):
            if g is not None:  # the rest are MindSpore's own gradients
                assert name.split(".")[0] in ("body", taken)
                assert np.abs(g.asnumpy()).sum() > 0
    if form == "compiled":
        cache = compat._COMPILED_STEPS[_two_heads_loss.__code__]
        assert cache is not None and cache.compiles == 2  # one graph per branch, both compiled


def test_a_zero_gradient_of_a_parameter_the_loss_reads_stays_a_zero_tensor(compat):
    net, x = _TwoHeads(), _data()
    weights = net.trainable_params()

    def times_zero(net, x):
        return (net(x) * 0.0).sum() + (net.spare.weight * 0.0).sum()

    for make in (compat.compiled_value_and_grad, compat.pynative_value_and_grad):
        _, grads = make(times_zero, weights)(net, x)
        by_name = dict(zip([p.name for p in weights], grads))
        assert by_name["spare.weight"] is not None and not by_name["spare.weight"].asnumpy().any()
        assert by_name["head.weight"] is not None  # read, its gradient zero: torch's is a zero tensor too
        assert by_name["other.weight"] is None and by_name["other.bias"] is None
        if make is compat.pynative_value_and_grad:  # the graph parser reads all of `net.spare` (a zero, as now)
            assert by_name["spare.bias"] is None


class _Holder:
    """A plain object holding a Parameter: reading it is not a Cell attribute read."""

    def __init__(self, w):
        self.w = w


def test_a_parameter_reached_another_way_keeps_its_gradient(compat):
    w = mindspore.Parameter(mindspore.Tensor(np.ones(3, np.float32)), name="held")
    holder, x = _Holder(w), _data()

    def held_loss(holder, x):
        return (ops.matmul(x, holder.w) ** 2).sum()

    _, (want,) = mindspore.value_and_grad(held_loss, None, [w])(holder, x)
    assert np.abs(want.asnumpy()).sum() > 0
    _, (grad,) = compat.pynative_value_and_grad(held_loss, [w])(holder, x)
    np.testing.assert_allclose(grad.asnumpy(), want.asnumpy(), rtol=1e-6)
    # a graph would take the object's Parameter as a constant (a silent zero gradient, measured):
    # such an argument runs in PyNative
    compat._COMPILED_STEPS.pop(held_loss.__code__, None)
    with pytest.warns(RuntimeWarning, match="an argument of type _Holder"):
        _, (grad,) = compat.compiled_value_and_grad(held_loss, [w])(holder, x)
    np.testing.assert_allclose(grad.asnumpy(), want.asnumpy(), rtol=1e-6)


def test_accumulate_grad_leaves_the_gradient_of_an_unreached_parameter_as_it_was(compat):
    a = mindspore.Parameter(mindspore.Tensor(np.ones(2, np.float32)), name="a")
    b = mindspore.Parameter(mindspore.Tensor(np.ones(2, np.float32)), name="b")
    compat.accumulate_grad([a, b], (mindspore.Tensor(np.ones(2, np.float32)), None))
    assert compat._grad(b) is None and a.grad.asnumpy().tolist() == [1.0, 1.0]
    b.grad = mindspore.Tensor(np.full(2, 5.0, np.float32))
    compat.accumulate_grad([a, b], (mindspore.Tensor(np.ones(2, np.float32)), None))
    assert a.grad.asnumpy().tolist() == [2.0, 2.0] and b.grad.asnumpy().tolist() == [5.0, 5.0]


class _Tempered(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)
        self.tau = 1.0
        self.updates_counted_by_the_loop = 0  # written by the loop, read nowhere

    def construct(self, x):
        return self.fc(x) / self.tau


def _tempered_loss(net, x):
    return (net(x) ** 2).sum()


def test_a_step_follows_the_module_attributes_its_graph_read(compat):
    """A graph takes a module's attribute values as constants: the step's graphs are keyed on
    them (a temperature annealed between steps), not on attributes nothing reads."""
    net, x = _Tempered(), _data()
    weights = net.trainable_params()
    compat._COMPILED_STEPS.pop(_tempered_loss.__code__, None)
    for tau in (1.0, 2.0, 2.0, 0.5, 1.0):
        net.tau = tau
        net.updates_counted_by_the_loop += 1
        want_loss, want = mindspore.value_and_grad(_tempered_loss, None, weights)(net, x)
        got_loss, got = compat.compiled_value_and_grad(_tempered_loss, weights)(net, x)
        np.testing.assert_allclose(got_loss.asnumpy(), want_loss.asnumpy(), rtol=1e-6)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-6)
    cache = compat._COMPILED_STEPS[_tempered_loss.__code__]
    assert (cache.compiles, cache.calls) == (3, 5)  # tau 1.0, 2.0, 0.5


class _Encoder(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)
        self.scale = 1.0
        self.mask = mindspore.Tensor(np.ones(2, np.float32))

    def construct(self, x):
        return self.fc(x)

    def encode(self, x):  # called by the loss closure, not by construct
        return self.fc(x) * self.scale * self.mask


def _encoded_loss(net, x):
    return (net.encode(x) ** 2).sum()


def test_a_step_follows_what_the_methods_its_closure_calls_read(compat):
    net, x = _Encoder(), _data()
    weights = net.trainable_params()
    compat._COMPILED_STEPS.pop(_encoded_loss.__code__, None)
    for scale, mask in ((1.0, (1, 1)), (3.0, (1, 1)), (3.0, (0, 1))):
        net.scale = scale
        net.mask = mindspore.Tensor(np.array(mask, np.float32))
        want_loss, want = mindspore.value_and_grad(_encoded_loss, None, weights)(net, x)
        got_loss, got = compat.compiled_value_and_grad(_encoded_loss, weights)(net, x)
        np.testing.assert_allclose(got_loss.asnumpy(), want_loss.asnumpy(), rtol=1e-6)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-6)


def test_a_frozen_parameter_gets_no_gradient_as_in_torch(compat):
    """requires_grad=False: torch leaves .grad alone and its optimizers skip the parameter;
    MindSpore's value_and_grad differentiates every weight it is given."""
    net, x = _TwoHeads(), _data()
    weights = net.trainable_params()
    net.body.weight.requires_grad = False
    try:
        for make in (compat.compiled_value_and_grad, compat.pynative_value_and_grad):
            _, grads = make(_two_heads_loss, weights)(net, x, False)
            by_name = dict(zip([p.name for p in weights], grads))
            assert by_name["body.weight"] is None and by_name["body.bias"] is not None
    finally:
        net.body.weight.requires_grad = True
