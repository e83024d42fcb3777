"""``untyped`` helpers: ``x.to(...)``/``.cuda()``/``.cpu()`` where the tool cannot tell what the
receiver or the argument is are converted to ``_torch_compat.to``/``cuda``/``cpu``, which decide
at run time.  Checked against torch on every kind of argument, and on an object that is not a
tensor (its own ``.to`` runs)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")
from test_migrate_numeric import both_versions, load_converted  # noqa: E402  (needs torch and mindspore)

SPEC = load_spec()


SOURCE = textwrap.dedent("""\
    import torch


    class Box:
        def __init__(self):
            self.moved = None

        def to(self, where):
            self.moved = where
            return self


    def move(batch, target):
        return batch.to(target)


    def run(x, like, box):
        device = "cpu"
        return (move(x, device), move(x, torch.float64), move(x, like), move(x, float), x.cpu(),
                move(box, "somewhere").moved)
    """)


def test_untyped_to_cuda_cpu_decide_at_run_time_as_torch(compat, tmp_path, monkeypatch):
    code, ms_mod, t_mod = both_versions(SOURCE, "untyped_case", tmp_path, monkeypatch)
    assert "to(batch, target)" in code and "cpu(x)" in code, code
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    like = np.zeros(2, np.int32)
    want = t_mod["run"](torch.from_numpy(x), torch.from_numpy(like), t_mod["Box"]())
    got = ms_mod.run(mindspore.Tensor(x), mindspore.Tensor(like), ms_mod.Box())
    assert got[5] == want[5] == "somewhere"  # someone else's .to runs unchanged
    dtypes = []
    for g, w in zip(got[:5], want[:5]):
        assert g.asnumpy().dtype == w.numpy().dtype
        np.testing.assert_array_equal(g.asnumpy(), w.numpy())
        dtypes.append(str(w.numpy().dtype))
    assert dtypes == ["float32", "float64", "int32", "float64", "float32"]


def test_casting_a_whole_cell_raises(compat):
    with pytest.raises(TypeError, match="whole Cell"):
        compat.to(mindspore.nn.Dense(2, 2), mindspore.float16)
    cell = mindspore.nn.Dense(2, 2)
    assert compat.to(cell, "cuda:0") is cell and compat.cuda(cell) is cell


MODULE_SOURCE = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Recorder:
        def __init__(self):
            self.calls = []

        def size(self, *args):
            self.calls.append("size")
            return 7

        def train(self, mode=True):
            self.calls.append(f"train({mode})")
            return self

        def eval(self):
            self.calls.append("eval")
            return self

        def zero_grad(self):
            self.calls.append("zero_grad")


    def build():
        return nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2))


    def probe(model, x, other):
        model.train()
        training = model.training if hasattr(model, "training") else None
        model.eval()
        count = len(list(model.parameters()))
        model.zero_grad()
        other.train(False)
        other.eval()
        other.zero_grad()
        return x.size(), x.size(1), x.size(-1), other.size(), count, other.calls
    """)


def test_module_members_on_untyped_receivers_run_as_torchs(compat, tmp_path, monkeypatch):
    """model.train()/eval()/parameters()/zero_grad() and x.size(d) in a function whose
    parameters nobody types (the classic ``def train(model, loader, optimizer)``)."""
    code, ms_mod, t_mod = both_versions(MODULE_SOURCE, "untyped_modules", tmp_path, monkeypatch, complete=False)
    probe = code[code.index("def probe"):]
    for call in ("train_mode(model)", "eval_mode(model)", "parameters_of(model)", "zero_grad_of(model)",
                 "size_of(x, 1)", "eval_mode(other)"):
        assert call in probe, probe
    x = np.zeros((2, 5, 3), np.float32)
    t_model, ms_model = t_mod["build"](), ms_mod.build()
    want = t_mod["probe"](t_model, torch.from_numpy(x), t_mod["Recorder"]())
    got = ms_mod.probe(ms_model, mindspore.Tensor(x), ms_mod.Recorder())
    assert tuple(got[0]) == tuple(want[0]) == (2, 5, 3)
    assert got[1:] == want[1:] == (5, 3, 7, 4, ["train(False)", "eval", "zero_grad", "size"])
    assert not t_model.training and not ms_model.training


