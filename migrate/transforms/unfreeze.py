"""A loop that unfreezes parameters, ``for p in m.parameters(): p.requires_grad = True``, is
reported, not converted.

``m.parameters()`` becomes ``m.trainable_params()`` (the list that lines up with torch's:
buffers are converted to non-trainable Parameters), which leaves out a Parameter frozen with
``requires_grad = False``: the very ones such a loop means to unfreeze.  Converted, it would run
and unfreeze nothing, without a word (fine-tuning's "freeze all, then unfreeze the head").
``get_parameters()`` holds them, with the converted buffers and MindSpore's own non-trainable
statistics (BatchNorm's moving mean and variance), so which to iterate is a person's choice:
the loop's ``parameters()`` is left as it is and reported uncertain with that reason.  Loops
that freeze (``requires_grad = False``, ``requires_grad_(False)``) convert as before.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst
import libcst.matchers as m

from migrate.transforms import Example, Transform, register

RULE = "torch.nn.Module.parameters"
REASON = ("this loop unfreezes parameters, but trainable_params() (what parameters() becomes) leaves out the "
          "frozen ones; iterate get_parameters() (it also holds buffers converted to non-trainable Parameters "
          "and BatchNorm's moving statistics) or name the parameters to unfreeze")


def _is_false(node: Optional[cst.BaseExpression]) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


class _Unfreezes(cst.CSTVisitor):
    """Does a loop body set ``name.requires_grad`` to anything but ``False``?"""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False

    def _is_target(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == self.name

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            t = target.target
            if m.matches(t, m.Attribute(attr=m.Name("requires_grad"))) and self._is_target(t.value) \
                    and not _is_false(node.value):
                self.found = True

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if m.matches(func, m.Attribute(attr=m.Name("requires_grad_"))) and self._is_target(func.value):
            flag = node.args[0].value if node.args else None
            if not _is_false(flag):
                self.found = True


@register
class Unfreeze(Transform):
    name = "unfreeze"
    examples = (
        Example(
            name="unfreezing a head is left for a person, freezing converts",
            before="""\
import torch.nn as nn


def fine_tune(model: nn.Module, head: nn.Module):
    for p in model.parameters():
        p.requires_grad = False
    for p in head.parameters():
        p.requires_grad = True
""",
            after="""\
from mindspore import nn


def fine_tune(model: nn.Cell, head: nn.Cell):
    for p in model.trainable_params():
        p.requires_grad = False
    # MIGRATE(uncertain): torch.nn.Module.parameters — this loop unfreezes parameters, but trainable_params() (what parameters() becomes) leaves out the frozen ones; iterate get_parameters() (it also holds buffers converted to non-trainable Parameters and BatchNorm's moving statistics) or name the parameters to unfreeze
    for p in head.parameters():
        p.requires_grad = True
""",
        ),
    )

    def visit_For(self, node: cst.For) -> None:
        call = node.iter
        if not (isinstance(node.target, cst.Name) and isinstance(call, cst.Call)
                and m.matches(call.func, m.Attribute(attr=m.Name("parameters")))):
            return
        receiver = self.ctx.type_of(call.func.value)
        if receiver is not None and receiver.kind not in ("module", "modules"):
            return  # a module, or an object of unknown type (parameters_of would take the same list)
        finder = _Unfreezes(node.target.value)
        node.body.visit(finder)
        if finder.found:
            self.ctx.claim(call)
            self.ctx.uncertain(call, RULE, REASON)
