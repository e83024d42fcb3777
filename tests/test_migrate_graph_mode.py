"""graph_mode: which constructs get @jit_construct (mindspore.jit, per instance while instances are
reused), the report of it, --no-jit, and that a
jitted Cell sees the parameter writes the converted code makes."""

from __future__ import annotations

import importlib

import json
import sys
import warnings

import numpy as np
import pytest

from migrate import helpers
from migrate.__main__ import main
from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()
HEAD = """\
import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x)
"""


def decisions(code: str, jit: bool = True) -> dict:
    out = convert_source(code, SPEC, "m.py", jit=jit)
    return {s.reason.split(".construct")[0]: (s.kind, s.reason) for s in out.sites if s.kind in ("graph", "pynative")}


def test_buffer_written_in_place_is_a_graph_input_but_a_plain_tensor_is_frozen():
    code = """\
import torch
import torch.nn as nn


class Buffered(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.ones(3))

    def load(self, v):
        self.scale.data.copy_(v)

    def forward(self, x):
        return x * self.scale


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.ones(3)

    def load(self, v):
        self.scale.copy_(v)

    def forward(self, x):
        return x * self.scale
"""
    got = decisions(code)
    assert got["Buffered"][0] == "graph"
    assert got["Plain"][0] == "pynative" and "self.scale" in got["Plain"][1]


@pytest.mark.parametrize("body, why", [
    ("return x.sum().item()", ".item()"),
    ("x.add_(1)\n        return x", "in-place .add_()"),
    ("self.last = x\n        return x", "assigns the attribute self.last"),
    ("x[0] = 1\n        return x", "assigns an item of x"),
    ("return np.tanh(x)", "np.tanh"),
    ("return [v for v in (x, x) if v is not None][0]", None),
    ("with torch.no_grad():\n            return x", None),  # dropped, its value stop_gradient-ed
    ("with open('log') as f:\n            return x", "with"),
    ("return helper(x)", "helper"),
    ("return x / math.sqrt(x.shape[-1]) * math.pi", None),  # math on numbers compiles
    ("return x * random.random()", "random.random"),
    ("return {'logits': x, 'hidden': x * 2}", "returns a dict"),  # MindSpore 2.10 cannot differentiate it
    ("return {k: x for k in 'ab'}", "returns a dict"),
    ("out = {'logits': x}\n        return out", "returns a dict"),
    ("return x, {'hidden': x}", None),  # a dict inside a tuple differentiates (measured)
])
def test_forward_bodies(body, why):
    code = f"""\
import math
import random
import numpy as np
import torch
import torch.nn as nn
from .util import helper


class Net(nn.Module):
    def forward(self, x):
        {body}
"""
    kind, reason = decisions(code)["Net"]
    if why is None:
        assert kind == "graph", reason
    else:
        assert kind == "pynative" and why in reason, reason


def test_submodule_of_another_file_is_not_trusted_but_of_torch_is(tmp_path):
    code = HEAD + """
from .blocks import Block


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.block(x))
"""
    got = decisions(code)
    assert got["Net"][0] == "pynative" and "self.block" in got["Net"][1]
    assert got["Head"][0] == "graph"


def test_no_jit_adds_no_decorator_and_reports_nothing():
    code = HEAD
    assert "@jit_construct" in convert_source(code, SPEC, "m.py").code
    out = convert_source(code, SPEC, "m.py", jit=False)
    assert "jit" not in out.code
    assert not [s for s in out.sites if s.kind in ("graph", "pynative")]


