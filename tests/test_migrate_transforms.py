"""Structural rewrites: each transform's own examples (incl. alias imports and
no-op cases) are golden tests, plus the no-op cases every conversion must keep."""

from __future__ import annotations

import re

import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec
from migrate.transforms import Example, Transform, registry

SPEC = load_spec()
CASES = [
    pytest.param(cls, ex, id=f"{name}: {ex.name or i}")
    for name, cls in registry().items()
    for i, ex in enumerate(cls.examples)
]


def test_transforms_are_discovered():
    names = set(registry())
    assert {"module_to_cell", "no_grad", "devices", "tensor_data", "checkpoint", "register_buffer",
            "tensor_size", "dataset_base"} <= names
    for name, cls in registry().items():
        assert issubclass(cls, Transform) and cls.name == name
        assert cls.examples, f"{name} has no examples"
        assert any(ex.after is not None for ex in cls.examples), f"{name} has no rewriting example"


def test_every_transform_named_in_the_table_exists():
    assert SPEC.transforms_used() <= set(registry())


@pytest.mark.parametrize("cls, example", CASES)
def test_transform_example(cls, example: Example):
    want = example.before if example.after is None else example.after
    out = convert_source(example.before, SPEC, "example.py")
    assert out.code == want
    if example.after is None:
        assert not out.changed


@pytest.mark.parametrize("cls, example", CASES)
def test_transform_output_is_stable(cls, example: Example):
    want = example.before if example.after is None else example.after
    compile(want, "example.py", "exec")
    assert convert_source(want, SPEC, "example.py").code == want


NO_OPS = {
    "numpy sum with axis": """\
import numpy as np
import torch

a = np.zeros((3, 4))
s = a.sum(axis=0)
t = a.reshape(2, 6).T
""",
    "local function named cat": """\
import torch


def cat(xs, dim=0):
    return list(xs)


y = cat([1, 2], dim=0)
""",
    "mytorch is not torch": """\
from mytorch import nn
import mytorch

layer = nn.Linear(2, 2)
x = mytorch.cat([a, b], dim=1)
""",
    "relative imports stay": """\
from . import nn
from .torch import cat

y = cat([a], dim=0)
layer = nn.Linear(1, 1)
""",
    "no torch at all": """\
# just a script
print("hello")  # keep
""",
}


@pytest.mark.parametrize("source", list(NO_OPS.values()), ids=list(NO_OPS))
def test_no_op(source):
    out = convert_source(source, SPEC, "x.py")
    assert out.code == source
    assert out.sites == []


def test_numpy_receiver_counts_nowhere():
    src = "import numpy as np\nimport torch\na = np.zeros(3)\nb = a.sum(axis=0)\nc = torch.zeros(3)\n"
    out = convert_source(src, SPEC, "x.py")
    assert [s.rule for s in out.sites] == ["torch.zeros"]


def test_untyped_receiver_is_uncertain_not_converted():
    """(Members with an ``untyped`` helper, such as repeat, decide at run time instead: see
    tests/test_migrate_untyped.py.)"""
    src = "import torch\n\ndef f(x):\n    return x.log_softmax(dim=1)\n"
    out = convert_source(src, SPEC, "x.py")
    assert [(s.kind, s.rule) for s in out.sites] == [("uncertain", "torch.Tensor.log_softmax")]
    assert "x.log_softmax(dim=1)" in out.code and "axis" not in out.code


def test_identity_member_on_unknown_receiver_is_not_reported():
    src = "import torch\n\ndef f(x):\n    return x.view(-1)\n"
    out = convert_source(src, SPEC, "x.py")
    assert out.sites == [] and out.code == src


