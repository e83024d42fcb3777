"""``torch.topk(x, k).indices`` -> ``ops.topk(x, k)[1]``.

torch's topk, sort, max/min (with a dim), median, mode and kthvalue return a named
tuple, read as ``.values`` and ``.indices``; MindSpore returns a plain tuple in the
same order (values, indices).  A field read directly on such a call becomes an index.
The call itself is converted by its table entry.  Reading the fields off a name the
result was stored in (``r = x.topk(2); r.indices``) is not recognised: that site is
reported as it was before (unpacking, ``values, idx = x.topk(2)``, needs nothing).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from migrate.transforms import Example, Transform, register
from migrate.typeinfer import PAIR_RESULTS as RETURNING_PAIRS
FIELDS = {"values": 0, "indices": 1}


@register
class ResultFields(Transform):
    name = "result_fields"
    examples = (
        Example(
            name="fields of topk, sort and max",
            before="""\
import torch


def f(x: torch.Tensor):
    top = torch.topk(x, 2, dim=1).indices
    order = x.sort(dim=0, descending=True).values
    best = torch.max(x, dim=1).values
    return top.repeat(2, 1), order, best
""",
            after="""\
import mindspore
from mindspore import mint, ops


def f(x: mindspore.Tensor):
    top = ops.topk(x, 2, dim=1)[1]
    order = ops.sort(x, axis=0, descending=True)[0]
    best = mint.max(x, dim=1)[0]
    return top.tile((2, 1)), order, best
""",
        ),
        Example(
            name="unknown receivers and other calls stay",
            before="""\
import torch


def f(x, d: dict):
    return x.topk(2).indices, d.values()
""",
            after="""\
import torch


def f(x, d: dict):
    return x.topk(2).indices, d.values()
""",
        ),
    )

    def _pair_call(self, node: cst.BaseExpression) -> Optional[str]:
        """``torch.topk`` / ``torch.Tensor.topk`` when ``node`` is a call returning a pair."""
        if not isinstance(node, cst.Call):
            return None
        func = node.func
        qn = self.ctx.torch_name(func)
        if qn is not None:
            return qn if qn.startswith("torch.") and qn.rpartition(".")[2] in RETURNING_PAIRS else None
        if isinstance(func, cst.Attribute) and func.attr.value in RETURNING_PAIRS:
            t = self.ctx.type_of(func.value)
            if t is not None and t.kind == "tensor":
                return f"torch.Tensor.{func.attr.value}"
        return None

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in FIELDS and self._pair_call(node.value) is not None:
            self.ctx.claim(node)  # not a tensor member: the codemod must not report `.indices`

    def leave_Attribute(self, original: cst.Attribute, updated):
        if original.attr.value not in FIELDS or not isinstance(updated, cst.Attribute):
            return updated
        qn = self._pair_call(original.value)
        if qn is None:
            return updated
        self.ctx.converted(original, f"{qn}.{original.attr.value}")
        index = cst.Integer(str(FIELDS[original.attr.value]))
        return cst.Subscript(value=updated.value, slice=[cst.SubscriptElement(cst.Index(index))])
