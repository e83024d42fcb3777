"""nn.Module subclasses become Cells: ``def forward`` -> ``def construct``.

The base class itself is renamed by api_map (torch.nn.Module ->
mindspore.nn.Cell), and ``self.forward(...)``/``super().forward(...)`` by the
``torch.nn.Module.forward`` entry; this renames the method definition in every
class of the file that (transitively) subclasses a torch.nn class; graph_mode
then decides whether that construct gets ``@mindspore.jit``.

A torch Module starts in training mode, a Cell in inference mode (where Dropout does
nothing and BatchNorm uses its moving statistics).  Where that matters — the class's
``__init__`` builds a layer that behaves differently in training (``MODE_LAYERS``) or the
class reads ``.training`` — its ``__init__`` ends with ``self.set_train(True)``, which also
sets the sub-cells built there.  Not where ``__init__`` picks a mode itself (``.eval()``,
``.train(...)``, ``set_train``, ``.training = ...``: appending would override it) or
returns early.  Code that builds such layers outside a class still has to call
``set_train()`` (the api_map notes say so).

MindSpore names a Cell's Parameters when the Cell is assigned, with the prefix it can see
then: a layer added to a child that is already an attribute (``self.mlp =
nn.Sequential()`` then ``self.mlp.add_module("fc0", ...)``, ``self.block.fc = ...``,
``self.heads["a"] = ...``, ``self.layers.append(...)``) gets ``fc0.weight`` where torch says
``mlp.fc0.weight`` (measured in 2.10), so checkpoints and weight maps miss it, and two such
layers can share a name.  An ``__init__`` that does this (and does not return early) ends
with ``self.update_parameters_name()``, which renames every Parameter by its path from
``self``; a parent that later takes this Cell as an attribute prefixes them as usual.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from migrate.codemod import code_text
from migrate.transforms import Example, Transform, register

#: torch layers whose result depends on the training mode
MODE_LAYERS = frozenset({
    "torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.nn.Dropout3d",
    "torch.nn.AlphaDropout", "torch.nn.FeatureAlphaDropout", "torch.nn.BatchNorm1d",
    "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d", "torch.nn.SyncBatchNorm", "torch.nn.RReLU",
    # layers with a dropout inside
    "torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.MultiheadAttention",
    "torch.nn.TransformerEncoderLayer", "torch.nn.TransformerDecoderLayer", "torch.nn.TransformerEncoder",
    "torch.nn.TransformerDecoder", "torch.nn.Transformer",
})


@register
class ModuleToCell(Transform):
    name = "module_to_cell"
    examples = (
        Example(
            name="import torch.nn as nn",
            before="""\
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        # comments survive
        return self.fc(x)


class Deeper(MLP):
    def forward(self, x):
        return super().forward(x) * 2
""",
            after="""\
from _torch_compat import jit_construct
from mindspore import nn


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 2)

    @jit_construct
    def construct(self, x):
        # comments survive
        return self.fc(x)


class Deeper(MLP):
    @jit_construct
    def construct(self, x):
        return super().construct(x) * 2
""",
        ),
        Example(
            name="from torch import nn; self.forward",
            before="""\
from torch import nn


class Twice(nn.Module):
    def forward(self, x):
        return x

    def twice(self, x):
        return self.forward(self.forward(x))
""",
            after="""\
from _torch_compat import jit_construct
from mindspore import nn


class Twice(nn.Cell):
    @jit_construct
    def construct(self, x):
        return x

    def twice(self, x):
        return self.construct(self.construct(x))
""",
        ),
        Example(
            name="from torch.nn import Module",
            before="""\
from torch.nn import Module


class Id(Module):
    def forward(self, x):
        return x
""",
            after="""\
from _torch_compat import jit_construct
from mindspore import nn


class Id(nn.Cell):
    @jit_construct
    def construct(self, x):
        return x
""",
        ),
        Example(
            name="a class with training-dependent layers starts in training mode, as in torch",
            before="""\
import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(x)


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(4)
        self.norm.eval()

    def forward(self, x):
        return self.norm(x)
""",
            after="""\
from _torch_compat import jit_construct
from mindspore import nn


class Head(nn.Cell):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(p=0.1)
        self.set_train(True)  # a torch Module starts in training mode

    @jit_construct
    def construct(self, x):
        return self.drop(x)


class Frozen(nn.Cell):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(4)
        self.norm.set_train(False)

    @jit_construct
    def construct(self, x):
        return self.norm(x)
