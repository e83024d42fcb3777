"""``with torch.no_grad():`` keeps its body; ``@torch.no_grad()`` is dropped.

MindSpore computes gradients only inside ``mindspore.value_and_grad``, so
code outside it never records a graph and needs no guard.  The same holds for
``torch.inference_mode``.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst
from libcst import MaybeSentinel

from migrate.transforms import Example, Transform, Unconvertible, register

GUARDS = ("torch.no_grad", "torch.inference_mode")
NOTE = "MindSpore computes gradients only inside value_and_grad"


@register
class NoGrad(Transform):
    name = "no_grad"
    examples = (
        Example(
            name="with block",
            before="""\
import torch


def evaluate(model, x):
    # no gradients here
    with torch.no_grad():
        y = model(x)
        return y
""",
            after="""\
def evaluate(model, x):
    # no gradients here
    y = model(x)
    return y
""",
        ),
        Example(
            name="decorator, from-import alias",
            before="""\
from torch import no_grad as ng


@ng()
def predict(model, x):
    return model(x)
""",
            after="""\
def predict(model, x):
    return model(x)
""",
        ),
        Example(
            name="other context managers stay",
            before="""\
import torch

with open("log.txt") as f, torch.no_grad():
    f.write("x")
""",
            after="""\
with open("log.txt") as f:
    f.write("x")
""",
        ),
        Example(
            name="one-line body",
            before="""\
import torch

with torch.inference_mode(): y = 1
""",
            after="""\
y = 1
""",
        ),
        Example(
            name="a local no_grad is not torch's",
            before="""\
import contextlib

no_grad = contextlib.nullcontext

with no_grad():
    y = 1
""",
        ),
    )

    def _is_guard(self, expr: cst.BaseExpression) -> Optional[str]:
        target = expr.func if isinstance(expr, cst.Call) else expr
        if not isinstance(target, (cst.Name, cst.Attribute)):
            return None
        name = self.ctx.torch_name(target)
        return name if name in GUARDS else None

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is None and self._is_guard(item.item):
                self.ctx.claim(item.item)

    def leave_With(self, original: cst.With, updated: cst.With):
        keep, dropped = [], []
        for old, new in zip(original.items, updated.items):
            name = self._is_guard(old.item) if old.asname is None else None
            if name:
                dropped.append((old.item, name))
            else:
                keep.append(new)
        if not dropped:
            return updated
        for node, name in dropped:
            self.ctx.converted(node, name, NOTE)
        if keep:
            keep[-1] = keep[-1].with_changes(comma=MaybeSentinel.DEFAULT)
            return updated.with_changes(items=keep)
        body = updated.body
        if isinstance(body, cst.SimpleStatementSuite):
            statements = [cst.SimpleStatementLine(body=body.body)]
        else:
            statements = list(body.body)
            if body.header.comment is not None:
                comment = cst.EmptyLine(indent=True, comment=body.header.comment)
                statements[0] = statements[0].with_changes(leading_lines=[comment, *statements[0].leading_lines])
        statements[0] = statements[0].with_changes(leading_lines=[*updated.leading_lines, *statements[0].leading_lines])
        return cst.FlattenSentinel(statements)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for dec in node.decorators:
            if self._is_guard(dec.decorator):
                self.ctx.claim(dec.decorator)
                target = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
                self.ctx.claim(target)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        keep = []
        dropped = False
        for old, new in zip(original.decorators, updated.decorators):
            name = self._is_guard(old.decorator)
            if name:
                self.ctx.converted(old.decorator, name, NOTE)
                dropped = True
            else:
                keep.append(new)
        if not dropped:
            return updated
        lines = list(updated.leading_lines)
        if not keep:
            lines.extend(updated.lines_after_decorators)
        return updated.with_changes(decorators=keep, leading_lines=lines)

    def rewrite(self, site):
        raise Unconvertible(
            "unsupported",
            "only `with torch.no_grad():` and the decorator are rewritten; MindSpore has no grad-mode object",
        )