def test_initializers_on_untyped_receivers_write_in_place(compat):
    """zero_/fill_/normal_/uniform_ on something the tool could not type (``p.grad.zero_()``,
    ``m.weight.data.normal_(0, 0.02)`` in an init function without isinstance)."""
    mindspore.set_seed(0)
    p = mindspore.Parameter(mindspore.Tensor(np.ones((200, 50), np.float32)), name="p")
    assert compat.inplace_fill(p, 0.5) is p and (p.asnumpy() == 0.5).all()
    compat.inplace_normal(p, 2.0, 0.01)
    assert abs(p.asnumpy().mean() - 2.0) < 0.01 and abs(p.asnumpy().std() - 0.01) < 0.002
    compat.inplace_uniform(p, -0.1, 0.1)
    assert p.asnumpy().min() >= -0.1 and p.asnumpy().max() <= 0.1 and p.asnumpy().std() > 0.05
    compat.inplace_uniform(p, to=3.0)
    assert p.asnumpy().min() >= 0.0 and p.asnumpy().max() <= 3.0
    compat.inplace_zero(p)
    assert not p.asnumpy().any()
    with pytest.raises(NotImplementedError, match="generator"):
        compat.inplace_normal(p, 0.0, 1.0, generator=object())

    class Other:
        def zero_(self):
            return "own"

    assert compat.inplace_zero(Other()) == "own"


def test_a_renamed_layer_attribute_on_an_untyped_receiver_is_looked_up_at_run_time(compat, tmp_path, monkeypatch):
    """DCGAN's ``weights_init(m)`` picks layers by class name: ``m.weight`` is BatchNorm's
    ``gamma`` in MindSpore, so the read becomes ``layer_attr(m, "weight")``, which finds it at
    run time; ``args.eps``, a configuration value, is left alone.  Run on MindSpore's layers,
    the converted function initialises a BatchNorm's gamma and beta and a Dense's weight as
    torch's does (same distribution: mean and spread within their sampling error)."""
    code = textwrap.dedent("""\
        import torch
        def weights_init(m, args):
            name = m.__class__.__name__
            if name.find('BatchNorm') != -1:
                m.weight.data.normal_(1.0, args.eps)
                m.bias.data.fill_(0)
            elif name.find('Dense') != -1 or name.find('Linear') != -1:
                m.weight.data.normal_(0.0, args.eps)
        """)
    out = convert_source(code, SPEC, "m.py")
    kinds = {(s.rule, s.kind) for s in out.sites}
    assert ("torch.nn.Module.weight", "converted") in kinds and ("torch.Tensor.normal_", "converted") in kinds
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")]
    assert not any("eps" in s.rule for s in out.sites)
    assert 'layer_attr(m, "weight")' in out.code and 'layer_attr(m, "bias")' in out.code
    weights_init = load_converted(out.code, "weights_init_m", tmp_path, monkeypatch).weights_init

    class Args:
        eps = 0.02

    bn, dense = mindspore.nn.BatchNorm1d(4000), mindspore.nn.Dense(100, 40)
    compat.assign_data(bn.beta, mindspore.Tensor(np.ones(4000, np.float32)))
    weights_init(bn, Args())
    weights_init(dense, Args())
    gamma, beta, w = bn.gamma.asnumpy(), bn.beta.asnumpy(), dense.weight.asnumpy()
    assert abs(gamma.mean() - 1.0) < 0.002 and abs(gamma.std() - 0.02) < 0.002
    np.testing.assert_array_equal(beta, np.zeros(4000, np.float32))
    assert abs(w.mean()) < 0.002 and abs(w.std() - 0.02) < 0.002


