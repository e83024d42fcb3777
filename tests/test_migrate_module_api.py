"""nn.Module's own API on known modules: the module-tree entries run as torch's, and a torch
Module method without an entry is reported instead of being left to fail at run time."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from migrate.codemod import TORCH_MODULE_METHODS, convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")
from test_migrate_numeric import both_versions  # noqa: E402  (needs torch and mindspore)

SPEC = load_spec()

SOURCE = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Heads(nn.Module):
        def __init__(self, n):
            super().__init__()
            for i in range(n):
                self.add_module("head_{}".format(i), nn.Linear(3, 2))
            self.register_module("extra", nn.ReLU())
            self.register_parameter("scale", nn.Parameter(torch.ones(2)))
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.constant_(m.bias, 0.5)

        def forward(self, x):
            outs = [getattr(self, "head_{}".format(i))(x) for i in range(2)]
            return (outs[0] + outs[1]) * self.scale


    def tree(net: nn.Module):
        return ([type(m).__name__ for m in net.modules()], [n for n, _ in net.named_children()],
                [n for n, _ in net.named_modules()])
''')


def test_module_tree_api_converts_and_runs_like_torch(compat, tmp_path, monkeypatch):
    code, ms_mod, t_mod = both_versions(SOURCE, "module_api_case", tmp_path, monkeypatch)
    assert 'add_module(self, "head_{}".format(i), nn.Dense(3, 2))' in code
    assert "for m in modules(self):" in code and "net.cells_and_names()" in code
    t_net, ms_net = t_mod["Heads"](2), ms_mod.Heads(2)
    t_types, t_children, t_names = t_mod["tree"](t_net)
    m_types, m_children, m_names = ms_mod.tree(ms_net)
    assert t_children == m_children == ["head_0", "head_1", "extra"]
    assert t_names == m_names == ["", "head_0", "head_1", "extra"]
    assert [n.replace("Linear", "Dense").replace("Heads", "Heads") for n in t_types] == m_types
    assert sorted(ms_net.parameters_dict()) == sorted(t_net.state_dict())  # scale, head_i.weight/bias
    assert all((p.asnumpy() == 0.5).all() for n, p in ms_net.parameters_dict().items() if n.endswith("bias"))


def test_torch_module_methods_without_an_entry_are_reported_on_known_modules():
    out = convert_source(textwrap.dedent('''\
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
                self.fc.register_forward_hook(print)
                self.share_memory()
                self.custom()

            def custom(self):
                return self.fc.get_submodule("")
    '''), SPEC, "net.py")
    reported = {(s.kind, s.rule) for s in out.sites if s.kind not in ("converted", "graph", "pynative")}
    assert ("unsupported", "torch.nn.Module.register_forward_hook") in reported
    assert ("unsupported", "torch.nn.Module.share_memory") in reported
    assert ("unsupported", "torch.nn.Module.get_submodule") in reported
    assert not any(rule.endswith(".custom") for _, rule in reported)


def test_a_method_the_project_defines_is_not_reported_as_torchs():
    out = convert_source(textwrap.dedent('''\
        import torch.nn as nn
        class Net(nn.Module):
            def share_memory(self):
                return 1
        net = Net()
        net.share_memory()
    '''), SPEC, "net.py")
    assert not [s for s in out.sites if s.rule == "torch.nn.Module.share_memory"], out.sites


def test_the_torch_module_method_list_is_torchs():
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_") and callable(getattr(torch.nn.Module, n))}
    assert TORCH_MODULE_METHODS == public


LISTS = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Blocks(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.norms = nn.ModuleList()
            self.layers = nn.ModuleList()
            for _ in range(n):
                self.norms.append(nn.LayerNorm(3))
                self.layers.append(nn.Linear(3, 3))
            self.tail = nn.ModuleList([nn.Linear(3, 3)])
            self.tail.extend([nn.Linear(3, 3)])
            self.heads = nn.ModuleDict()
            self.more = nn.ModuleDict()
            for key in ("rating", "user+click"):  # torch allows '+' in a key, MindSpore's names not
                self.heads[key] = nn.Linear(3, 1)
                self.more[key] = nn.Linear(3, 1)
            self.pairs = nn.ModuleDict({"user+item": nn.Linear(3, 1)})

        def forward(self, x):
            for norm, layer in zip(self.norms, self.layers):
                x = layer(norm(x))
            x = self.tail[1](self.tail[0](x))
            return self.heads["rating"](x) + self.more["user+click"](x) + self.pairs["user+item"](x)
''')


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "pynative"])
def test_module_lists_filled_after_assignment_keep_torchs_parameter_names(compat, tmp_path, monkeypatch, jit):
    """Two ModuleLists and two ModuleDicts assigned empty and filled in a loop (SASRec's layout):
    with a plain nn.CellList / nn.CellDict the lists would name their Parameters 0.gamma,
    0.weight, ... and the dicts rating.weight, ... (20 Parameters under 12 names); the helpers
    name them as torch does, and the model runs as torch's.  Keys with a '+' (DeepCTR's ONN), which
    MindSpore's CellDict refuses as a name prefix, name their Parameters as torch does too."""
    from migrate.weights import name_map, to_mindspore

    code, ms_mod, t_mod = both_versions(LISTS, f"module_api_lists_{int(jit)}", tmp_path, monkeypatch,
                                        complete=False, jit=jit)
    assert "self.norms = ModuleList()" in code and ("@jit_construct" in code) == jit, code
    t_net, ms_net = t_mod["Blocks"](2), ms_mod.Blocks(2)
    mapping = name_map(t_net)
    assert sorted(ms_net.parameters_dict()) == sorted(mapping.values())
    assert len({p.name for p in ms_net.trainable_params()}) == len(ms_net.trainable_params()) == 22
    state, _ = to_mindspore(t_net.state_dict(), mapping)
    params = ms_net.parameters_dict()
    for name, array in state.items():
        params[name].set_data(mindspore.Tensor(array.copy()))
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    want = t_net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ms_net(mindspore.Tensor(x)).asnumpy(), want, atol=1e-5)


