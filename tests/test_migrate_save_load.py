"""The helper's ``save``/``load`` (torch.save/torch.load of any object) and the helper optimizers'
``state_dict``/``load_state_dict`` keep torch's behaviour.

* Whatever ``save`` writes, ``load`` gives back: nested containers, Tensors of every dtype,
  Parameters (one object where it was one), whole Cells — built-in, the helper's and a
  project's own — that compute what they did, compiled or not.
* ``load`` reads, without torch, what torch.save wrote: tensors come back with torch's values,
  dtypes and shapes (views and shared storage included); torch's optimizer state loads into the
  helper optimizer, which then steps as torch's does.
* The helper optimizers' ``state_dict`` has torch's layout and values after the same steps, and
  a run resumed from it ends where an uninterrupted run does.
* Bad input: a corrupt, truncated or foreign file names itself; ``weights_only=True`` refuses
  other objects; a ``save`` that fails leaves the old file as it was.
"""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from test_migrate_numeric import DTYPES, SHAPES, step_side_by_side  # noqa: E402  (needs torch and mindspore)

pytestmark = pytest.mark.usefixtures("compat")  # _torch_compat importable (tests/conftest.py)

from mindspore import nn  # noqa: E402


class TwoLayer(nn.Cell):
    """A project's own Cell (pickled by reference to this module, as torch pickles a module)."""

    def __init__(self):
        super().__init__()
        self.body = nn.SequentialCell(nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 2))
        self.norm = nn.BatchNorm1d(2)
        self.scale = mindspore.Parameter(mindspore.Tensor(np.float32(2.0)), name="scale")

    def construct(self, x):
        return self.norm(self.body(x)) * self.scale


def _np(t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return (t.astype(mindspore.float32) if t.dtype == mindspore.bfloat16 else t).asnumpy()


@pytest.mark.parametrize("target", ["path", "file object"])
def test_containers_tensors_and_parameters_round_trip(compat, tmp_path, target):
    shared = mindspore.Parameter(mindspore.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), name="w",
                                 requires_grad=False)
    tensors = {str(d): mindspore.Tensor(np.arange(4) % 2, d) for d in
               (mindspore.float16, mindspore.float32, mindspore.float64, mindspore.bfloat16, mindspore.int8,
                mindspore.int32, mindspore.int64, mindspore.uint8, mindspore.bool_)}
    obj = {"epoch": 7, "metrics": [0.5, (1, "a")], "tensors": tensors, "w": shared, "again": [shared],
           "empty": mindspore.Tensor(np.zeros((0, 3), np.float32)), "scalar": mindspore.Tensor(3.5)}
    if target == "path":
        compat.save(obj, tmp_path / "ck.pth")
        back = compat.load(str(tmp_path / "ck.pth"))
    else:
        buffer = io.BytesIO()
        compat.save(obj, buffer)
        buffer.seek(0)
        back = compat.load(buffer)
    assert back["epoch"] == 7 and back["metrics"] == [0.5, (1, "a")]
    for name, t in tensors.items():
        assert back["tensors"][name].dtype == t.dtype, name
        np.testing.assert_array_equal(_np(back["tensors"][name]), _np(t))
    assert isinstance(back["w"], mindspore.Parameter) and back["w"].name == "w" and not back["w"].requires_grad
    assert back["again"][0] is back["w"]  # one object where it was one
    assert back["empty"].shape == (0, 3) and back["scalar"].shape == () and float(back["scalar"]) == 3.5


@pytest.mark.parametrize("make", [
    lambda: nn.Dense(3, 2),
    lambda: nn.LSTM(3, 2, batch_first=True),
    lambda: nn.Conv1d(3, 2, 1, has_bias=True, pad_mode="valid"),
    lambda: TwoLayer(),
], ids=["Dense", "LSTM", "Conv1d", "project Cell"])
def test_whole_cells_round_trip(compat, tmp_path, make):
    """torch.save(model) / torch.load: the Cell comes back computing what it did, with its
    parameters' names; writing the copy's weights leaves the original alone."""
    mindspore.set_seed(0)
    cell = make()
    cell.set_train(False)
    x = mindspore.Tensor(np.random.default_rng(0).standard_normal((2, 3, 1) if "Conv" in type(cell).__name__
                                                                  else (1, 2, 3) if "LSTM" in type(cell).__name__
                                                                  else (2, 3)).astype(np.float32))
    compat.save({"model": cell}, tmp_path / "m.pt")
    copy = compat.load(tmp_path / "m.pt")["model"]
    assert type(copy) is type(cell) and not copy.training
    assert [p.name for p in copy.get_parameters()] == [p.name for p in cell.get_parameters()]
    first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731
    np.testing.assert_array_equal(first(copy(x)).asnumpy(), first(cell(x)).asnumpy())
    before = first(cell(x)).asnumpy()
    for p in copy.trainable_params():
        compat.assign_data(p, p * 0)
    np.testing.assert_array_equal(first(cell(x)).asnumpy(), before)