def test_layer_attr_knows_every_rename_of_the_table_and_compiles(compat):
    """The helper's renames are the table's (each torch name, every MindSpore spelling of it);
    inside a compiled construct it reads a Dense's weight, a BatchNorm's gamma and an
    Embedding's embedding_table, with gradients; an object's own attribute wins; a layer
    without the attribute fails naming it."""
    want = {attr: set(classes.values()) for attr, classes in SPEC.renamed_attributes.items()}
    assert {attr: set(alts) for attr, alts in compat._LAYER_RENAMES.items()} == want
    nn, ops = mindspore.nn, mindspore.ops

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc, self.bn, self.emb = nn.Dense(3, 2), nn.BatchNorm1d(2), nn.Embedding(5, 2)

        @mindspore.jit
        def construct(self, x):
            return (ops.matmul(x, compat.layer_attr(self.fc, "weight").T) * compat.layer_attr(self.bn, "weight")
                    + compat.layer_attr(self.emb, "weight")[0] + compat.layer_attr(self.bn, "bias"))

    net = Net()
    x = mindspore.Tensor(np.ones((4, 3), np.float32))
    expected = (x.asnumpy() @ net.fc.weight.asnumpy().T * net.bn.gamma.asnumpy()
                + net.emb.embedding_table.asnumpy()[0] + net.bn.beta.asnumpy())
    np.testing.assert_allclose(net(x).asnumpy(), expected, rtol=1e-6)
    _, grads = mindspore.value_and_grad(net, None, net.trainable_params())(x)
    assert len(grads) == len(net.trainable_params())
    assert compat.layer_attr(net.bn, "running_var") is net.bn.moving_variance

    class Config:
        weight = 0.5

    assert compat.layer_attr(Config(), "weight") == 0.5
    with pytest.raises(AttributeError, match="'weight'"):
        compat.layer_attr(nn.ReLU(), "weight")


CASTS = textwrap.dedent("""\
    import torch


    class Meter:
        def float(self):
            return "own float"


    def cast(x):
        return x.float()


    def widen(x):
        return x.double()


    def run(ints, net, meter):
        return cast(ints), widen(ints), cast(net), widen(cast(net)) is net, cast(meter)
    """)


def test_untyped_float_and_double_cast_tensors_and_cells_at_run_time(compat, tmp_path, monkeypatch):
    """``x.float()`` on a loader's batch (a tensor) or on a model (a Module) looks the same in the
    source: ``float_of``/``double_of`` cast a tensor, a Cell's floating Parameters (the Cell
    returned, as Module.float()), and call any other object's own method."""
    code, ms_mod, t_mod = both_versions(CASTS, "untyped_casts", tmp_path, monkeypatch)
    assert "float_of(x)" in code and "double_of(x)" in code, code
    ints = np.arange(6, dtype=np.int64).reshape(2, 3)
    net = mindspore.nn.Dense(3, 2).to_float(mindspore.float32)
    for p in net.get_parameters():
        p.set_dtype(mindspore.float64)
    as_float, as_double, cell, same, own = ms_mod.run(mindspore.Tensor(ints), net, ms_mod.Meter())
    want = t_mod["run"](torch.from_numpy(ints), torch.nn.Linear(3, 2).double(), t_mod["Meter"]())
    assert as_float.dtype == mindspore.float32 and as_double.dtype == mindspore.float64
    np.testing.assert_array_equal(as_float.asnumpy(), want[0].numpy())
    np.testing.assert_array_equal(as_double.asnumpy(), want[1].numpy())
    assert cell is net and {p.dtype for p in net.get_parameters()} == {mindspore.float64}  # widened again
    assert same is want[3] is True and own == want[4] == "own float"


TENSOR_MEMBERS = textwrap.dedent("""\
    import numpy as np
    import torch


    def prepare(pu, n, arr):
        expanded = pu.repeat(1, n).view(n, -1)
        frozen = expanded.detach()
        copy = frozen.clone()
        return expanded, frozen, copy, arr.repeat(2), arr.clone() if hasattr(arr, "clone") else arr.copy()
    """)