def test_comments_and_formatting_survive_byte_for_byte():
    src = '''\
"""Docstring."""
import torch   # the framework
import torch.nn as nn


class Net(nn.Module):  # a model
    """Doc."""

    def __init__(self):
        super().__init__()
        # two layers
        self.fc = nn.Linear(4,   2)    # odd spacing stays


    def forward(self, x):
        y = self.fc(x)   # call
        return y  # done
'''
    out = convert_source(src, SPEC, "x.py").code
    assert out == '''\
"""Docstring."""
from _torch_compat import jit_construct
from mindspore import nn


class Net(nn.Cell):  # a model
    """Doc."""

    def __init__(self):
        super().__init__()
        # two layers
        self.fc = nn.Dense(4,   2)    # odd spacing stays


    @jit_construct
    def construct(self, x):
        y = self.fc(x)   # call
        return y  # done
'''


def test_clash_with_unconverted_torch_nn_uses_another_alias():
    src = "import torch.nn as nn\n\nlayer = nn.Linear(2, 2)\nrnn = nn.LocalResponseNorm(2)\n"
    out = convert_source(src, SPEC, "x.py").code
    assert out == (
        "import torch.nn as nn\n"
        "from mindspore import nn as ms_nn\n\n"
        "layer = ms_nn.Dense(2, 2)\n"
        "# MIGRATE(unsupported): torch.nn.LocalResponseNorm — no mapping in api_map.yaml\n"
        "rnn = nn.LocalResponseNorm(2)\n"
    )


def test_clash_with_a_local_variable_named_ops():
    src = "import torch\n\ndef f(ops, a, b):\n    return torch.cat([a, b], dim=0), ops\n"
    out = convert_source(src, SPEC, "x.py").code
    assert "from mindspore import ops as ms_ops" in out
    assert "ms_ops.cat([a, b], axis=0), ops" in out


def test_existing_mindspore_alias_is_reused():
    src = "import mindspore as ms\nimport torch\n\nx = torch.zeros(2, dtype=torch.float32)\n"
    out = convert_source(src, SPEC, "x.py").code
    assert out == "import mindspore as ms\nfrom mindspore import ops\n\nx = ops.zeros((2,), dtype=ms.float32)\n"


def test_markers_are_not_duplicated_on_rerun():
    src = "import torch\n\ndef f(x):\n    return x.log_softmax(dim=1) + torch.erfinv(x)\n"
    once = convert_source(src, SPEC, "x.py").code
    assert once.count("# MIGRATE(") == 2
    assert convert_source(once, SPEC, "x.py").code == once


def test_helper_import_is_relative_inside_a_package():
    src = "import torch\nopt = torch.optim.Adam(params)\n"
    assert "from ._torch_compat import Adam" in convert_source(src, SPEC, "pkg/a.py", helper_level=1).code
    assert "from .._torch_compat import Adam" in convert_source(src, SPEC, "pkg/sub/a.py", helper_level=2).code
    out = convert_source(src, SPEC, "a.py", helper_level=0)
    assert "from _torch_compat import Adam" in out.code and out.helpers == {"Adam"}


def test_removed_import_keeps_its_comment():
    src = "# framework\nimport torch\n\nx = torch.zeros(2)\n"
    assert convert_source(src, SPEC, "x.py").code == "# framework\nfrom mindspore import ops\n\nx = ops.zeros((2,))\n"


def test_plugin_interface_insert_import_helper_and_report():
    """A transform can add statements around the current one, emit names with
    their imports, request a helper, and report sites — without touching the engine."""
    import libcst as cst

    from migrate.transforms import _REGISTRY, register

    @register
    class Announce(Transform):
        name = "test_announce"

        def leave_Return(self, original, updated):
            ctx = self.ctx
            seed = cst.Call(ctx.name_for("mindspore.set_seed"), [cst.Arg(cst.Integer("0"))])
            ctx.insert_before([cst.SimpleStatementLine([cst.Expr(seed)])])
            ctx.insert_after([cst.SimpleStatementLine([cst.Expr(cst.Call(ctx.helper("zero_grad"), [cst.Arg(cst.Name("m"))]))])])
            ctx.converted(original, "test.announce", "demo")
            ctx.uncertain(original, "test.maybe", "demo reason")
            return updated

    try:
        out = convert_source("import torch\n\ndef f(m):\n    return m\n", SPEC, "pkg/x.py", helper_level=1)
    finally:
        _REGISTRY.pop("test_announce", None)
    assert out.code == (
        "import mindspore\nfrom ._torch_compat import zero_grad\n\n"
        "def f(m):\n"
        "    mindspore.set_seed(0)\n"
        "    # MIGRATE(uncertain): test.maybe — demo reason\n"
        "    return m\n"
        "    zero_grad(m)\n"
    )
    assert out.helpers == {"zero_grad"}
    assert [(s.kind, s.rule, s.line) for s in out.sites] == [("converted", "test.announce", 4), ("uncertain", "test.maybe", 4)]