def test_a_compiled_construct_of_a_loaded_cell_reads_its_weights(compat, tmp_path):
    cell = TwoLayer()
    cell.set_train(False)
    compat.save(cell, tmp_path / "m.pt")
    copy = compat.load(tmp_path / "m.pt")
    compiled = mindspore.jit(copy.construct)
    x = mindspore.Tensor(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(compiled(x).asnumpy(), cell(x).asnumpy(), rtol=1e-6)
    compat.assign_data(copy.scale, mindspore.Tensor(np.float32(0.0)))
    np.testing.assert_array_equal(compiled(x).asnumpy(), np.zeros((2, 2), np.float32))


def test_torch_files_load_without_torch(compat, tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    obj = {
        "state_dict": model.state_dict(),
        "view": base.t()[1:, ::2],  # offset, strided
        "same": base,  # shares the view's storage
        "param": torch.nn.Parameter(torch.ones(3)),
        "frozen": torch.nn.Parameter(torch.zeros(2), requires_grad=False),
        "size": torch.Size([2, 3]), "device": torch.device("cpu"), "dtype": torch.float64,
        "epoch": 4, "history": [1.5, 2.5],
        **{str(d): torch.tensor([[1, 0, 3]]).to(d) for d in
           (torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.int16, torch.int32, torch.int64,
            torch.uint8, torch.bool, torch.complex64)},
    }
    torch.save(obj, tmp_path / "t.pt")
    back = compat.load(tmp_path / "t.pt", map_location="cpu")
    for key, value in obj.items():
        if isinstance(value, torch.Tensor):
            got = back[key]
            assert tuple(got.shape) == tuple(value.shape), key
            assert str(got.dtype).lower().replace("_", "") == str(value.dtype).split(".")[1].replace("_", ""), key
            np.testing.assert_array_equal(_np(got), _np(value), err_msg=key)
    assert isinstance(back["param"], mindspore.Parameter) and back["param"].requires_grad
    assert not back["frozen"].requires_grad
    assert back["size"] == (2, 3) and back["device"] == "cpu" and back["dtype"] == mindspore.float64
    assert back["epoch"] == 4 and back["history"] == [1.5, 2.5]
    assert list(back["state_dict"]) == list(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(_np(back["state_dict"][name]), _np(value))
    assert back["state_dict"]["1.num_batches_tracked"].dtype == mindspore.int64
    assert compat.load(tmp_path / "t.pt", weights_only=True)["epoch"] == 4


def test_what_save_checkpoint_wrote_loads(compat, tmp_path):
    cell = nn.Dense(2, 2)
    compat.save_checkpoint(cell.parameters_dict(), tmp_path / "w.pt")
    back = compat.load(tmp_path / "w.pt")
    assert set(back) == {"weight", "bias"}
    np.testing.assert_array_equal(back["weight"].asnumpy(), cell.weight.asnumpy())


# -- optimizers ------------------------------------------------------------------------------------

STATE_CASES = [("Adam", {"lr": 1e-2}), ("Adam", {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
               ("SGD", {"lr": 0.1, "momentum": 0.9}), ("SGD", {"lr": 0.1}), ("AdamW", {"lr": 1e-2}),
               ("RMSprop", {"lr": 1e-3, "momentum": 0.5}), ("Adagrad", {"lr": 0.1}), ("Adadelta", {})]


@pytest.mark.parametrize("name, kwargs", STATE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(STATE_CASES)])
@pytest.mark.parametrize("dtypes", ["float32", "mixed"])
def test_optimizer_state_dict_is_torchs(compat, name, kwargs, dtypes):
    t_opt, m_opt, _, _ = step_side_by_side(compat, name, kwargs, dtypes, lambda rng: 10.0 ** rng.uniform(-3, -1))
    t_sd, m_sd = t_opt.state_dict(), m_opt.state_dict()
    assert [{k: v for k, v in g.items() if k in m_sd["param_groups"][0]} for g in t_sd["param_groups"]] \
        == m_sd["param_groups"]
    assert set(t_sd["state"]) == set(m_sd["state"])
    for index, t_state in t_sd["state"].items():
        m_state = m_sd["state"][index]
        assert set(m_state) == set(t_state), index
        for key, value in t_state.items():  # float32 rounding, not the fused kernel's kappa (1.3e-5)
            expected = _np(value)
            np.testing.assert_allclose(_np(m_state[key]), expected, rtol=4e-6, atol=4e-6 * np.abs(expected).max(),
                                       err_msg=key)


def _steps(opt, params, rng, n):
    for _ in range(n):
        opt.zero_grad()
        for p in params:
            p.grad = mindspore.Tensor(rng.standard_normal(p.shape).astype(np.float32) * 0.1)
        opt.step()


@pytest.mark.parametrize("name, kwargs", [("Adam", {"lr": 1e-2}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                                          ("RMSprop", {"lr": 1e-2})])
def test_a_run_resumed_from_a_checkpoint_ends_where_an_uninterrupted_one_does(compat, tmp_path, name, kwargs):
    w0 = [np.random.default_rng(1).standard_normal(s).astype(np.float32) for s in SHAPES]
    make = lambda: [mindspore.Parameter(mindspore.Tensor(w.copy()), name=f"w{i}") for i, w in enumerate(w0)]  # noqa: E731
    straight = make()
    opt = getattr(compat, name)(straight, **kwargs)
    _steps(opt, straight, np.random.default_rng(2), 10)

    first = make()
    opt = getattr(compat, name)(first, **kwargs)
    rng = np.random.default_rng(2)
    _steps(opt, first, rng, 4)
    compat.save({"params": {p.name: p for p in first}, "optimizer": opt.state_dict(), "epoch": 4}, tmp_path / "c.pt")
    ck = compat.load(tmp_path / "c.pt")
    resumed = make()
    for p in resumed:
        compat.assign_data(p, ck["params"][p.name])
    opt = getattr(compat, name)(resumed, **{**kwargs, "lr": 123.0})  # the saved lr wins, as in torch
    opt.load_state_dict(ck["optimizer"])
    assert opt.param_groups[0]["lr"] == kwargs["lr"]
    _steps(opt, resumed, rng, 6)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_torchs_optimizer_state_loads_into_the_helper_optimizer(compat, tmp_path):
    """A run started in torch and continued in MindSpore (torch's file read without torch)
    ends where torch's own continuation does."""
    rng = np.random.default_rng(3)
    w0 = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) * 0.1 for s in SHAPES] for _ in range(8)]
    tps = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
    t_opt = torch.optim.Adam(tps, lr=1e-2)
    for step, gs in enumerate(grads):
        if step == 3:
            torch.save({"w": [p.detach().clone() for p in tps], "opt": t_opt.state_dict()}, tmp_path / "t.pt")
        t_opt.zero_grad()
        for p, g in zip(tps, gs):
            p.grad = torch.from_numpy(g.copy())
        t_opt.step()
    ck = compat.load(tmp_path / "t.pt")
    mps = [mindspore.Parameter(w, name=f"w{i}") for i, w in enumerate(ck["w"])]
    m_opt = compat.Adam(mps, lr=0.5)
    m_opt.load_state_dict(ck["opt"])
    for gs in grads[3:]:
        m_opt.zero_grad()
        for p, g in zip(mps, gs):
            p.grad = mindspore.Tensor(g.copy())
        m_opt.step()
    for mp, tp in zip(mps, tps):
        np.testing.assert_allclose(mp.asnumpy(), tp.detach().numpy(), rtol=0, atol=2e-6)


def test_load_state_dict_refuses_another_layout(compat):
    opt = compat.SGD([mindspore.Parameter(mindspore.Tensor(np.ones(2, np.float32)), name="a")], lr=0.1)
    with pytest.raises(ValueError, match="number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]})


# -- bad input -------------------------------------------------------------------------------------

def test_bad_files_name_themselves(compat, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint\x00\x01" * 4)
    with pytest.raises(pickle.UnpicklingError, match="corrupt.pt: neither a pickle"):
        compat.load(corrupt)
    compat.save({"a": mindspore.Tensor(np.ones(100, np.float32))}, tmp_path / "whole.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "whole.pt").read_bytes()[:60])
    with pytest.raises(pickle.UnpicklingError, match="truncated.pt: .*truncated"):
        compat.load(truncated)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"module.pt: a torch file holding torch\.nn\.modules\.linear\.Linear"):
        compat.load(tmp_path / "module.pt")
    torch.save({"a": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError, match="legacy.pt: torch's legacy"):
        compat.load(tmp_path / "legacy.pt")


class Renamed:
    """A class pickled under a name that is gone when the file is read back."""


def test_a_class_the_program_no_longer_has_names_the_file(compat, tmp_path, monkeypatch):
    compat.save({"meta": Renamed()}, tmp_path / "old.pt")
    monkeypatch.delattr(__import__(__name__), "Renamed")
    with pytest.raises(pickle.UnpicklingError, match="old.pt: holds an object of a class this program cannot import"):
        compat.load(tmp_path / "old.pt")


def test_weights_only_refuses_other_objects(compat, tmp_path):
    compat.save({"model": TwoLayer()}, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="m.pt: weights_only=True refuses to load .*TwoLayer"):
        compat.load(tmp_path / "m.pt", weights_only=True)
    compat.save({"w": nn.Dense(2, 2).parameters_dict(), "epoch": 1, "seen": {1, 2}}, tmp_path / "w.pt")
    assert compat.load(tmp_path / "w.pt", weights_only=True)["seen"] == {1, 2}


def test_a_failed_save_leaves_the_old_file(compat, tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    path = tmp_path / "ck.pt"
    compat.save({"epoch": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot pickle this"):
        compat.save({"epoch": 2, "bad": Unpicklable()}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.pt"]
    assert compat.load(path) == {"epoch": 1}


# -- conversion ------------------------------------------------------------------------------------

RESUME_SOURCE = '''
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def make(weights):
    net = Net()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    return net, opt


def train(net, opt, xs, ys):
    for x, y in zip(xs, ys):
        opt.zero_grad()
        loss = ((net(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
        loss.backward()
        opt.step()


def resume_run(weights, xs, ys, path):
    net, opt = make(weights)
    train(net, opt, xs[:3], ys[:3])
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    net2, opt2 = make(weights)
    ck = torch.load(path, map_location="cpu")
    net2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    train(net2, opt2, xs[3:], ys[3:])
    return ck["epoch"], [p.detach().numpy() for p in net2.parameters()]


def whole_model(weights, x, path):
    net, _ = make(weights)
    torch.save(net, path)
    copy = torch.load(path, weights_only=False)
    return net(torch.from_numpy(x)).detach().numpy(), copy(torch.from_numpy(x)).detach().numpy()


def predict(weights, x):
    net, _ = make(weights)
    return net(torch.from_numpy(x)).detach().numpy()
'''


def test_a_converted_training_script_resumes_from_its_checkpoint_as_torchs_does(tmp_path, monkeypatch):
    """torch.save of a checkpoint dict (state dicts, the optimizer's, the epoch), torch.load and
    both load_state_dicts, converted with the real table: the resumed run ends at torch's weights."""
    from test_migrate_numeric import both_versions

    code, ms_mod, t_mod = both_versions(RESUME_SOURCE, "resume", tmp_path, monkeypatch)
    assert "save(" in code and "load(" in code and "import torch" not in code
    rng = np.random.default_rng(0)
    weights = {"fc1.weight": rng.standard_normal((4, 3)), "fc1.bias": rng.standard_normal(4),
               "fc2.weight": rng.standard_normal((1, 4)), "fc2.bias": rng.standard_normal(1)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    xs = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(7)]
    ys = [rng.standard_normal((5, 1)).astype(np.float32) for _ in range(7)]
    t_epoch, t_weights = t_mod["resume_run"](weights, xs, ys, str(tmp_path / "t.pt"))
    m_epoch, m_weights = ms_mod.resume_run(weights, xs, ys, str(tmp_path / "m.pt"))
    assert m_epoch == t_epoch == 3
    for m, t in zip(m_weights, t_weights):
        np.testing.assert_allclose(m, t, rtol=0, atol=2e-6)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    original, copy = ms_mod.whole_model(weights, x, str(tmp_path / "net.pt"))
    np.testing.assert_array_equal(copy, original)
    np.testing.assert_allclose(original, t_mod["predict"](weights, x), atol=1e-6)


def test_state_dict_calls_on_receivers_of_unknown_type_decide_at_run_time(compat):
    """``thing.state_dict()`` / ``thing.load_state_dict(sd)`` where the tool cannot tell a module from
    an optimizer: the helper does (a Cell's parameters, anything else its own method)."""
    from migrate.codemod import convert_source
    from test_migrate_numeric import SPEC

    out = convert_source("import torch\n\n\ndef snapshot(thing):\n    return thing.state_dict()\n\n\n"
                         "def restore(thing, sd):\n    thing.load_state_dict(sd)\n", SPEC, "a.py")
    assert "state_dict_of(thing)" in out.code and "load_state_dict_of(thing, sd)" in out.code
    assert not [s for s in out.sites if s.kind != "converted"]
    cell = nn.Dense(2, 2)
    assert set(compat.state_dict_of(cell)) == {"weight", "bias"}
    opt = compat.SGD(cell.trainable_params(), lr=0.5)
    assert compat.state_dict_of(opt)["param_groups"][0]["lr"] == 0.5
    compat.load_state_dict_of(opt, {"state": {}, "param_groups": [{**opt.param_groups[0], "params": [0, 1], "lr": 2.0}]})
    assert opt.param_groups[0]["lr"] == 2.0
    zeros = {k: mindspore.Tensor(np.zeros(v.shape, np.float32)) for k, v in cell.parameters_dict().items()}
    compat.load_state_dict_of(cell, zeros)
    assert not cell.weight.asnumpy().any()


def test_a_torch_objects_method_its_helper_lacks_is_reported():
    """Left as it is, ``dist.icdf(q)`` on the helper's Normal raises AttributeError at run time:
    reported, with the line; a method the helper has, or a name torch's class does not have
    (set by the program itself), is not."""
    from migrate.codemod import convert_source
    from test_migrate_numeric import SPEC

    source = ("import torch\n"
              "d = torch.distributions.Normal(0.0, 1.0)\n"
              "q = d.icdf(torch.tensor(0.5))\n"
              "p = d.cdf(torch.tensor(0.5))\n"
              "d.mine = 1\n"
              "s = torch.cuda.amp.GradScaler()\n"
              "s.set_growth_factor(2.0)\n"
              "opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)\n"
              "opt.register_step_post_hook(print)\n"
              "opt.add_param_group({'params': [torch.nn.Parameter(torch.zeros(1))]})\n")
    out = convert_source(source, SPEC, "a.py")
    reported = {(s.line, s.rule) for s in out.sites if s.kind == "unsupported"}
    assert reported == {(3, "torch.distributions.Normal.icdf"), (7, "torch.cuda.amp.GradScaler.set_growth_factor"),
                        (9, "torch.optim.SGD.register_step_post_hook")}, out.code


def test_add_param_group_is_torchs(compat):
    w = [np.ones((2,), np.float32), np.ones((3,), np.float32)]
    tps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in w]
    mps = [mindspore.Parameter(mindspore.Tensor(a.copy()), name=f"p{i}") for i, a in enumerate(w)]
    t_opt, m_opt = torch.optim.SGD(tps[:1], lr=0.1, momentum=0.9), compat.SGD(mps[:1], lr=0.1, momentum=0.9)
    t_opt.add_param_group({"params": tps[1], "lr": 0.5})
    m_opt.add_param_group({"params": mps[1], "lr": 0.5})
    assert [{k: v for k, v in g.items() if k != "params"} for g in m_opt.param_groups] == \
        [{k: v for k, v in g.items() if k in m_opt.param_groups[0] and k != "params"} for g in t_opt.param_groups]
    for _ in range(3):
        for tp, mp in zip(tps, mps):
            tp.grad, mp.grad = torch.ones_like(tp), mindspore.Tensor(np.ones(mp.shape, np.float32))
        t_opt.step()
        m_opt.step()
    for tp, mp in zip(tps, mps):
        np.testing.assert_allclose(mp.asnumpy(), tp.detach().numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        m_opt.add_param_group({"params": [mps[0]]})


def test_a_tied_weight_loads_under_any_of_its_paths(compat):
    """torch's state_dict lists a tied weight under every path (``embed.weight`` and
    ``head.weight``); MindSpore lists the shared Parameter once. Either key, or both, loads it;
    neither is missing."""

    class Tied(nn.Cell):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.head = nn.Dense(3, 5, has_bias=False)
            self.head.weight = self.embed.embedding_table
            self.update_parameters_name()

    net = Tied()
    assert list(net.parameters_dict()) == ["embed.embedding_table"]
    table = np.arange(15, dtype=np.float32).reshape(5, 3)
    both = {"embed.embedding_table": table, "head.weight": table}
    assert compat.load_state_dict(net, both) == ([], [])
    np.testing.assert_array_equal(net.head.weight.asnumpy(), table)
    assert compat.load_state_dict(net, {"head.weight": table + 1}) == ([], [])
    np.testing.assert_array_equal(net.embed.embedding_table.asnumpy(), table + 1)
    with pytest.raises(RuntimeError, match=r"missing keys \['embed.embedding_table'\], unexpected keys \['tail'\]"):
        compat.load_state_dict(net, {"tail": table})
