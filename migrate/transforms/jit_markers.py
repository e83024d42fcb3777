"""TorchScript's markers: ``@torch.jit.ignore``/``unused``/``export`` are dropped,
``torch.jit.is_scripting()``/``is_tracing()`` become ``False``.

They steer ``torch.jit.script`` and ``torch.jit.trace``, which the converted code never
runs: MindSpore compiles constructs with ``mindspore.jit`` (see ``graph_mode``), and in
eager torch the decorators return the function unchanged and both tests are false.  So
dropping the decorator and writing ``False`` for the tests keeps what eager torch runs.
Any other use (``torch.jit.ignore(fn)`` as a call, the test passed around as a value) is
reported unsupported.
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, Unconvertible, drop_decorators, register

DECORATORS = ("torch.jit.ignore", "torch.jit.unused", "torch.jit.export")
TESTS = ("torch.jit.is_scripting", "torch.jit.is_tracing")
NOTE = "a TorchScript marker: eager torch runs the function unchanged, and the converted code is never scripted"


@register
class JitMarkers(Transform):
    name = "jit_markers"
    examples = (
        Example(
            name="decorators dropped, scripting tests false",
            before="""\
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    @torch.jit.ignore
    def no_weight_decay(self):
        return {"fc.bias"}

    @torch.jit.ignore(drop=True)
    def debug(self):
        return 1

    def forward(self, x):
        if torch.jit.is_scripting() or torch.jit.is_tracing():
            return self.fc(x)
        return self.fc(x) * 2
""",
            after="""\
from _torch_compat import jit_construct
from mindspore import nn


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 4)

    def no_weight_decay(self):
        return {"fc.bias"}

    def debug(self):
        return 1

    @jit_construct
    def construct(self, x):
        if False or False:
            return self.fc(x)
        return self.fc(x) * 2
""",
        ),
    )

    def _marker(self, decorator: cst.BaseExpression):
        target = decorator.func if isinstance(decorator, cst.Call) else decorator
        if not isinstance(target, (cst.Name, cst.Attribute)):
            return None
        name = self.ctx.torch_name(target)
        return name if name in DECORATORS else None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for dec in node.decorators:
            if self._marker(dec.decorator):
                self.ctx.claim(dec.decorator)
                if isinstance(dec.decorator, cst.Call):
                    self.ctx.claim(dec.decorator.func)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        updated, dropped = drop_decorators(original, updated, self._marker)
        for node, name in dropped:
            self.ctx.converted(node, name, NOTE)
        return updated

    def rewrite(self, site):
        if site.rule.key in TESTS and site.is_call and not site.args:
            return cst.Name("False")
        raise Unconvertible("unsupported", "only the decorator form (@torch.jit.ignore/unused/export) and the calls "
                                           "torch.jit.is_scripting()/is_tracing() are rewritten")