def test_untyped_repeat_detach_clone_decide_at_run_time(compat, tmp_path, monkeypatch):
    """The MAMO release's ``pu.repeat(1, len(mp))`` on a forward argument of unknown type: a
    tensor is tiled as torch repeats it, while numpy's ``repeat`` (elements, not tiles) stays
    numpy's; ``detach``/``clone`` likewise."""
    code, ms_mod, t_mod = both_versions(TENSOR_MEMBERS, "untyped_members", tmp_path, monkeypatch)
    assert "repeat_of(pu, 1, n)" in code and "detach_of(" in code and "clone_of(" in code, code
    pu = np.arange(6, dtype=np.float32).reshape(1, 6)
    arr = np.array([1, 2, 3])
    got = ms_mod.prepare(mindspore.Tensor(pu), 3, arr)
    want = t_mod["prepare"](torch.from_numpy(pu), 3, arr)
    for g, w in zip(got[:3], want[:3]):
        np.testing.assert_array_equal(g.asnumpy(), w.numpy())
    np.testing.assert_array_equal(got[3], want[3])  # numpy's element-wise repeat, unchanged
    np.testing.assert_array_equal(got[4], want[4])
    assert compat.repeat_of(mindspore.Tensor(pu), (2, 1)).shape == (2, 6)  # one sequence, as torch takes it


def test_a_string_literal_where_torch_takes_none_is_not_a_tensor_call():
    """On receivers of unknown type, ``line.split(',')`` and ``s.split()`` cannot be tensor splits
    (torch's takes a size), nor ``key.eq('x')`` a comparison of tensors: nothing is reported.
    ``x.norm('fro')`` can be torch's (a string p), and ``x.split(2)`` too: both stay flagged."""
    code = textwrap.dedent("""\
        import torch
        def f(line, s, key, x):
            return line.split(','), s.split(), key.eq('x'), x.norm('fro'), x.split(2)
        """)
    out = convert_source(code, SPEC, "strings.py")
    flagged = sorted(s.rule for s in out.sites if s.kind == "uncertain")
    assert flagged == ["torch.Tensor.norm", "torch.Tensor.split"], flagged
    assert "line.split(',')" in out.code and "s.split()" in out.code


SORTS = textwrap.dedent("""\
    import torch


    def ranks(pred, truth, arr):
        values, order = truth.sort(descending=True)
        top = pred.sort(dim=0).values
        rank = (-pred).argsort().argsort()[0]
        return values, order, top, rank, arr.argsort(), pred.sort(0, True).indices
    """)


def test_untyped_sort_and_argsort_decide_at_run_time(compat, tmp_path, monkeypatch):
    """SASRec's ``predictions.argsort().argsort()[0]`` and the MAMO release's
    ``y.sort(descending=True)`` on receivers of unknown type: a MindSpore tensor sorts as torch's
    (values, indices unpacked or read by name, keyword or positional arguments), numpy's
    ``argsort`` stays numpy's."""
    code, ms_mod, t_mod = both_versions(SORTS, "untyped_sorts", tmp_path, monkeypatch)
    assert "argsort_of(argsort_of(" in code and "sort_of(truth, descending=True)" in code, code
    rng = np.random.default_rng(3)
    pred, truth = rng.permutation(7).astype(np.float32), rng.permutation(7).astype(np.float32)
    arr = np.array([3, 1, 2])
    got = ms_mod.ranks(mindspore.Tensor(pred), mindspore.Tensor(truth), arr)
    want = t_mod["ranks"](torch.from_numpy(pred), torch.from_numpy(truth), arr)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.asnumpy() if hasattr(g, "asnumpy") else g, w.numpy() if hasattr(w, "numpy") else w)
    with pytest.raises(NotImplementedError, match="stable"):
        compat.sort_of(mindspore.Tensor(pred), stable=True)


NEW_TENSORS = textwrap.dedent("""\
    import numpy as np
    import torch


    class Offsets:
        def new_tensor(self, data):
            return "own"


    def embed(x, offsets, h, other):
        x = x + x.new_tensor(offsets).unsqueeze(0)
        zeros, ones = h.new_zeros(2, 3), h.new_ones((1, 2), dtype=torch.float64)
        return x, zeros, ones, other.new_tensor([1])
    """)