""",
        ),
        Example(
            name="a layer added to an attribute after it was assigned is named by its path",
            before="""\
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.Sequential()
        for i in range(len(sizes) - 1):
            self.layers.add_module(f"fc{i}", nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        return self.layers(x)
""",
            after="""\
from _torch_compat import add_module, jit_construct
from mindspore import nn


class MLP(nn.Cell):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.SequentialCell()
        for i in range(len(sizes) - 1):
            add_module(self.layers, f"fc{i}", nn.Dense(sizes[i], sizes[i + 1]))
        self.update_parameters_name()  # Parameters named by their path, as torch names them

    @jit_construct
    def construct(self, x):
        return self.layers(x)
""",
        ),
        Example(
            name="plain class keeps forward",
            before="""\
import torch


class Stepper:
    def forward(self, x):
        return x
""",
        ),
        Example(
            name="from mytorch import nn is not torch",
            before="""\
from mytorch import nn


class Net(nn.Module):
    def forward(self, x):
        return x
""",
        ),
    )

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        if original.name.value not in ("forward", "__init__"):
            return updated
        info = self.ctx.types.class_of(original)
        if info is None or not self.ctx.types.is_module_class(info):
            return updated
        if original.name.value == "__init__":
            return self._init_endings(info, original, updated)
        self.ctx.converted(original.name, "torch.nn.Module.forward", "a Cell's forward computation is `construct`")
        return updated.with_changes(name=cst.Name("construct"))

    def _init_endings(self, info, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        """``__init__`` ending with ``self.set_train(True)`` and/or ``self.update_parameters_name()``
        (see the module docstring); neither where it returns early (the end may not run)."""
        params = original.params.params
        if not params or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        finder = _Returns()
        original.body.visit(finder)
        if finder.found:
            return updated
        self_name = params[0].name.value
        lines = [line for line in (self._training_mode(info, original, self_name),
                                   self._late_children(original, self_name)) if line is not None]
        if not lines:
            return updated
        return updated.with_changes(body=updated.body.with_changes(body=[*updated.body.body, *lines]))

    def _training_mode(self, info, original: cst.FunctionDef, self_name: str) -> Optional[cst.BaseStatement]:
        """``self.set_train(True)``, where ``__init__`` builds a layer that behaves differently in
        training (or the class reads ``.training``) and picks no mode itself."""
        code = code_text(original.body)
        if any(mark in code for mark in (".eval(", ".train(", "set_train(", ".training =", ".training=")):
            return None
        layers = _Calls(self.ctx)
        original.body.visit(layers)
        if not layers.mode_layers and ".training" not in code_text(info.node):
            return None  # nothing here behaves differently in training
        self.ctx.converted(original.name, "torch.nn.Module",
                           "a Cell starts in inference mode: __init__ ends with set_train(True), as a torch Module trains")
        return cst.parse_statement(f"{self_name}.set_train(True)  # a torch Module starts in training mode\n")

    def _late_children(self, original: cst.FunctionDef, self_name: str) -> Optional[cst.BaseStatement]:
        """``self.update_parameters_name()``, where ``__init__`` adds a Cell to an attribute after
        assigning it."""
        late = _LateChildren(self_name)
        original.body.visit(late)
        if late.found is None:
            return None
        self.ctx.converted(late.found, "torch.nn.Module",
                           "a Cell added to an attribute after it was assigned keeps a short Parameter name in "
                           "MindSpore: __init__ ends with update_parameters_name(), which names them as torch does")
        return cst.parse_statement(
            f"{self_name}.update_parameters_name()  # Parameters named by their path, as torch names them\n")


def _under_self_attr(node: cst.BaseExpression, self_name: str) -> bool:
    """``node`` is ``self.a``, ``self.a.b``, ``self.a[k]``, ...: something held by an attribute."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            return node.value.value == self_name
        node = node.value
    return False


#: container and Module methods that attach a Cell to their receiver
_ATTACHING = frozenset({"append", "extend", "insert", "add_module", "register_module", "update"})


class _LateChildren(cst.CSTVisitor):
    """The first statement of ``__init__`` that puts something into an attribute of self."""

    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self.found = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        target = node.target
        if self.found is None and isinstance(target, (cst.Attribute, cst.Subscript)) and \
                _under_self_attr(target.value, self.self_name):
            self.found = target

    def visit_Call(self, node: cst.Call) -> None:
        if self.found is not None:
            return
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _ATTACHING and \
                _under_self_attr(func.value, self.self_name):
            self.found = node
        elif isinstance(func, cst.Name) and func.value == "setattr" and node.args and \
                _under_self_attr(node.args[0].value, self.self_name):
            self.found = node


class _Returns(cst.CSTVisitor):
    found = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's returns are its own

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        self.found = True


class _Calls(cst.CSTVisitor):
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.mode_layers = []

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.torch_name(node.func) in MODE_LAYERS:
            self.mode_layers.append(node)
