"""``self.register_buffer("name", t)`` -> ``self.name = mindspore.Parameter(t, requires_grad=False)``.

torch saves persistent buffers in the state dict; MindSpore's own
``register_buffer`` keeps them out of ``parameters_dict()`` and so out of
checkpoints.  A non-trainable Parameter is saved and never trained, which is
what a persistent buffer is.  ``persistent=False`` keeps MindSpore's
``register_buffer`` (not saved, as in torch).
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, Unconvertible, register


@register
class RegisterBuffer(Transform):
    name = "register_buffer"
    examples = (
        Example(
            name="literal and computed names",
            before="""\
import torch
import torch.nn as nn


class PosEnc(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("pe", torch.zeros(n, 4))
        for i in range(2):
            self.register_buffer(f"b{i}", torch.ones(1))
        self.register_buffer("cache", torch.zeros(1), persistent=False)
""",
            after="""\
import mindspore
from mindspore import nn, ops


class PosEnc(nn.Cell):
    def __init__(self, n):
        super().__init__()
        self.pe = mindspore.Parameter(ops.zeros((n, 4)), requires_grad=False)
        for i in range(2):
            setattr(self, f"b{i}", mindspore.Parameter(ops.ones((1,)), requires_grad=False))
        self.register_buffer("cache", ops.zeros((1,)), persistent=False)
""",
        ),
        Example(
            name="from torch import nn; keyword arguments",
            before="""\
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer(name="steps", tensor=torch.zeros(1))
""",
            after="""\
import mindspore
from mindspore import nn, ops


class M(nn.Cell):
    def __init__(self):
        super().__init__()
        self.steps = mindspore.Parameter(ops.zeros((1,)), requires_grad=False)
""",
        ),
        Example(
            name="register_buffer on a non-module is left alone",
            before="""\
import torch


class Registry:
    def setup(self):
        self.register_buffer("a", 1)
""",
        ),
    )

    def __init__(self, ctx):
        super().__init__(ctx)
        self._as_statement: dict = {}

    def rewrite(self, site):
        if not site.is_call:
            raise Unconvertible("unsupported", "register_buffer used as a value")
        args = list(site.args)
        names = ["name", "tensor", "persistent"]
        bound = {}
        for i, arg in enumerate(args):
            key = arg.keyword.value if arg.keyword is not None else (names[i] if i < len(names) else None)
            if key not in names or arg.star:
                raise Unconvertible("unsupported", "unexpected arguments to register_buffer")
            bound[key] = arg.value
        if "name" not in bound or "tensor" not in bound:
            raise Unconvertible("unsupported", "register_buffer needs a name and a tensor")
        persistent = bound.get("persistent")
        if persistent is not None and not (isinstance(persistent, cst.Name) and persistent.value == "True"):
            return site.updated  # MindSpore's register_buffer(name, t, persistent=False) matches torch
        tensor = bound["tensor"]
        if isinstance(tensor, cst.Name) and tensor.value == "None":
            return site.updated
        param = cst.Call(
            func=self.ctx.name_for("mindspore.Parameter"),
            args=[
                cst.Arg(tensor),
                cst.Arg(cst.Name("False"), keyword=cst.Name("requires_grad"),
                        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))),
            ],
        )
        name = bound["name"]
        if isinstance(name, cst.SimpleString) and str(name.evaluated_value).isidentifier():
            self._as_statement[id(site.original)] = (site.receiver, name.evaluated_value, param)
            return site.updated
        return cst.Call(func=cst.Name("setattr"), args=[cst.Arg(site.receiver), cst.Arg(name), cst.Arg(param)])

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr):
        pending = self._as_statement.pop(id(original.value), None)
        if pending is None:
            return updated
        receiver, name, param = pending
        target = cst.AssignTarget(cst.Attribute(value=receiver, attr=cst.Name(name)))
        return cst.Assign(targets=[target], value=param, semicolon=updated.semicolon)

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        pending = self._as_statement.get(id(original))
        if pending is not None and not self._in_statement(original):
            # used inside an expression: fall back to setattr
            receiver, name, param = self._as_statement.pop(id(original))
            return cst.Call(func=cst.Name("setattr"), args=[cst.Arg(receiver), cst.Arg(cst.SimpleString(repr(name))), cst.Arg(param)])
        return updated

    def _in_statement(self, call: cst.Call) -> bool:
        stmt = self.ctx.statement
        if not isinstance(stmt, cst.SimpleStatementLine):
            return False
        return any(isinstance(s, cst.Expr) and s.value is call for s in stmt.body)