def test_untyped_new_tensor_zeros_ones_decide_at_run_time(compat, tmp_path, monkeypatch):
    """pytorch-fm's ``x + x.new_tensor(self.offsets)`` on a rebound forward argument, and
    ``h.new_zeros(...)``/``new_ones(...)`` on receivers of unknown type: a MindSpore tensor gets
    torch's values and dtypes (the receiver's unless ``dtype=``), any other object its own method."""
    code, ms_mod, t_mod = both_versions(NEW_TENSORS, "untyped_new", tmp_path, monkeypatch)
    assert "new_tensor_of(x, offsets)" in code and "new_zeros_of(h, 2, 3)" in code, code
    x, offsets, h = np.array([[1, 2, 3]], np.int64), np.array([0, 10, 20]), np.ones((2, 2), np.float32)
    got = ms_mod.embed(mindspore.Tensor(x), offsets, mindspore.Tensor(h), ms_mod.Offsets())
    want = t_mod["embed"](torch.from_numpy(x), offsets, torch.from_numpy(h), t_mod["Offsets"]())
    for g, w in zip(got[:3], want[:3]):
        assert str(g.dtype).lower() == str(w.dtype).replace("torch.", "")  # Int64 / torch.int64, ...
        np.testing.assert_array_equal(g.asnumpy(), w.numpy())
    assert got[3] == want[3] == "own"
    with pytest.raises(NotImplementedError, match="requires_grad"):
        compat.new_zeros_of(mindspore.Tensor(h), 2, requires_grad=True)


SHAPE_SOURCE = textwrap.dedent("""\
    import torch


    def heads(q, x, y, arr):
        return (q.transpose(-2, -1), x.expand(2, -1, 3), x.expand((2, 4, 3)), y.softmax(dim=-1),
                y.softmax(0, dtype=torch.float64), y.amax(dim=1, keepdim=True), y.amax(), y.amin((0, 1)),
                arr.transpose(1, 0))
    """)


@pytest.mark.parametrize("jit", [False, True])
def test_shape_and_reduction_members_on_untyped_receivers_run_as_torchs(compat, tmp_path, monkeypatch, jit):
    """q.transpose(-2, -1), x.expand(...), y.softmax(dim), y.amax()/amin() on parameters nobody
    types (attention code's ``q``, ``k``): MindSpore's own Tensor.transpose permutes every axis,
    so left alone they were wrong or reported; the helpers decide at run time, also inside
    mindspore.jit, and a numpy array keeps its own transpose (a permutation, as in the torch run)."""
    code, ms_mod, t_mod = both_versions(SHAPE_SOURCE, f"untyped_shapes_{jit}", tmp_path, monkeypatch)
    assert "transpose_of(q, -2, -1)" in code and "expand_of(x, 2, -1, 3)" in code, code
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    x = rng.normal(size=(1, 4, 3)).astype(np.float32)
    y = rng.normal(size=(3, 4, 5)).astype(np.float32)
    arr = np.arange(6).reshape(2, 3)
    want = t_mod["heads"](torch.from_numpy(q), torch.from_numpy(x), torch.from_numpy(y), arr)
    run = ms_mod.heads
    if jit:
        def compiled(a, b, c):
            return ms_mod.heads(a, b, c, arr)[:-1]

        got = mindspore.jit(compiled)(mindspore.Tensor(q), mindspore.Tensor(x), mindspore.Tensor(y))
    else:
        got = run(mindspore.Tensor(q), mindspore.Tensor(x), mindspore.Tensor(y), arr)
        np.testing.assert_array_equal(got[-1], arr.T)
    for g, w in zip(got, want[:-1]):
        assert g.shape == tuple(w.shape) and g.asnumpy().dtype == w.numpy().dtype
        np.testing.assert_allclose(g.asnumpy(), w.numpy(), rtol=1e-5, atol=1e-7)  # softmax's table tolerance


FORWARD_SOURCE = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Holder:
        def forward(self, x):
            return ("own forward", x)

        def numpy(self):
            return "own numpy"


    def build():
        return nn.Sequential(nn.Linear(3, 2), nn.Tanh())


    def features(model, x, other):
        out = model.forward(x)
        with torch.no_grad():
            again = model.forward(x)
        return out.detach().numpy(), again.numpy(), other.forward(1), other.numpy()
    """)


def test_forward_and_numpy_on_untyped_receivers_run_as_torchs(compat, tmp_path, monkeypatch):
    """``self.feature.forward(x)`` and ``y.cpu().numpy()`` where nobody types the receiver
    (CloserLookFewShot's backbone, PyTorch-GAN's samples): a Cell's construct and a tensor's
    asnumpy, any other object's own methods."""
    code, ms_mod, t_mod = both_versions(FORWARD_SOURCE, "untyped_forward", tmp_path, monkeypatch)
    assert "forward_of(model, x)" in code and "numpy_of(" in code, code
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    t_model, ms_model = t_mod["build"](), ms_mod.build()
    ms_model[0].weight.set_data(mindspore.Tensor(t_model[0].weight.detach().numpy()))
    ms_model[0].bias.set_data(mindspore.Tensor(t_model[0].bias.detach().numpy()))
    want = t_mod["features"](t_model, torch.from_numpy(x), t_mod["Holder"]())
    got = ms_mod.features(ms_model, mindspore.Tensor(x), ms_mod.Holder())
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)  # float32 sums; a near-zero output element
    np.testing.assert_allclose(got[1], want[0], rtol=1e-5, atol=1e-6)
    assert got[2] == want[2] == ("own forward", 1) and got[3] == want[3] == "own numpy"