def test_converted_save_and_load_run_on_mindspore(tmp_path, monkeypatch):
    """torch.save / load_state_dict(torch.load) round-trip a checkpoint named *.pt after conversion."""
    import numpy as np
    from pathlib import Path

    src = '''import torch
import torch.nn as nn

def roundtrip(path):
    net = nn.Linear(3, 2)
    torch.save(net.state_dict(), path)
    other = nn.Linear(3, 2)
    other.load_state_dict(torch.load(path))
    return net, other
'''
    out = convert_source(src, SPEC, "rt.py")
    helper_dir = Path(__file__).resolve().parents[1] / "migrate" / "helpers"
    monkeypatch.syspath_prepend(str(helper_dir))
    namespace = {}
    exec(compile(out.code, "rt.py", "exec"), namespace)
    net, other = namespace["roundtrip"](str(tmp_path / "net.pt"))
    assert (tmp_path / "net.pt").exists() and not (tmp_path / "net.pt.ckpt").exists()
    for name, p in net.parameters_dict().items():
        np.testing.assert_array_equal(p.asnumpy(), other.parameters_dict()[name].asnumpy())


def test_random_initialisers_on_data_draw_torch_distributions(tmp_path, monkeypatch):
    """`p.data.normal_(mean, std)` / `p.data.uniform_(a, b)` (the usual weight init) become
    assign_data with the same distribution (another random stream), compound arguments kept
    grouped, the Parameter's dtype kept; on a named tensor or an item of one normal_ is written in
    place too, on a view (which the update would have to reach through) it stays unsupported."""
    mindspore = pytest.importorskip("mindspore")
    import numpy as np

    from migrate import helpers

    code = """\
import torch


def init(p: torch.Tensor, q: torch.Tensor, lo: float, hi: float):
    p.data.normal_(1.5, 0.25)
    q.data.uniform_(lo + 1, hi * 2)


def plain(x: torch.Tensor):
    x.normal_()
    x[0].normal_()
    return x.view(-1).normal_()
"""
    out = convert_source(code, SPEC, "init_ms.py")
    assert "(lo + 1) + ((hi * 2) - (lo + 1)) * ops.rand_like(q)" in out.code, out.code
    assert "assign_data(x, 0 + 1 * ops.randn_like(x))" in out.code, out.code
    assert "assign_data(x[0], 0 + 1 * ops.randn_like(x[0]))" in out.code, out.code
    assert [s.rule for s in out.sites if s.kind == "unsupported"] == ["torch.Tensor.normal_"]
    (tmp_path / "init_ms.py").write_text(out.code)
    (tmp_path / "_torch_compat.py").write_text(helpers.source("_torch_compat"))
    monkeypatch.syspath_prepend(str(tmp_path))
    import init_ms

    mindspore.set_seed(0)
    p = mindspore.Parameter(mindspore.Tensor(np.zeros(200_000, np.float64)), name="p")
    q = mindspore.Parameter(mindspore.Tensor(np.zeros(200_000, np.float32)), name="q")
    init_ms.init(p, q, -2.0, 1.5)  # q ~ U(-1, 3)
    drawn_p, drawn_q = p.asnumpy(), q.asnumpy()
    assert drawn_p.dtype == np.float64 and drawn_q.dtype == np.float32
    assert abs(drawn_p.mean() - 1.5) < 0.01 and abs(drawn_p.std() - 0.25) < 0.01
    assert drawn_q.min() >= -1.0 and drawn_q.max() < 3.0
    assert abs(drawn_q.mean() - 1.0) < 0.02 and abs(drawn_q.std() - 4 / np.sqrt(12)) < 0.02


