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
"""

from __future__ import annotations

import libcst as cst

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
import mindspore
from mindspore import nn


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 2)

    @mindspore.jit
    def construct(self, x):
        # comments survive
        return self.fc(x)


class Deeper(MLP):
    @mindspore.jit
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
import mindspore
from mindspore import nn


class Twice(nn.Cell):
    @mindspore.jit
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
import mindspore
from mindspore import nn


class Id(nn.Cell):
    @mindspore.jit
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
import mindspore
from mindspore import nn


class Head(nn.Cell):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(p=0.1)
        self.set_train(True)  # a torch Module starts in training mode

    @mindspore.jit
    def construct(self, x):
        return self.drop(x)


class Frozen(nn.Cell):
    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(4)
        self.norm.set_train(False)

    @mindspore.jit
    def construct(self, x):
        return self.norm(x)
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
            return self._training_mode(info, original, updated)
        self.ctx.converted(original.name, "torch.nn.Module.forward", "a Cell's forward computation is `construct`")
        return updated.with_changes(name=cst.Name("construct"))

    def _training_mode(self, info, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        """``__init__`` ending with ``self.set_train(True)`` (see the module docstring)."""
        params = original.params.params
        if not params or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        code = cst.Module([]).code_for_node(original.body)
        if any(mark in code for mark in (".eval(", ".train(", "set_train(", ".training =", ".training=")):
            return updated
        finder = _Returns()
        original.body.visit(finder)
        if finder.found:
            return updated
        layers = _Calls(self.ctx)
        original.body.visit(layers)
        if not layers.mode_layers and ".training" not in cst.Module([]).code_for_node(info.node):
            return updated  # nothing here behaves differently in training
        self_name = params[0].name.value
        line = cst.parse_statement(f"{self_name}.set_train(True)  # a torch Module starts in training mode\n")
        self.ctx.converted(original.name, "torch.nn.Module",
                           "a Cell starts in inference mode: __init__ ends with set_train(True), as a torch Module trains")
        return updated.with_changes(body=updated.body.with_changes(body=[*updated.body.body, line]))


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
