"""nn.Module's own API on known modules: the module-tree entries run as torch's, and a torch
Module method without an entry is reported instead of being left to fail at run time."""

from __future__ import annotations

import importlib
import textwrap

import pytest

from migrate.codemod import TORCH_MODULE_METHODS, convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

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
    out = convert_source(SOURCE, SPEC, "module_api_case.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert 'add_module(self, "head_{}".format(i), nn.Dense(3, 2))' in out.code
    assert "for m in modules(self):" in out.code and "net.cells_and_names()" in out.code
    (tmp_path / "module_api_case_ms.py").write_text(out.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ms_mod = importlib.import_module("module_api_case_ms")
    t_mod: dict = {"__name__": "heads_torch"}
    exec(compile(SOURCE, "<torch>", "exec"), t_mod)
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
    reported = {(s.kind, s.rule) for s in out.sites if s.kind != "converted"}
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