@pytest.mark.parametrize("check, want", [
    ("isinstance(m, nn.Linear)", "isinstance(m, nn.Dense)"),
    ("isinstance(m, (nn.Linear, nn.Embedding))", "isinstance(m, (nn.Dense, nn.Embedding))"),
    ("issubclass(type(m), nn.Linear)", "issubclass(type(m), nn.Dense)"),
])
def test_classes_checked_with_isinstance_are_renamed(check, want):
    """A class in isinstance()/issubclass() is a type test: the MindSpore class replaces it
    (its constructor's argument mapping does not matter there), alone or in a tuple."""
    out = convert_source(f"import torch.nn as nn\n\n\ndef f(m):\n    return {check}\n", SPEC, "x.py")
    assert want in out.code, out.code
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.sites


def test_a_name_bound_to_classes_and_only_type_tested_holds_types():
    """``whitelist = (nn.Linear,)`` used only as isinstance's class argument (minGPT's weight-decay
    groups) is a tuple of types; bound twice, or used otherwise (called), it is not."""
    src = ("import torch.nn as nn\n\n\ndef f(m):\n    whitelist = (nn.Linear,)\n    blacklist = [nn.LayerNorm, nn.Embedding]\n"
           "    return isinstance(m, whitelist), issubclass(type(m), tuple(blacklist)) if False else isinstance(m, blacklist)\n")
    out = convert_source(src, SPEC, "x.py")
    # whitelist converts; blacklist is passed to tuple() too, so its classes stay values: classes
    # taking torch's arguments (torch_signature), which isinstance() still tests as the MindSpore class
    assert re.search(r"whitelist = \((ms_)?nn\.Dense,\)", out.code), out.code
    assert re.search(r"blacklist = \[torch_signature\(\s*(ms_)?nn\.LayerNorm,.*torch_signature\(\s*Embedding,.*"
                     r"without=\{\"padding_idx\": nn\.Embedding\}", out.code, re.S), out.code
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.sites
    only = src.replace("issubclass(type(m), tuple(blacklist)) if False else ", "")
    out = convert_source(only, SPEC, "x.py")
    assert "blacklist = [nn.LayerNorm, nn.Embedding]" in out.code and "torch" not in out.code, out.code
    assert not [s for s in out.sites if s.kind not in ("converted", "graph", "pynative")], out.sites
    called = ("import torch.nn as nn\n\n\ndef f(m):\n    kinds = (nn.Linear,)\n    layer = kinds[0](3, 4)\n"
              "    return isinstance(m, kinds), layer\n")
    rebound = ("import torch.nn as nn\n\n\ndef f(m, wide):\n    kinds = (nn.Linear,)\n    if wide:\n"
               "        kinds = (nn.Linear, nn.Embedding)\n    return isinstance(m, kinds)\n")
    for code in (called, rebound):  # the classes stay values: torch_signature classes, not the bare nn.Dense
        out = convert_source(code, SPEC, "x.py")
        assert not re.search(r"\(nn\.Dense,\)", out.code) and re.search(r"torch_signature\(\s*nn\.Dense,", out.code), out.code


def test_torch_backend_switches_are_removed_other_module_state_is_not():
    src = ("import torch\n\ntorch.backends.cudnn.deterministic = True\ntorch.backends.cudnn.benchmark = False\n"
           "torch.nn.functional.relu = None\nx = torch.zeros(2)\n")
    out = convert_source(src, SPEC, "x.py")
    assert "backends" not in out.code, out.code
    kinds = sorted((s.rule, s.kind) for s in out.sites)
    assert ("torch.backends.cudnn.deterministic", "converted") in kinds
    assert ("torch.backends.cudnn.benchmark", "converted") in kinds
    assert ("torch.nn.functional.relu", "unsupported") in kinds