SEQUENTIAL = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.mlp = nn.Sequential()
            for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
                self.mlp.add_module("fc{}".format(i), nn.Linear(a, b))
                self.mlp.add_module("act{}".format(i), nn.Tanh())
            self.head = nn.Module()
            self.head.out = nn.Linear(sizes[-1], 2)

        def forward(self, x):
            return self.head.out(self.mlp(x))


    class Wrapper(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.inner = MLP(sizes)

        def forward(self, x):
            return self.inner(x)


    def stack(sizes):
        seq = nn.Sequential()
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            seq.add_module("fc{}".format(i), nn.Linear(a, b))
        return seq
''')


def test_add_module_on_a_sequential_runs_the_added_layers(compat, tmp_path, monkeypatch):
    """nn.Sequential() filled with add_module (a common way to build one): the layers added must
    run.  A SequentialCell's construct runs its cell_list, which setattr alone leaves empty (the
    model was the identity, measured); the helper refreshes it."""
    code, ms_mod, t_mod = both_versions(SEQUENTIAL, "module_api_seq", tmp_path, monkeypatch, complete=False)
    assert "add_module(self.mlp, " in code and "nn.SequentialCell()" in code, code
    assert code.count("self.update_parameters_name()") == 1, code  # MLP only
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    for build in ("MLP", "Wrapper", "stack"):
        t_net, ms_net = t_mod[build]([3, 5, 2]), getattr(ms_mod, build)([3, 5, 2])
        params = ms_net.parameters_dict()
        # the Sequential and the plain Module were filled after they became attributes:
        # without update_parameters_name() they would say fc0.weight and out.weight
        assert sorted(params) == sorted(t_net.state_dict()), build
        assert sorted(p.name for p in ms_net.trainable_params()) == sorted(t_net.state_dict()), build
        for key, value in t_net.state_dict().items():
            params[key].set_data(mindspore.Tensor(value.numpy().copy()))
        want = t_net(torch.from_numpy(x)).detach().numpy()
        got = ms_net(mindspore.Tensor(x)).asnumpy()
        assert got.shape == want.shape == (2, 2), build
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=build)


NEXT_PARAMETER = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            return weight.new_zeros(2, bsz, 3)

        def forward(self, x):
            return self.fc(x)


    def first(model, names):
        shapes = (tuple(next(model.parameters()).shape), tuple(next(iter(model.parameters())).shape))
        return shapes, [key.split('.') for key in names] + [key.split() for key in names]
    ''')