def test_cli_reports_graph_mode_and_no_jit(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "net.py").write_text(HEAD + """

class Printer(nn.Module):
    def forward(self, x):
        print(x)
        return x
""")
    assert main([str(src), str(tmp_path / "a"), "--report", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    assert "graph mode: 1 construct(s) or training step(s) compiled with mindspore.jit, 1 left in PyNative" in text
    assert "Printer.construct stays in PyNative: calls print()" in text
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["graph"] == {"graph": 1, "pynative": 1}
    assert report["summary"]["conversion_rate"] == 1.0  # graph decisions are not torch sites
    assert "@jit_construct" in (tmp_path / "a" / "net.py").read_text()
    assert main([str(src), str(tmp_path / "b"), "--no-jit", "--report", str(tmp_path / "r.md")]) == 0
    assert "jit" not in (tmp_path / "b" / "net.py").read_text()
    assert "graph mode" not in capsys.readouterr().out


def test_jitted_cell_sees_in_place_parameter_writes(tmp_path):
    """MindSpore 2.10: a jitted construct keeps reading a Parameter's old storage after
    set_data, so converted `.data` writes must go through assign_data (in place)."""
    mindspore = pytest.importorskip("mindspore")
    code = """\
import torch
import torch.nn as nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))

    def forward(self, x):
        return x * self.w


def load(model: Scale, value: torch.Tensor):
    with torch.no_grad():
        model.w.data.copy_(value)


def rebind(model: Scale, value: torch.Tensor):
    model.w.data = value
"""
    out = convert_source(code, SPEC, "scale.py")
    assert "@jit_construct" in out.code and "assign_data" in out.code
    (tmp_path / "scale_ms.py").write_text(out.code)
    (tmp_path / "_torch_compat.py").write_text(helpers.source("_torch_compat"))
    sys.path.insert(0, str(tmp_path))
    try:
        import scale_ms
    finally:
        sys.path.remove(str(tmp_path))
    model = scale_ms.Scale()
    x = mindspore.Tensor(np.ones(2, np.float32))
    np.testing.assert_array_equal(model(x).asnumpy(), [1, 1])  # compiles
    scale_ms.load(model, mindspore.Tensor(np.array([2.0, 3.0], np.float64)))  # cast as copy_ does
    np.testing.assert_array_equal(model(x).asnumpy(), [2, 3])
    scale_ms.rebind(model, mindspore.Tensor(np.array([4.0, 5.0], np.float32)))
    np.testing.assert_array_equal(model(x).asnumpy(), [4, 5])
    assert model.w.dtype == mindspore.float32


def test_subclass_calling_an_unsafe_base_forward_stays_pynative():
    code = """\
import torch.nn as nn


class Base(nn.Module):
    def forward(self, x):
        print(x)
        return x


class Child(Base):
    def forward(self, x):
        return super().forward(x) * 2
"""
    got = decisions(code)
    assert got["Base"][0] == "pynative"
    assert got["Child"][0] == "pynative" and "Base's forward calls print()" in got["Child"][1]


def _both(code: str, name: str, tmp_path, monkeypatch):
    """``code`` converted (written to tmp_path as ``name``.py and imported) and the torch
    original's namespace, to run side by side."""
    (tmp_path / f"{name}.py").write_text(convert_source(code, SPEC, f"{name}.py").code)
    monkeypatch.syspath_prepend(str(tmp_path))
    converted = importlib.import_module(name)
    namespace: dict = {}
    exec(compile(code, f"{name}_torch", "exec"), namespace)
    return converted, namespace


GENERATOR_FORWARD = """\
import torch
import torch.nn as nn


class Squares(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        outs = tuple(self.act(x * (i + 1)) for i in range(3))
        return sum(o * o for o in outs)
"""


def test_generator_handed_to_a_builtin_is_compiled_as_a_list(tmp_path, monkeypatch):
    """sum(... for ...) / tuple(... for ...) no longer keep a construct in PyNative: they
    become lists, then loops, and the compiled construct gives torch's values."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    out = convert_source(GENERATOR_FORWARD, SPEC, "squares.py")
    kind, reason = decisions(GENERATOR_FORWARD)["Squares"]
    assert kind == "graph" and "2 generator expression(s) read as lists" in reason, reason
    assert "@jit_construct" in out.code and " for " not in out.code.split("def construct")[1].split("return")[-1]
    squares_ms, namespace = _both(GENERATOR_FORWARD, "squares_ms", tmp_path, monkeypatch)
    x = np.array([1.0, -2.0, 0.5], np.float32)
    expected = namespace["Squares"]()(torch.from_numpy(x)).detach().numpy()
    got = squares_ms.Squares()(mindspore.Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("consumer", ["any", "total"])
def test_other_generators_are_compiled_as_they_are(consumer, tmp_path, monkeypatch):
    """A generator that is not handed whole to a consuming builtin (any() stops early; total()
    is the module's own function) stays a generator, and the construct is still compiled:
    MindSpore 2.10 compiles generator expressions."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    code = GENERATOR_FORWARD.replace("return sum(o * o for o in outs)", f"return x * {consumer}(o.sum() > 0 for o in outs)")
    if consumer == "total":
        code = code.replace("class Squares", "def total(values):\n    return len(tuple(values))\n\n\nclass Squares")
    kind, reason = decisions(code)["Squares"]
    assert kind == "graph" and "1 generator expression(s) read as lists" in reason, reason  # tuple(...) only
    out = convert_source(code, SPEC, "gen.py")
    assert f"{consumer}(o.sum() > 0 for o in outs)" in out.code
    converted, namespace = _both(code, f"gen_{consumer}", tmp_path, monkeypatch)
    x = np.array([1.0, -2.0, 0.5], np.float32)
    expected = namespace["Squares"]()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(converted.Squares()(mindspore.Tensor(x)).asnumpy(), expected)


def test_shadowed_builtin_keeps_its_generator():
    """sum bound in the function is not Python's sum: its generator is not read as a list."""
    code = GENERATOR_FORWARD.replace("        return sum(", "        sum = max\n        return sum(")
    kind, reason = decisions(code)["Squares"]
    assert kind == "graph" and "1 generator expression(s) read as lists" in reason, reason  # tuple(...) only
    assert "sum(o * o for o in outs)" in convert_source(code, SPEC, "m.py").code


def test_dict_comprehension_is_compiled_and_a_set_comprehension_is_not(tmp_path, monkeypatch):
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    code = GENERATOR_FORWARD.replace(
        "return sum(o * o for o in outs)",
        "heads = {f'h{i}': o * (i + 1) for i, o in enumerate(outs)}\n        return heads['h2'] - heads['h0']")
    kind, reason = decisions(code)["Squares"]
    assert kind == "graph", reason
    dict_ms, namespace = _both(code, "dict_ms", tmp_path, monkeypatch)
    x = np.array([1.0, -2.0, 0.5], np.float32)
    np.testing.assert_allclose(dict_ms.Squares()(mindspore.Tensor(x)).asnumpy(),
                               namespace["Squares"]()(torch.from_numpy(x)).numpy())
    set_code = GENERATOR_FORWARD.replace("return sum(o * o for o in outs)", "return x * len({o.shape for o in outs})")
    kind, reason = decisions(set_code)["Squares"]
    assert kind == "pynative" and "set comprehension" in reason, reason


CHECKED_FORWARD = """\
import torch
import torch.nn as nn


class Checked(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        assert x.dim() == 2, "a matrix"
        if x.shape[1] != 3:
            raise ValueError(f"3 columns expected, got {x.shape[1]}")
        return self.act(x) * 2
"""


def test_assert_and_standard_raise_are_compiled_and_still_fire(compat, tmp_path, monkeypatch):
    """assert and raise ValueError(...) no longer keep a construct in PyNative: the compiled
    construct gives torch's values and raises the same exception types on bad input."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    kind, reason = decisions(CHECKED_FORWARD)["Checked"]
    assert kind == "graph", reason
    checked_ms, namespace = _both(CHECKED_FORWARD, "checked_ms", tmp_path, monkeypatch)
    ms_model, torch_model = checked_ms.Checked(), namespace["Checked"]()
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    np.testing.assert_allclose(ms_model(mindspore.Tensor(x)).asnumpy(), torch_model(torch.from_numpy(x)).numpy())
    for bad, error in ((np.ones((2, 4), np.float32), ValueError), (np.ones(3, np.float32), AssertionError)):
        with pytest.raises(error):
            torch_model(torch.from_numpy(bad))
        with pytest.raises(error):
            ms_model(mindspore.Tensor(bad))


KMAX = """\
import torch
import torch.nn as nn


class KMaxPooling(nn.Module):
    \"\"\"DeepCTR-Torch's KMaxPooling: its raise messages span two lines.\"\"\"

    def __init__(self, k, axis):
        super().__init__()
        self.k = k
        self.axis = axis

    def forward(self, inputs):
        if self.axis < 0 or self.axis >= len(inputs.shape):
            raise ValueError("axis must be 0~%d,now is %d" %
                             (len(inputs.shape) - 1, self.axis))
        if self.k < 1 or self.k > inputs.shape[self.axis]:
            raise ValueError("k must be in 1 ~ %d,now k is %d" %
                             (inputs.shape[self.axis], self.k))
        return torch.topk(inputs, k=self.k, dim=self.axis, sorted=True)[0]
"""


def test_a_raise_spanning_lines_is_written_on_one_line_and_compiles(compat, tmp_path, monkeypatch):
    """MindSpore 2.10's graph compiler fails to parse the source of a raise that spans lines
    ("GetPythonScriptIdAttrs failed"): the compiled construct gets it on one line, and computes
    and raises as torch's."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    out = convert_source(KMAX, SPEC, "kmax.py")
    assert "@jit_construct" in out.code
    assert "raise ValueError('axis must be 0~%d,now is %d' % (len(inputs.shape) - 1, self.axis))" in out.code
    [graph] = [s for s in out.sites if s.kind == "graph"]
    assert "2 multi-line raise statement(s) written on one line" in graph.reason
    kmax_ms, namespace = _both(KMAX, "kmax_ms", tmp_path, monkeypatch)
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(kmax_ms.KMaxPooling(2, 2)(mindspore.Tensor(x)).asnumpy(),
                               namespace["KMaxPooling"](2, 2)(torch.from_numpy(x)).numpy())
    for args in ((9, 2), (2, 5)):
        with pytest.raises(ValueError):
            namespace["KMaxPooling"](*args)(torch.from_numpy(x))
        with pytest.raises(ValueError):
            kmax_ms.KMaxPooling(*args)(mindspore.Tensor(x))


@pytest.mark.parametrize("statement,why", [
    ("raise MyError('no')", "raises MyError"),  # MindSpore 2.10: "Unsupported exception type"
    ("raise ValueError('no') from None", "raises ValueError"),
])
def test_other_raises_keep_pynative(statement, why):
    code = CHECKED_FORWARD.replace('raise ValueError(f"3 columns expected, got {x.shape[1]}")', statement)
    code = code.replace("class Checked", "class MyError(ValueError):\n    pass\n\n\nclass Checked")
    kind, reason = decisions(code)["Checked"]
    assert kind == "pynative" and why in reason, reason


NO_GRAD_FORWARD = """\
import torch
import torch.nn as nn


class Distill(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        with torch.no_grad():
            target = self.fc(x)
            if target.sum() > 0:
                target = target * 2
        return (self.fc(x) * target).sum()
"""


def test_no_grad_in_forward_stops_gradients_as_in_torch(tmp_path, monkeypatch):
    """with torch.no_grad() inside forward: the block's values are wrapped in
    ops.stop_gradient, so the migrated gradients equal torch's (without the wrap they would
    also flow through `target`); the construct is compiled."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    out = convert_source(NO_GRAD_FORWARD, SPEC, "distill_ms.py")
    assert out.code.count("ops.stop_gradient(") == 2 and "with " not in out.code, out.code
    kind, reason = decisions(NO_GRAD_FORWARD)["Distill"]
    assert kind == "graph", reason
    distill_ms, namespace = _both(NO_GRAD_FORWARD, "distill_ms", tmp_path, monkeypatch)
    torch.manual_seed(0)
    t_model, m_model = namespace["Distill"](), distill_ms.Distill()
    m_model.fc.weight.set_data(mindspore.Tensor(t_model.fc.weight.detach().numpy()))
    m_model.fc.bias.set_data(mindspore.Tensor(t_model.fc.bias.detach().numpy()))
    x = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, 0.1]], np.float32)
    t_loss = t_model(torch.from_numpy(x))
    t_loss.backward()
    m_loss, m_grads = mindspore.value_and_grad(m_model, None, m_model.trainable_params())(mindspore.Tensor(x))
    np.testing.assert_allclose(m_loss.asnumpy(), t_loss.item(), rtol=1e-6)
    np.testing.assert_allclose(m_grads[0].asnumpy(), t_model.fc.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m_grads[1].asnumpy(), t_model.fc.bias.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_no_grad_outside_differentiated_code_is_only_dropped():
    code = """\
import torch


def evaluate(model, x):
    with torch.no_grad():
        y = model(x)
    return y
"""
    out = convert_source(code, SPEC, "e.py")
    assert "stop_gradient" not in out.code and "with" not in out.code


BATCHNORM_MODEL = """\
import torch.nn as nn


class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(x)
"""


def test_fresh_converted_module_trains_like_a_fresh_torch_module(tmp_path, monkeypatch):
    """A torch Module starts in training mode (BatchNorm normalises with the batch's own
    statistics); the converted Cell does too, and eval()/set_train(False) switches both."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    out = convert_source(BATCHNORM_MODEL, SPEC, "normed_ms.py")
    assert "self.set_train(True)" in out.code
    normed_ms, namespace = _both(BATCHNORM_MODEL, "normed_ms", tmp_path, monkeypatch)
    t_model, m_model = namespace["Normed"](), normed_ms.Normed()
    x = np.array([[1.0, 2.0, 3.0], [3.0, -1.0, 0.0], [0.5, 0.5, 9.0]], np.float32)
    assert t_model.training and m_model.training
    np.testing.assert_allclose(m_model(mindspore.Tensor(x)).asnumpy(),
                               t_model(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    t_model.eval()
    m_model.set_train(False)
    np.testing.assert_allclose(m_model(mindspore.Tensor(x)).asnumpy(),
                               t_model(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


CALLEE_MODEL = """\
import torch
import torch.nn as nn


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def heads(self, x):
        return [self.act(x * (i + 1)) for i in range(3)]

    def forward(self, x):
        return torch.stack(self.heads(x), dim=0).sum(dim=0)

    def names(self):
        return [f"h{i}" for i in range(3)]
"""


def test_pure_methods_the_compiled_construct_calls_get_loops_too(tmp_path, monkeypatch):
    """heads() is compiled into the construct's graph: its comprehension becomes a loop;
    names() is not called from construct and keeps its comprehension; values as torch's."""
    mindspore = pytest.importorskip("mindspore")
    torch = pytest.importorskip("torch")
    code = convert_source(CALLEE_MODEL, SPEC, "heads_ms.py").code
    heads_src = code.split("def heads")[1].split("def ")[0]
    assert "for i in range(3):" in heads_src and ".append(" in heads_src, code
    assert 'return [f"h{i}" for i in range(3)]' in code
    heads_ms, namespace = _both(CALLEE_MODEL, "heads_ms", tmp_path, monkeypatch)
    x = np.array([1.0, -2.0, 0.5], np.float32)
    np.testing.assert_allclose(heads_ms.Heads()(mindspore.Tensor(x)).asnumpy(),
                               namespace["Heads"]()(torch.from_numpy(x)).numpy(), rtol=1e-6)


def test_jit_construct_compiles_reused_instances_and_not_ones_made_for_every_call(compat):
    """A class whose instances are made anew for every call (the MAMO authors' attention module,
    built in every memory read) runs them in PyNative after its first ones, instead of
    compiling each; an instance used often compiles; results equal mindspore.jit's, also as a
    sub-cell inside a parent's compiled construct."""
    mindspore = pytest.importorskip("mindspore")
    from mindspore import nn, ops

    class Att(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(3, 3)

        @compat.jit_construct
        def construct(self, x):
            return ops.softmax(self.fc(x), axis=-1)

    class Parent(nn.Cell):
        def __init__(self):
            super().__init__()
            self.att = Att()

        @mindspore.jit
        def construct(self, x):
            return self.att(x) * 2

    x = mindspore.Tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    use = compat._ConstructUse
    seen = []
    original = use.compiles

    def spy(self, cell):
        decision = original(self, cell)
        seen.append(decision)
        return decision

    use.compiles = spy
    try:
        per_call = [Att() for _ in range(6)]
        for att in per_call:  # each made, called once, dropped
            want = ops.softmax(att.fc(x), axis=-1).asnumpy()
            np.testing.assert_allclose(att(x).asnumpy(), want, rtol=1e-6)
        assert seen == [True] * compat.FIRST_COMPILED_INSTANCES + [False] * (6 - compat.FIRST_COMPILED_INSTANCES)
        seen.clear()
        kept = per_call[-1]
        for _ in range(compat.CALLS_PER_COMPILE):
            kept(x)
        assert seen[-1] and not seen[0]  # promoted once it has been used often
        parent = Parent()
        np.testing.assert_allclose(parent(x).asnumpy(), 2 * parent.att(x).asnumpy(), rtol=1e-6)
    finally:
        use.compiles = original

    class Clash(nn.Cell):  # a construct parameter named like a Parameter (MAMO's LocalLearner.item_multi)
        def __init__(self):
            super().__init__()
            self.bias = mindspore.Parameter(mindspore.Tensor(np.ones(3, np.float32)), name="bias")

        @compat.jit_construct
        def construct(self, x, bias):
            return x * self.bias + bias

    clash = Clash()
    np.testing.assert_allclose(clash(x, x).asnumpy(), (x + x).asnumpy(), rtol=1e-6)

    def clash_loss(a):
        return clash(a, a).sum()

    value, _ = mindspore.jit(mindspore.value_and_grad(clash_loss, None, clash.trainable_params()))(x)
    np.testing.assert_allclose(value.asnumpy(), (x + x).sum().asnumpy(), rtol=1e-6)


AUTOCAST_FORWARD = """\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    @torch.cuda.amp.autocast()
    def head(self, h):
        return torch.tanh(h)

    def forward(self, x):
        with torch.autocast("cpu", enabled=False):
            h = self.fc(x)
        return self.head(h.float())


def build():
    return Net()
"""


def test_autocast_blocks_are_dropped_and_the_forward_compiles_as_torch_computes(compat, tmp_path, monkeypatch):
    """Mixed precision: `with autocast(...)` and the decorator go, their bodies stay; the
    construct is compiled (a `with` would keep it in PyNative) and computes torch's float32."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(AUTOCAST_FORWARD, SPEC, "amp_net.py")
    assert "autocast" not in out.code and "@jit_construct" in out.code, out.code
    assert [s.kind for s in out.sites if "autocast" in s.rule] == ["converted", "converted"]
    ms_mod = load_converted(out.code, "amp_net_ms", tmp_path, monkeypatch)
    _, t_model, ms_model = twin_models(AUTOCAST_FORWARD, ms_mod)
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ms_model(mindspore.Tensor(x)).asnumpy(), t_model(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


UNDEFINED = """\
import torch
import torch.nn as nn


class Text(nn.Module):
    def __init__(self, static):
        super().__init__()
        self.static = static
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        if self.static:
            x = Variable(x)  # never imported: torch never takes this branch here
        return self.fc(x)
"""


def test_a_name_nothing_defines_keeps_the_construct_in_pynative(compat, tmp_path, monkeypatch):
    """cnn-text-classification-pytorch's CNN_Text: ``Variable`` is never imported, on a branch torch
    never takes.  Compiled, MindSpore resolves every name and fails (NameError); in PyNative the
    model runs as torch's.  A file with a star import is not judged (the name may come from it)."""
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    from test_migrate_numeric import both_versions

    found = decisions(UNDEFINED)
    assert found["Text"] == ("pynative", "Text.construct stays in PyNative: calls Variable, but nothing in the file "
                             "defines Variable (graph mode resolves every name when it compiles, on a branch never "
                             "taken too)")
    assert decisions("from helpers_of_mine import *\n" + UNDEFINED)["Text"][0] == "graph"
    assert decisions(UNDEFINED.replace("import torch\n", "import torch\nfrom torch.autograd import Variable\n"))[
        "Text"][0] == "graph"
    _, ms_mod, t_mod = both_versions(UNDEFINED, "graph_undefined", tmp_path, monkeypatch, complete=False)
    t_net, ms_net = t_mod["Text"](False), ms_mod.Text(False)
    ms_net.fc.weight.set_data(mindspore.Tensor(t_net.fc.weight.detach().numpy()))
    ms_net.fc.bias.set_data(mindspore.Tensor(t_net.fc.bias.detach().numpy()))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(ms_net(mindspore.Tensor(x)).asnumpy(), t_net(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_sub_module_named_like_a_host_method_compiles():
    """``self.item(i)`` calls a sub-module named ``item`` (a recommender's item embedding), not a
    tensor's ``.item()``; a tensor's ``.item()`` in the same forward still keeps it in PyNative."""
    code = """\
import torch
import torch.nn as nn


class MF(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(5, 2)
        self.item = nn.Embedding(6, 2)

    def forward(self, u, i):
        return (self.user(u) * self.item(i)).sum(dim=1)


class Logged(MF):
    def forward(self, u, i):
        out = (self.user(u) * self.item(i)).sum(dim=1)
        return out * out.sum().item()
"""
    found = decisions(code)
    assert found["MF"][0] == "graph", found["MF"]
    assert found["Logged"][0] == "pynative" and ".item()" in found["Logged"][1], found["Logged"]


def test_jit_construct_follows_the_attributes_its_graph_reads(compat):
    """MindSpore compiles a construct with its attribute values of the moment and keeps them
    (a temperature changed between calls did not change the output: measured); jit_construct
    keys the graphs on the values, compiles one per value the loop sets (and finds it again),
    not for attributes nothing reads, and runs an instance whose values never settle in PyNative."""
    mindspore = pytest.importorskip("mindspore")
    from mindspore import nn, ops

    class Scaled(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(3, 2)
            self.tau = 1.0
            self.flip = False
            self.steps_done_by_the_loop = 0  # written by the loop, read nowhere

        @compat.jit_construct
        def construct(self, x):
            y = self.fc(x) / self.tau
            if self.flip:
                y = -y
            return y

    x = mindspore.Tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    net = Scaled()
    use = Scaled.construct._construct_use
    for tau, flip in ((1.0, False), (2.0, False), (2.0, True), (0.5, False), (1.0, False)):
        net.tau, net.flip = tau, flip
        net.steps_done_by_the_loop += 1
        want = net.fc(x).asnumpy() / tau * (-1 if flip else 1)
        np.testing.assert_allclose(net(x).asnumpy(), want, rtol=1e-6)
    assert len(use.states[net][0]) == 4  # (1, F), (2, F), (2, T), (0.5, F): the counter compiles nothing
    net.set_train(True)  # set_train's flag is part of the state
    net(x)
    assert len(use.states[net][0]) == 5

    annealed = Scaled()
    with pytest.warns(RuntimeWarning, match=r"Scaled\.construct runs uncompiled .* its attributes tau keep changing"):
        for i in range(4 * compat.MAX_CELL_STATES):
            annealed.tau = 1.0 + 0.1 * i
            np.testing.assert_allclose(annealed(x).asnumpy(), annealed.fc(x).asnumpy() / annealed.tau, rtol=1e-6)
    assert annealed not in use.compiled


def test_jit_construct_follows_a_tensor_attribute_replaced_between_calls(compat):
    """A tensor held as a plain attribute (a graph's normalised adjacency) is a constant of the
    compiled graph: replacing it must change the output, as in torch; a tensor only another
    method reads (bookkeeping set for every batch) compiles nothing."""
    mindspore = pytest.importorskip("mindspore")
    from mindspore import nn, ops

    class Propagate(nn.Cell):
        def __init__(self, adj):
            super().__init__()
            self.fc = nn.Dense(3, 3)
            self.adj = adj
            self.batch_note = mindspore.Tensor(np.zeros(2, np.float32))

        @compat.jit_construct
        def construct(self, x):
            return ops.matmul(self._mix(), self.fc(x))

        def _mix(self):  # reached from construct: its reads count
            return self.adj * 1.0

        def describe(self):
            return self.batch_note.sum()

    x = mindspore.Tensor(np.random.default_rng(1).normal(size=(3, 3)).astype(np.float32))
    net = Propagate(mindspore.Tensor(np.eye(3, dtype=np.float32)))
    use = Propagate.construct._construct_use
    for scale in (1.0, 2.0, 0.5):
        net.adj = mindspore.Tensor(scale * np.eye(3, dtype=np.float32))
        net.batch_note = mindspore.Tensor(np.full(2, scale, np.float32))
        np.testing.assert_allclose(net(x).asnumpy(), scale * net.fc(x).asnumpy(), rtol=1e-6)
    assert len(use.states[net][0]) == 3  # one graph per adjacency; batch_note is read by describe() only


def test_a_compiled_construct_given_a_detached_tuple_under_a_pynative_gradient_keeps_the_weights_apart(compat):
    """MindSpore 2.10 mixes up the weights' gradients (the first dropped, the rest shifted by one,
    no error) when a compiled construct takes a tuple holding ``ops.stop_gradient`` results while
    a PyNative value_and_grad records (an LSTM's detached ``(h, c)``): jit_construct runs such a
    call uncompiled, and the gradients are those of the plain construct."""
    mindspore = pytest.importorskip("mindspore")
    from mindspore import nn, ops

    def construct(self, x, state):
        return self.b(self.a(x) + state[0] * state[1])

    class Cell2(nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(3, 3)
            self.b = nn.Dense(3, 2)

    Cell2.construct = compat.jit_construct(construct)

    net = Cell2()
    weights = net.trainable_params()
    x = mindspore.Tensor(np.random.default_rng(2).normal(size=(2, 3)).astype(np.float32))
    h = mindspore.Tensor(np.random.default_rng(3).normal(size=(2, 3)).astype(np.float32))

    def detached(x, h):
        return (net(x, (ops.stop_gradient(h), ops.stop_gradient(h * 2))) ** 2).sum()

    def plain(x, h):  # the construct run op by op
        return (construct(net, x, (h, h * 2)) ** 2).sum()

    _, got = mindspore.value_and_grad(detached, None, weights)(x, h)
    _, want = mindspore.value_and_grad(plain, None, weights)(x, h)
    assert [tuple(g.shape) for g in got] == [tuple(p.shape) for p in weights]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(net(x, (h, h * 2)).asnumpy(), construct(net, x, (h, h * 2)).asnumpy(),
                               rtol=1e-6)  # outside a gradient it runs compiled, as before


def test_a_construct_that_does_not_compile_runs_in_pynative_with_one_warning(compat):
    """jit_construct on a construct whose graph MindSpore cannot build (here a ``try`` in a helper
    it calls; in the wild, a helper of _torch_compat written for PyNative): the first call warns
    with the compiler's first line and every call gives PyNative's values, for every instance."""
    mindspore = pytest.importorskip("mindspore")
    from mindspore import nn

    def guarded(x):
        try:
            return x * 2.0
        except ValueError:
            return x

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(3, 2)

        @compat.jit_construct
        def construct(self, x):
            return guarded(self.fc(x))

    x = mindspore.Tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    first, second = Net(), Net()
    with pytest.warns(RuntimeWarning, match=r"Net\.construct runs uncompiled \(PyNative\) from now on: it does not "
                                            r"compile: RuntimeError: Unsupported statement 'Try'"):
        np.testing.assert_allclose(first(x).asnumpy(), first.fc(x).asnumpy() * 2.0, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning, not one per call or per instance
        np.testing.assert_allclose(second(x).asnumpy(), second.fc(x).asnumpy() * 2.0, rtol=1e-6)
        np.testing.assert_allclose(first(x).asnumpy(), first.fc(x).asnumpy() * 2.0, rtol=1e-6)
    assert Net.construct._construct_use.broken.startswith("RuntimeError: Unsupported statement 'Try'")


def test_a_constructs_own_error_is_raised_and_the_construct_stays_compiled(compat):
    """An error the code raises itself (a shape check MindSpore evaluates while compiling) comes
    from the PyNative run, as torch would raise it, with no warning; the construct stays
    compiled for the calls that pass the check."""
    mindspore = pytest.importorskip("mindspore")
    from mindspore import nn

    class Checked(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc = nn.Dense(3, 2)

        @compat.jit_construct
        def construct(self, x):
            if x.shape[1] != 3:
                raise ValueError("3 columns expected")
            return self.fc(x)

    net = Checked()
    good = mindspore.Tensor(np.ones((2, 3), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="3 columns expected"):
            net(mindspore.Tensor(np.ones((2, 4), np.float32)))
        np.testing.assert_allclose(net(good).asnumpy(), net.fc(good).asnumpy(), rtol=1e-6)
    use = Checked.construct._construct_use
    assert use.broken is None and net in use.compiled