def test_class_level_function_converts_on_the_class_not_on_an_instance():
    src = ("import torch.nn as nn\n\n\ndef f(w, e: nn.Embedding):\n"
           "    return nn.Embedding.from_pretrained(w, freeze=False), e.from_pretrained(w)\n")
    out = convert_source(src, SPEC, "x.py")
    assert "embedding_from_pretrained(w, freeze=False)" in out.code, out.code
    kinds = [(s.rule, s.kind) for s in out.sites if s.rule == "torch.nn.Embedding.from_pretrained"]
    assert kinds == [("torch.nn.Embedding.from_pretrained", "converted"),
                     ("torch.nn.Embedding.from_pretrained", "unsupported")], out.sites


def test_single_device_wrappers_become_the_module_and_its_call(compat, tmp_path, monkeypatch):
    """minGPT's ``torch.nn.DataParallel(self.model)`` under ``torch.cuda.is_available()`` and
    DCGAN's ``nn.parallel.data_parallel(self.main, input, range(self.ngpu))``: one MindSpore
    process computes on its one device, so the module and the module's call; the converted
    forward gives torch's output."""
    import importlib

    import numpy as np
    import torch

    mindspore = pytest.importorskip("mindspore")
    from migrate.weights import name_map, to_mindspore

    src = (
        "import torch\nimport torch.nn as nn\n\n\nclass G(nn.Module):\n    def __init__(self, ngpu):\n"
        "        super().__init__()\n        self.ngpu = ngpu\n        self.main = nn.Sequential(nn.Linear(3, 4), nn.Tanh())\n\n"
        "    def forward(self, input):\n        if self.ngpu > 1:\n"
        "            return nn.parallel.data_parallel(self.main, input, range(self.ngpu))\n        return self.main(input)\n\n\n"
        "def build(ngpu):\n    model = G(ngpu)\n    if torch.cuda.device_count() > 1 or ngpu > 1:\n"
        "        model = torch.nn.DataParallel(model)\n    return model\n"
    )
    out = convert_source(src, SPEC, "wrappers.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    # `model = torch.nn.DataParallel(model)` became `model = model`, dropped as a no-op
    assert "self.main(input)" in out.code and "DataParallel" not in out.code and "0 > 1" in out.code, out.code
    (tmp_path / "wrappers_ms.py").write_text(out.code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ms_mod = importlib.import_module("wrappers_ms")
    t_mod: dict = {}
    exec(compile(src, "<torch>", "exec"), t_mod)
    torch.manual_seed(0)
    t_model, ms_model = t_mod["G"](1), ms_mod.build(2)  # torch's data_parallel needs CUDA: its plain branch
    state, _ = to_mindspore(t_model.state_dict(), name_map(t_model))
    params = ms_model.parameters_dict()
    for key, array in state.items():
        params[key].set_data(mindspore.Tensor(array.copy()))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    want = t_model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ms_model(mindspore.Tensor(x)).asnumpy(), want, rtol=1e-5, atol=1e-6)


def test_set_grad_enabled_as_a_statement_is_removed_only_where_it_changes_nothing():
    """The global switch: removed outside differentiated code, or where it turns gradients on;
    turning them off inside a function that calls backward(), or using its value, is reported."""
    off_in_training = ("import torch\n\n\ndef train(model, opt, x):\n    torch.set_grad_enabled(False)\n"
                       "    loss = model(x).sum()\n    loss.backward()\n")
    kept = convert_source(off_in_training, SPEC, "x.py")
    assert "torch.set_grad_enabled(False)" in kept.code
    assert ("torch.set_grad_enabled", "unsupported") in [(s.rule, s.kind) for s in kept.sites]
    on_in_training = off_in_training.replace("set_grad_enabled(False)", "set_grad_enabled(True)")
    assert "set_grad_enabled" not in convert_source(on_in_training, SPEC, "x.py").code
    used = convert_source("import torch\n\nprevious = torch.set_grad_enabled(False)\n", SPEC, "x.py")
    assert [(s.rule, s.kind) for s in used.sites] == [("torch.set_grad_enabled", "unsupported")]
