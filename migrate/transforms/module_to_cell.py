"""nn.Module subclasses become Cells: ``def forward`` -> ``def construct``.

The base class itself is renamed by api_map (torch.nn.Module ->
mindspore.nn.Cell), and ``self.forward(...)``/``super().forward(...)`` by the
``torch.nn.Module.forward`` entry; this renames the method definition in every
class of the file that (transitively) subclasses a torch.nn class; graph_mode
then decides whether that construct gets ``@mindspore.jit``.
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, register


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
        if original.name.value != "forward":
            return updated
        info = self.ctx.types.class_of(original)
        if info is None or not self.ctx.types.is_module_class(info):
            return updated
        self.ctx.converted(original.name, "torch.nn.Module.forward", "a Cell's forward computation is `construct`")
        return updated.with_changes(name=cst.Name("construct"))