def test_next_of_parameters_and_string_splits(compat, tmp_path, monkeypatch):
    """``next(model.parameters())`` (the usual way to reach a model's dtype): torch's generator is
    a list in MindSpore, so the converted argument is wrapped in ``iter``, and the first
    parameter is a tensor (``weight.new_zeros`` converts); ``key.split('.')`` and ``key.split()``
    are str's (a string literal or no size), not flagged as tensor splits."""
    code, ms_mod, t_mod = both_versions(NEXT_PARAMETER, "next_case", tmp_path, monkeypatch)
    assert "next(iter(module_parameters(self)))" in code and "next(iter(iter(" not in code
    assert "weight.new_zeros((2, bsz, 3))" in code and "key.split('.')" in code
    t_net, ms_net = t_mod["Net"](), ms_mod.Net()
    assert t_mod["first"](t_net, ["a.b", "c d"]) == ms_mod.first(ms_net, ["a.b", "c d"])
    hidden = ms_net.init_hidden(4)
    assert tuple(hidden.shape) == (2, 4, 3) and hidden.dtype == mindspore.float32 and not hidden.asnumpy().any()


PARAMETER_LISTS = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Cross(nn.Module):
        """pytorch-fm's CrossNetwork: a ParameterList built at once, indexed in forward."""

        def __init__(self, dim, n):
            super().__init__()
            self.n = n
            self.w = nn.ModuleList([nn.Linear(dim, 1, bias=False) for _ in range(n)])
            self.b = nn.ParameterList([nn.Parameter(torch.zeros((dim,))) for _ in range(n)])

        def forward(self, x):
            x0 = x
            for i in range(self.n):
                x = x0 * self.w[i](x) + self.b[i] + x
            return x


    class Grown(nn.Module):
        """MAML's Learner: lists assigned empty and filled after, iterated and indexed."""

        def __init__(self):
            super().__init__()
            self.vars = nn.ParameterList()
            self.vars_bn = nn.ParameterList()
            self.vars.append(nn.Parameter(torch.ones(3, 2)))
            self.vars.append(nn.Parameter(torch.zeros(3)))
            self.vars_bn.extend([nn.Parameter(torch.zeros(3), requires_grad=False)])

        def forward(self, x):
            total = 0
            for p in self.vars:
                total = total + p.sum()
            return torch.matmul(x, self.vars[0].t()) + self.vars[-1] + self.vars_bn[0] + total


    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Grown()
            self.net.vars.append(nn.Parameter(torch.ones(1)))
    ''')


def test_parameter_lists_convert_name_and_train_like_torchs(compat, tmp_path, monkeypatch):
    """torch.nn.ParameterList becomes the helper's: the Parameters keep torch's names (also those
    appended after the list became an attribute, and under an enclosing module), indexing and
    iteration work inside compiled constructs, and outputs and gradients equal torch's."""
    code, ms_mod, t_mod = both_versions(PARAMETER_LISTS, "param_lists", tmp_path, monkeypatch)
    assert code.count("ParameterList(") == 3 and code.count("@jit_construct") == 2, code
    assert "self.b.at(i)" in code and "for p in self.vars.values():" in code, code
    rng = np.random.default_rng(2)
    for name, x in (("Cross", rng.standard_normal((4, 3, 5))), ("Grown", rng.standard_normal((4, 2)))):
        x = x.astype(np.float32)
        t_net = t_mod[name](5, 2) if name == "Cross" else t_mod[name]()
        m_net = ms_mod.Cross(5, 2) if name == "Cross" else ms_mod.Grown()
        assert sorted(m_net.parameters_dict()) == sorted(t_net.state_dict()), name
        for key, value in t_net.state_dict().items():  # the same (random) weights
            compat.assign_data(m_net.parameters_dict()[key], mindspore.Tensor(value.numpy() + rng.random(value.shape).astype(np.float32)))
            with torch.no_grad():
                value.copy_(torch.from_numpy(m_net.parameters_dict()[key].asnumpy()))
        t_out = t_net(torch.from_numpy(x))
        t_out.sum().backward()
        m_out, grads = mindspore.value_and_grad(lambda v: m_net(v).sum(), None, m_net.trainable_params())(
            mindspore.Tensor(x))
        np.testing.assert_allclose(m_out.asnumpy(), t_out.sum().item(), rtol=1e-5)
        t_grads = [p.grad.numpy() for p in t_net.parameters() if p.requires_grad]
        assert len(grads) == len(t_grads)
        for g, want in zip(grads, t_grads):
            np.testing.assert_allclose(g.asnumpy(), want, rtol=1e-5, atol=1e-6)
    outer = ms_mod.Outer()
    assert sorted(p.name for p in outer.get_parameters()) == sorted(t_mod["Outer"]().state_dict())
    grown = ms_mod.Grown()
    assert len(grown.vars) == 2 and grown.vars[-2] is grown.vars[0] and grown.vars[:1] == [grown.vars[0]]
    with pytest.raises(IndexError):
        grown.vars[2]
    replaced = mindspore.Parameter(mindspore.Tensor(np.full((3,), 7.0, np.float32)))
    grown.vars[-1] = replaced
    assert grown.vars.at(1) is replaced and replaced.name == "vars.1"
    assert [p.name for p in grown.trainable_params()] == ["vars.0", "vars.1"]


NAMED_MODULES = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.blocks = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))

    def decay_groups(self):
        decay, other = set(), set()
        whitelist = (nn.Linear,)
        for mn, m in self.named_modules():
            for pn, p in m.named_parameters():
                full = '%s.%s' % (mn, pn) if mn else pn
                if pn.endswith('weight') and isinstance(m, whitelist):
                    decay.add(full)
                else:
                    other.add(full)
        children = [name for name, child in self.named_children()]
        return sorted(decay), sorted(other), children


def build():
    return Net()
"""


def test_named_modules_yield_modules_whose_members_convert(compat, tmp_path, monkeypatch):
    """(name, module) pairs of named_modules()/named_children() type their module, and an
    isinstance test on a name bound to a tuple of classes narrows it: minGPT's weight-decay
    grouping converts completely and names the same parameters as torch."""
    code, ms_mod, t_mod = both_versions(NAMED_MODULES, "named_modules_case", tmp_path, monkeypatch)
    assert "module_named_parameters(" in code and "cells_and_names()" in code, code
    assert ms_mod.build().decay_groups() == t_mod["build"]().decay_groups()


JIT_MARKED = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    doubled: torch.jit.Final[bool]

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.doubled = True

    @torch.jit.ignore
    def no_weight_decay(self):
        return {"fc.bias"}

    def forward(self, x):
        if torch.jit.is_scripting() or torch.jit.is_tracing() or not self.doubled:
            return self.fc(x)
        return self.fc(x) * 2


def build():
    return Net()
"""


def test_torchscript_markers_keep_what_eager_torch_runs(compat, tmp_path, monkeypatch):
    """@torch.jit.ignore is dropped, is_scripting()/is_tracing() are False and torch.jit.Final is
    typing.Final: the converted, compiled construct takes eager torch's branch (the doubled output)."""
    from test_migrate_numeric import twin_models

    code, ms_mod, _ = both_versions(JIT_MARKED, "jit_marked", tmp_path, monkeypatch)
    assert "torch" not in code.replace("_torch_compat", "") and "@jit_construct" in code, code
    t_mod, t_model, ms_model = twin_models(JIT_MARKED, ms_mod)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    want = t_model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ms_model(mindspore.Tensor(x)).asnumpy(), want, rtol=1e-6, atol=1e-6)
    assert ms_model.no_weight_decay() == {"fc.bias"}


MODULE_LIST_MEMBERS = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class DNN(nn.Module):
        """DeepCTR's DNN layout: nn.Module members called on an nn.ModuleList."""

        def __init__(self):
            super().__init__()
            self.linears = nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 2)])
            for name, tensor in self.linears.named_parameters():
                if "weight" in name:
                    nn.init.constant_(tensor, 0.25)
                else:
                    nn.init.zeros_(tensor)
            for p in self.linears[1].parameters():
                p.requires_grad = False

        def forward(self, x):
            for layer in self.linears:
                x = layer(x)
            return x


    def names(net: DNN):
        layers = nn.ModuleList([nn.Linear(2, 2)])
        return ([n for n, _ in net.linears.named_parameters()], [n for n, _ in layers.named_parameters()],
                sum(p.numel() for p in net.linears[0].parameters()))
''')