DISPATCH_SOURCE = textwrap.dedent("""\
    import torch


    def ids(column):
        return column.unique()


    def counts(t):
        return t.unique(sorted=True, return_counts=True)


    def spread(x):
        return x.std(0)


    def running(x):
        return x.cumsum(1)


    def where(mask):
        return mask.nonzero()


    def diagonal(x):
        return x.diag()
    """)


@pytest.mark.parametrize("jit", [False, True], ids=["pynative", "jit"])
def test_helper_methods_on_untyped_receivers_decide_at_run_time(compat, tmp_path, monkeypatch, jit):
    """A tensor method the table converts to a helper taking torch's arguments (``unique``,
    ``std``, ``cumsum``, ``nonzero``, ``diag``) on a receiver of unknown type goes through
    ``untyped_method``: a MindSpore tensor gets torch's results (under mindspore.jit too), a
    numpy array or a pandas Series its own method."""
    pd = pytest.importorskip("pandas")
    code, ms_mod, t_mod = both_versions(DISPATCH_SOURCE, f"dispatch_{jit}", tmp_path, monkeypatch)
    assert 'untyped_method(column, "unique", unique)' in code and 'untyped_method(x, "std", std, 0)' in code, code
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 3)).astype(np.float32)
    ints = np.array([3, 1, 3, 2, 1])
    cases = [("ids", ints), ("counts", ints), ("spread", x), ("running", x), ("where", x > 0), ("diagonal", x)]
    for name, value in cases:
        fn = getattr(ms_mod, name)
        if jit:
            fn = mindspore.jit(fn)
        got, want = fn(mindspore.Tensor(value)), t_mod[name](torch.from_numpy(value))
        for g, w in zip(got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]):
            assert g.asnumpy().dtype == w.numpy().dtype, name
            np.testing.assert_allclose(g.asnumpy(), w.numpy(), rtol=1e-6, err_msg=name)
    np.testing.assert_array_equal(ms_mod.ids(pd.Series([3, 1, 3])), [3, 1])  # pandas: order of appearance
    np.testing.assert_allclose(ms_mod.spread(x.astype(np.float64)), x.astype(np.float64).std(0))  # numpy: ddof 0
    np.testing.assert_array_equal(ms_mod.running(x), x.cumsum(1))


def test_only_helpers_taking_torchs_arguments_are_dispatched():
    """An entry that edits the call's arguments (``norm``'s unsupported p='nuc', a keyword
    rename) cannot hand a non-tensor receiver its own call: still uncertain."""
    out = convert_source("import torch\n\n\ndef f(x):\n    return x.norm(2), x.split(3), x.unique()\n", SPEC, "a.py")
    kinds = {s.rule: s.kind for s in out.sites}
    assert kinds == {"torch.Tensor.norm": "uncertain", "torch.Tensor.split": "uncertain",
                     "torch.Tensor.unique": "converted"}, out.code


