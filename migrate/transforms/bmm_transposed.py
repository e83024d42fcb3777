"""``torch.bmm(a, b.transpose(1, 2))`` -> ``ops.BatchMatMul(transpose_b=True)(a, b)``.

A batched product with a transposed operand is how batched (per-sample, per-task)
linear layers are written.  Converted as it reads, it becomes ``ops.bmm`` on a
``swapaxes`` view, and MindSpore 2.10 on a CPU runs that, and its gradient, as a
Transpose kernel plus a matrix product that transposes again: measured on the migrated
MAMO's batched local learner, a forward and backward step over 64 users took 90 ms that
way and 52 ms with the transpose folded into ``BatchMatMul``'s ``transpose_a``/``transpose_b``
attributes (whole epoch, ``bench/epoch.py``: 30.1 -> 22.0 s).

The rewrite is exact (the same products, no change of meaning) and applies only
where it is provable: ``torch.bmm`` (or ``Tensor.bmm`` on a known tensor) takes
3-D operands, so an operand written as ``x.transpose(1, 2)`` (any spelling of the
last two axes: ``(2, 1)``, ``(-1, -2)``, ``(-2, -1)``, ``(1, -1)``, ...),
or ``x.permute(0, 2, 1)`` swaps exactly the matrix axes.  Anything else keeps the
table's plain conversion (``x.mT`` too: the table has no mapping for it, so the
site stays reported).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from migrate.transforms import Example, Transform, register
from migrate.typeinfer import TENSOR

_SWAPS = {"transpose", "swapaxes", "swapdims"}


def _int(node: cst.BaseExpression) -> Optional[int]:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(node.expression, cst.Integer):
        return -int(node.expression.value)
    return None


def _matrix_axes(values: list) -> bool:
    """Do these two axes of a 3-D tensor name its last two?"""
    if len(values) != 2 or any(v is None or not -3 <= v <= 2 for v in values):
        return False
    return sorted(v % 3 for v in values) == [1, 2]


@register
class BmmTransposed(Transform):
    name = "bmm_transposed"
    order = 200  # after the table rule converted the call and its operands
    examples = (
        Example(
            name="batched linear layer",
            before="""\
import torch


def linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor):
    return torch.bmm(x, w.transpose(1, 2)) + b.unsqueeze(1)
""",
            after="""\
import mindspore
from mindspore import ops


def linear(x: mindspore.Tensor, w: mindspore.Tensor, b: mindspore.Tensor):
    return ops.BatchMatMul(transpose_b=True)(x, w) + b.unsqueeze(1)
""",
        ),
        Example(
            name="first operand, permute and Tensor.bmm spellings",
            before="""\
import torch


def f(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a.permute(0, 2, 1), b), a.bmm(b.transpose(-2, 2)), torch.bmm(a.transpose(-1, -2), b.transpose(2, 1))
""",
            after="""\
import mindspore
from mindspore import ops


def f(a: mindspore.Tensor, b: mindspore.Tensor):
    return ops.BatchMatMul(transpose_a=True)(a, b), ops.BatchMatMul(transpose_b=True)(a, b), ops.BatchMatMul(transpose_a=True, transpose_b=True)(a, b)
""",
        ),
        Example(
            name="other axes and unknown receivers keep the plain conversion",
            before="""\
import torch


def f(a: torch.Tensor, b: torch.Tensor, batch):
    c = batch["c"]
    return torch.bmm(a, b.transpose(0, 1)), torch.bmm(a, c.transpose(1, 2))
""",
            after="""\
import mindspore
from _torch_compat import transpose_of
from mindspore import ops


def f(a: mindspore.Tensor, b: mindspore.Tensor, batch):
    c = batch["c"]
    return ops.bmm(a, b.swapaxes(0, 1)), ops.bmm(a, transpose_of(c, 1, 2))
""",
        ),
    )

    def _untransposed(self, original: cst.BaseExpression, updated: cst.BaseExpression):
        """The converted operand without its matrix transpose, when ``original`` provably is
        a 3-D tensor's last-two-axes transpose; else None."""
        if not (isinstance(original, cst.Call) and isinstance(original.func, cst.Attribute)):
            return None
        method = original.func.attr.value
        if method not in _SWAPS and method != "permute":
            return None
        if self.ctx.type_of(original.func.value) != TENSOR:
            return None
        if any(a.keyword is not None or a.star for a in original.args):
            return None
        values = [_int(a.value) for a in original.args]
        if len(values) == 1 and isinstance(original.args[0].value, (cst.Tuple, cst.List)):
            values = [_int(e.value) for e in original.args[0].value.elements]
        if method == "permute":
            if len(values) != 3 or any(v is None for v in values) or [v % 3 for v in values] != [0, 2, 1]:
                return None
        elif not _matrix_axes(values):
            return None
        if not (isinstance(updated, cst.Call) and isinstance(updated.func, cst.Attribute)):
            return None  # the table converted it to something without a receiver: leave it
        return updated.func.value

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        func = original.func
        if self.ctx.torch_name(func) == "torch.bmm":
            operands = list(zip(original.args, updated.args))
        elif (isinstance(func, cst.Attribute) and func.attr.value == "bmm"
              and self.ctx.type_of(func.value) == TENSOR and isinstance(updated.func, cst.Attribute)):
            operands = [(cst.Arg(func.value), cst.Arg(updated.func.value))] + list(zip(original.args, updated.args))
        else:
            return updated
        if len(operands) != 2 or any(o.keyword is not None or o.star or u.keyword is not None or u.star
                                     for o, u in operands):
            return updated
        flags, args = [], []
        for (orig, upd), flag in zip(operands, ("transpose_a", "transpose_b")):
            inner = self._untransposed(orig.value, upd.value)
            if inner is not None:
                flags.append(flag)
            args.append(cst.Arg(inner if inner is not None else upd.value))
        if not flags:
            return updated
        no_space = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
        primitive = cst.Call(
            func=self.ctx.name_for("mindspore.ops.BatchMatMul"),
            args=[cst.Arg(cst.Name("True"), keyword=cst.Name(f), equal=no_space) for f in flags],
        )
        return cst.Call(func=primitive, args=[args[0], args[1].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