def test_module_members_on_a_module_list_convert_and_run_like_torch(compat, tmp_path, monkeypatch):
    """A ModuleList is a Module: ``layers.named_parameters()`` is converted as on any module (it
    was left as it was, and failed at run time, in DeepCTR-Torch's DNN)."""
    code, ms_mod, t_mod = both_versions(MODULE_LIST_MEMBERS, "module_list_members", tmp_path, monkeypatch)
    assert "self.linears.named_parameters()" not in code and "layers.named_parameters()" not in code
    t_net, ms_net = t_mod["DNN"](), ms_mod.DNN()
    t_names, ms_names = t_mod["names"](t_net), ms_mod.names(ms_net)
    assert ms_names[2] == t_names[2] == 16
    assert ms_names[:2] == t_names[:2], (ms_names, t_names)
    # the weights of both layers are 0.25, as torch's; the second layer is frozen
    for name, p in ms_net.parameters_and_names():
        if "weight" in name:
            assert (p.asnumpy() == 0.25).all(), name
    assert [p.name.split(".")[-1] for p in ms_net.trainable_params()] == ["weight", "bias"]
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(ms_net(mindspore.Tensor(x)).asnumpy(), t_net(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-6)


PARAM_DICT = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Graph(nn.Module):
        """NGCF's layout: embeddings and per-layer weights in ParameterDicts, looked up by formatted keys."""

        def __init__(self, n_layers):
            super().__init__()
            self.n_layers = n_layers
            self.embedding_dict = nn.ParameterDict({
                "user_emb": nn.Parameter(torch.randn(4, 3)),
                "item_emb": nn.Parameter(torch.randn(5, 3)),
            })
            self.weight_dict = nn.ParameterDict()
            for k in range(n_layers):
                self.weight_dict.update({"W_gc_%d" % k: nn.Parameter(torch.randn(3, 3))})
                self.weight_dict["b_gc_%d" % k] = nn.Parameter(torch.randn(1, 3))

        def forward(self, users, items):
            ego = torch.cat([self.embedding_dict["user_emb"], self.embedding_dict["item_emb"]], 0)
            for k in range(self.n_layers):
                ego = torch.tanh(torch.matmul(ego, self.weight_dict["W_gc_%d" % k]) + self.weight_dict["b_gc_%d" % k])
            u, i = ego[:4], ego[4:]
            reg = 0
            for name, p in self.embedding_dict.items():
                reg = reg + (p ** 2).sum()
            return (u[users] * i[items]).sum(1), reg
''')


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "pynative"])
def test_parameter_dicts_keep_torchs_names_values_and_gradients(compat, tmp_path, monkeypatch, jit):
    """nn.ParameterDict (MindSpore has none) is the helper's: torch's names (weight_dict.W_gc_0,
    also for Parameters set after the dict became an attribute), ``pdict[key]`` as ``pdict.at(key)``
    (a Cell's __getitem__ gives constants in a graph: silently zero gradients), and the model's
    values and gradients as torch's."""
    from migrate.weights import name_map, to_mindspore

    code, ms_mod, t_mod = both_versions(PARAM_DICT, f"module_api_pdict_{int(jit)}", tmp_path, monkeypatch, jit=jit)
    assert "ParameterDict()" in code and 'self.weight_dict.at("W_gc_%d" % k)' in code, code
    assert ("@jit_construct" in code) == jit, code
    t_net, ms_net = t_mod["Graph"](2), ms_mod.Graph(2)
    mapping = name_map(t_net)
    assert sorted(p.name for p in ms_net.trainable_params()) == sorted(mapping.values()) == sorted(
        ["embedding_dict.user_emb", "embedding_dict.item_emb", "weight_dict.W_gc_0", "weight_dict.b_gc_0",
         "weight_dict.W_gc_1", "weight_dict.b_gc_1"])
    state, _ = to_mindspore(t_net.state_dict(), mapping)
    params = ms_net.parameters_dict()
    for name, array in state.items():
        params[name].set_data(mindspore.Tensor(array.copy()))
    users, items = np.array([0, 3, 1]), np.array([4, 0, 2])
    t_out, t_reg = t_net(torch.from_numpy(users), torch.from_numpy(items))
    (t_out.sum() + t_reg).backward()

    def loss(u, i):
        out, reg = ms_net(u, i)
        return out.sum() + reg

    value, grads = mindspore.value_and_grad(loss, None, ms_net.trainable_params())(
        mindspore.Tensor(users, mindspore.int32), mindspore.Tensor(items, mindspore.int32))
    np.testing.assert_allclose(float(value), float(t_out.sum() + t_reg), rtol=1e-5)
    t_grads = {mapping[n]: p.grad.numpy() for n, p in t_net.named_parameters()}
    for p, g in zip(ms_net.trainable_params(), grads):
        assert np.abs(g.asnumpy()).sum() > 0, p.name  # a constant lookup would give zeros
        np.testing.assert_allclose(g.asnumpy(), t_grads[p.name], rtol=1e-4, atol=1e-5, err_msg=p.name)


def test_the_parameter_dict_helper_behaves_as_torchs(compat):
    torch_dict = torch.nn.ParameterDict({"b": torch.nn.Parameter(torch.ones(2)), "a": torch.nn.Parameter(torch.zeros(1))})
    ms_dict = compat.ParameterDict({"b": mindspore.Parameter(mindspore.ops.ones(2)),
                                    "a": mindspore.ops.zeros(1)})  # a tensor is wrapped, as torch does
    assert list(ms_dict) == list(torch_dict) == ["a", "b"]  # torch sorts a plain dict's keys
    pairs = [("b", torch.nn.Parameter(torch.ones(1))), ("a", torch.nn.Parameter(torch.ones(1)))]
    assert list(compat.ParameterDict([(k, mindspore.ops.ones(1)) for k, _ in pairs])) == list(
        torch.nn.ParameterDict(pairs)) == ["b", "a"]  # pairs keep their order
    assert list(ms_dict.keys()) == list(torch_dict.keys()) and len(ms_dict) == len(torch_dict) == 2
    assert isinstance(ms_dict["a"], mindspore.Parameter) and "a" in ms_dict and "c" not in ms_dict
    ms_dict["c"] = mindspore.ops.ones(3)
    torch_dict["c"] = torch.ones(3)
    assert [k for k, _ in ms_dict.items()] == [k for k, _ in torch_dict.items()] == ["a", "b", "c"]
    assert ms_dict.pop("b").shape == (2,) and list(ms_dict) == ["a", "c"]
    assert ms_dict.get("b") is None and len(ms_dict.values()) == 2
    with pytest.raises(KeyError):
        ms_dict["b"]
    with pytest.raises(KeyError):
        ms_dict["x.y"] = mindspore.ops.ones(1)


FAST_WEIGHTS = textwrap.dedent('''\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Learner(nn.Module):
        """MAML's functional learner (dragen1860/MAML-Pytorch): weights in a ParameterList, or the
        fast weights handed in."""

        def __init__(self):
            super().__init__()
            self.vars = nn.ParameterList()
            for a, b in ((4, 6), (6, 3)):
                self.vars.append(nn.Parameter(torch.randn(b, a) * 0.5))
                self.vars.append(nn.Parameter(torch.zeros(b)))

        def forward(self, x, vars=None):
            if vars is None:
                vars = self.vars
            idx = 0
            for _ in range(2):
                x = F.linear(x, vars[idx], vars[idx + 1])
                idx += 2
            return x
''')


def test_a_local_that_may_hold_a_parameter_list_keeps_its_construct_in_pynative(compat, tmp_path, monkeypatch):
    """``vars = self.vars`` under ``if vars is None``: the tool cannot write ``vars.at(i)`` (vars
    may be a plain list), and compiled, ``vars[i]`` would give the Parameters zero gradients; the
    construct stays in PyNative, where gradients and fast-weight passes are torch's."""
    from migrate.weights import name_map, to_mindspore

    code, ms_mod, t_mod = both_versions(FAST_WEIGHTS, "module_api_fast", tmp_path, monkeypatch)
    assert "@jit_construct" not in code, code
    out = convert_source(FAST_WEIGHTS, SPEC, "fast.py")
    assert [s.reason for s in out.sites if s.kind == "pynative"] == [
        "Learner.construct stays in PyNative: reads the items of vars, which may be a ParameterList: a compiled "
        "graph takes a Cell's items as constants (their gradients would be zero)"]
    t_net, ms_net = t_mod["Learner"](), ms_mod.Learner()
    state, _ = to_mindspore(t_net.state_dict(), name_map(t_net))
    params = ms_net.parameters_dict()
    for name, array in state.items():
        params[name].set_data(mindspore.Tensor(array.copy()))
    x = np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32)
    t_loss = (t_net(torch.from_numpy(x)) ** 2).sum()
    t_grads = torch.autograd.grad(t_loss, list(t_net.parameters()))
    fast = [p - 0.1 * g for p, g in zip(t_net.parameters(), t_grads)]
    value, grads = mindspore.value_and_grad(lambda xx: (ms_net(xx) ** 2).sum(), None, ms_net.trainable_params())(
        mindspore.Tensor(x))
    np.testing.assert_allclose(float(value), float(t_loss), rtol=1e-5)
    for g, t_g in zip(grads, t_grads):
        np.testing.assert_allclose(g.asnumpy(), t_g.numpy(), rtol=1e-4, atol=1e-6)
    ms_fast = [p - 0.1 * g for p, g in zip(ms_net.trainable_params(), grads)]
    np.testing.assert_allclose(ms_net(mindspore.Tensor(x), ms_fast).asnumpy(),
                               t_net(torch.from_numpy(x), fast).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_parameter_containers_refuse_to_be_read_by_the_graph_compiler(compat):
    """Compiled, ``plist[i]`` would be a constant (zero gradient, measured); the helper raises
    instead, so mindspore.jit says so and a compiled training step falls back to PyNative with
    torch's gradients."""

    class Net(mindspore.nn.Cell):
        def __init__(self):
            super().__init__()
            self.vars = compat.ParameterList([mindspore.Parameter(mindspore.ops.ones(3))])

        def construct(self, x, vars=None):
            if vars is None:
                vars = self.vars
            return (x * vars[0] * 2).sum()

    net, x = Net(), mindspore.Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    with pytest.raises(RuntimeError, match="ParameterList indexed inside a compiled graph"):
        mindspore.jit(mindspore.value_and_grad(net, None, net.trainable_params()))(x)

    def loss(model, inputs):
        return model(inputs)

    with pytest.warns(RuntimeWarning, match="runs uncompiled"):
        value, grads = compat.compiled_value_and_grad(loss, net.trainable_params())(net, x)
    assert float(value) == pytest.approx(12.0)
    np.testing.assert_allclose(grads[0].asnumpy(), [2.0, 4.0, 6.0])
    assert [p.name for p in net.vars] == ["vars.0"]  # outside a graph, indexing and iterating work


FREEZING = textwrap.dedent('''\
    import copy
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
            self.head = nn.Linear(4, 2)
            self.register_buffer("steps", torch.zeros(1))
            self.scale = nn.Parameter(torch.ones(2), requires_grad=False)


    def count(m):
        return [sum(p.numel() for p in m.parameters()), len(list(m.parameters(recurse=False))),
                sum(1 for p in m.parameters() if p.requires_grad), sum(1 for p in m.parameters() if p.grad is None),
                len(list(m.named_parameters()))]


    def lifecycle():
        net = Net()
        seen = [count(net)]
        net.encoder.requires_grad_(False)  # freeze the encoder: still listed, not trainable
        seen.append(count(net))
        teacher = copy.deepcopy(net)
        for p in teacher.parameters():
            p.requires_grad = False
        seen.append(count(teacher))
        for p in net.parameters():  # unfreeze everything, the parameter built frozen too
            p.requires_grad = True
        seen.append(count(net))
        with torch.no_grad():  # an EMA step over the frozen copy's parameters reaches them
            for t_p, p in zip(teacher.parameters(), net.parameters()):
                t_p.data.mul_(0.5).add_(p.data + 1.0, alpha=0.5)
        seen.append(float(sum(p.sum() for p in teacher.parameters()) - sum(p.sum() for p in net.parameters())))
        return seen
''')


def test_parameters_lists_frozen_parameters_and_leaves_buffers_out_as_torchs(compat, tmp_path, monkeypatch):
    """torch's ``parameters()`` lists frozen Parameters (``requires_grad_(False)``, built with
    ``requires_grad=False``, a deep copy's) and leaves buffers out (registered ones, BatchNorm's
    statistics); ``p.grad`` is None before any backward.  ``trainable_params()`` left frozen ones
    out: an unfreezing loop reached none and an EMA over a frozen teacher updated nothing."""
    code, ms_mod, t_mod = both_versions(FREEZING, "freezing_case", tmp_path, monkeypatch)
    assert "trainable_params" not in code, code
    torch.manual_seed(0)
    want = t_mod["lifecycle"]()
    got = ms_mod.lifecycle()
    assert got[:4] == want[:4]
    assert want[0] == [2 + (12 + 4) + (4 + 4) + (8 + 2), 1, 6, 7, 7]  # scale is frozen from the start
    assert want[1][2] == 2 and want[2][2] == 0 and want[3][2] == 7
    assert abs(got[4] - 0.5 * 36) < 1e-4 and abs(want[4] - 0.5 * 36) < 1e-4  # teacher = (teacher + net + 1) / 2


NAMES = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.Embedding(10, 8, padding_idx=0)
            self.LayerNorm = nn.LayerNorm(8)
            self.block = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.PReLU(), nn.GroupNorm(2, 8))
            self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
            self.gamma = nn.Parameter(torch.ones(8))  # the program's own name: kept
            self.register_buffer("steps", torch.zeros(1))


    def names(net):
        return [n for n, _ in net.named_parameters()], [n for n, _ in net.block.named_parameters(prefix="b")]
''')


def test_named_parameters_gives_torchs_names(compat, tmp_path, monkeypatch):
    """named_parameters() names a LayerNorm's, BatchNorm's and GroupNorm's gamma/beta ``weight``/``bias``,
    an Embedding's table and a PReLU's ``w`` ``weight``, a Transformer layer's dense1 ``linear1``,
    as torch does, in torch's order: BERT-style ``no_decay = ["bias", "LayerNorm.weight"]``
    grouping picked other Parameters with MindSpore's names (tests/scripts/decay_groups.py)."""
    code, ms_mod, t_mod = both_versions(NAMES, "names_case", tmp_path, monkeypatch)
    assert ms_mod.names(ms_mod.Net()) == t_mod["names"](t_mod["Net"]())