def test_a_torch_only_tensor_method_without_an_entry_on_an_untyped_receiver_is_reported():
    """``x.index_fill_(...)`` (no entry) on a receiver of unknown type fails on a MindSpore tensor
    if left as it is: reported uncertain.  A name other things have too (a dict's ``values``, a
    DataFrame's ``apply``), a method of one of the helper's objects (a SparseTensor's
    ``indices``), a method the project defines, or a function reached through an import is not."""
    source = textwrap.dedent("""\
        import numpy as np
        import torch


        class Grid:
            def unfold(self):
                return self


        def f(x, table, frame, sparse, grid):
            a = x.index_fill_(0, idx, 1.0)
            b = table.values()
            c = frame.apply(len)
            d = sparse.indices()
            e = grid.unfold()
            g = np.select([x > 0], [x])
            return a, b, c, d, e, g
        """)
    out = convert_source(source, SPEC, "a.py")
    needs = [(s.kind, s.rule, s.line) for s in out.sites if s.kind in ("uncertain", "unsupported")]
    assert needs == [("uncertain", "torch.Tensor.index_fill_", 11)], out.code


def test_is_contiguous_answers_as_torchs(compat, tmp_path, monkeypatch):
    source = "import torch\n\n\ndef f(x: torch.Tensor, y):\n    return x.is_contiguous(), x.t().is_contiguous(), y.is_contiguous()\n"
    code, ms_mod, t_mod = both_versions(source, "contiguous_case", tmp_path, monkeypatch)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = t_mod["f"](torch.from_numpy(x), torch.from_numpy(x).t())
    assert ms_mod.f(mindspore.Tensor(x), mindspore.Tensor(x).t()) == want == (True, False, False)


def test_untyped_argmax_and_named_parameters_decide_at_run_time(compat, tmp_path, monkeypatch):
    source = textwrap.dedent("""\
        import torch


        def best(out):
            return out.argmax(1), out.argmax(dim=-1, keepdim=True), out.argmax()


        def along(out):
            return out.argmax(1)


        def names(model):
            return [n for n, _ in model.named_parameters()], [n for n, _ in model.named_parameters(prefix="m")]
        """)
    code, ms_mod, t_mod = both_versions(source, "argmax_names", tmp_path, monkeypatch)
    assert "argmax_of(out, 1)" in code and "named_parameters_of(model)" in code, code
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for got, want in zip(ms_mod.best(mindspore.Tensor(x)), t_mod["best"](torch.from_numpy(x))):
        assert got.asnumpy().dtype == want.numpy().dtype
        np.testing.assert_array_equal(got.asnumpy(), want.numpy())
    np.testing.assert_array_equal(ms_mod.along(x), x.argmax(1))  # numpy's own argmax
    compiled = mindspore.jit(ms_mod.best)(mindspore.Tensor(x))  # it compiles inside a graph too
    for got, want in zip(compiled, t_mod["best"](torch.from_numpy(x))):
        np.testing.assert_array_equal(got.asnumpy(), want.numpy())
    assert ms_mod.names(mindspore.nn.Dense(2, 3)) == t_mod["names"](torch.nn.Linear(2, 3)) == \
        (["weight", "bias"], ["m.weight", "m.bias"])


SCATTERS = textwrap.dedent('''\
    import torch


    def one_hot(buffer, index, counts, rows, src):
        buffer.zero_()
        hot = buffer.scatter_(1, index.view(-1, 1), 1)
        counts.scatter_add_(0, index, torch.ones(index.shape[0]))
        rows.index_add_(0, index, src)
        return hot, buffer, counts, rows
''')


def test_untyped_scatter_and_index_add_write_in_place_at_run_time(compat, tmp_path, monkeypatch):
    """pyGRU4REC's ``buffer.scatter_(1, index, 1)`` on an argument of unknown type (its one-hot
    buffer): a MindSpore tensor is written in place as torch's, and the call returns it."""
    code, ms_mod, t_mod = both_versions(SCATTERS, "untyped_scatters", tmp_path, monkeypatch)
    assert "scatter_of(buffer, 1" in code and "scatter_add_of(counts" in code and "index_add_of(rows" in code, code
    index = np.array([2, 0, 2])
    args = (np.full((3, 4), 7.0, np.float32), index, np.zeros(4, np.float32), np.zeros((4, 2), np.float32),
            np.arange(6, dtype=np.float32).reshape(3, 2))
    want = t_mod["one_hot"](*[torch.from_numpy(a.copy()) for a in args])
    got = ms_mod.one_hot(*[mindspore.Tensor(a.copy()) for a in args])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.asnumpy(), w.numpy())
