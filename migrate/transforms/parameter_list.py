"""``plist[i]`` -> ``plist.at(i)`` and ``for p in plist`` -> ``for p in plist.values()`` on a
``torch.nn.ParameterList`` (the helper's ``_torch_compat.ParameterList`` in MindSpore).

MindSpore 2.10 runs a Cell's ``__getitem__`` and ``__iter__`` as Python inside a compiled
graph and takes the Parameters they return as constants, so a gradient through ``plist[i]``
in a ``mindspore.jit`` construct or training step is silently zero (measured); the helper's
plain methods ``at`` and ``values`` compile as graph code and differentiate (measured equal
to torch).  Indexing with a slice, an assignment into the list, or a list whose type the tool
does not know keep their own spelling (the helper's ``__getitem__`` still answers them
outside a graph).

A ``torch.nn.ParameterDict`` (the helper's ``ParameterDict``) likewise: ``pdict[key]`` ->
``pdict.at(key)``; iterating it gives its keys, and its ``values()``/``items()`` compile as
they are, so only the subscript changes.
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, register
from migrate.typeinfer import is_parameter_dict, is_parameter_list

PARAMETER_LIST = "torch.nn.ParameterList"
PARAMETER_DICT = "torch.nn.ParameterDict"


@register
class ParameterListAccess(Transform):
    name = "parameter_list"
    examples = (
        Example(
            name="indexing and iterating a ParameterList",
            before="""\
import torch
import torch.nn as nn


class Cross(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(3)) for _ in range(n)])

    def forward(self, x):
        for p in self.b:
            x = x * p
        return x + self.b[0] + self.b[-1]
""",
            after="""\
import mindspore
from _torch_compat import ParameterList, jit_construct
from mindspore import nn, ops


class Cross(nn.Cell):
    def __init__(self, n):
        super().__init__()
        self.b = ParameterList([mindspore.Parameter(ops.zeros((3,))) for _ in range(n)])

    @jit_construct
    def construct(self, x):
        for p in self.b.values():
            x = x * p
        return x + self.b.at(0) + self.b.at(-1)
""",
        ),
    )

    def _is_list(self, node: cst.BaseExpression) -> bool:
        return is_parameter_list(self.ctx.type_of(node))

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        if self.ctx.is_store(original) or len(original.slice) != 1:
            return updated
        index = original.slice[0].slice
        if not isinstance(index, cst.Index):
            return updated
        if self._is_list(original.value):
            self.ctx.converted(original, f"{PARAMETER_LIST}.__getitem__",
                               "plist.at(i): a Cell's __getitem__ gives constants inside a compiled graph")
        elif is_parameter_dict(self.ctx.type_of(original.value)):
            self.ctx.converted(original, f"{PARAMETER_DICT}.__getitem__",
                               "pdict.at(key): a Cell's __getitem__ gives constants inside a compiled graph")
        else:
            return updated
        return cst.Call(func=cst.Attribute(value=updated.value, attr=cst.Name("at")),
                        args=[cst.Arg(updated.slice[0].slice.value)])

    def _values(self, original_iter: cst.BaseExpression, updated_iter: cst.BaseExpression):
        if not self._is_list(original_iter):
            return None
        self.ctx.converted(original_iter, f"{PARAMETER_LIST}.__iter__",
                           "plist.values(): a Cell's __iter__ gives constants inside a compiled graph")
        return cst.Call(func=cst.Attribute(value=updated_iter, attr=cst.Name("values")))

    def leave_For(self, original: cst.For, updated: cst.For):
        values = self._values(original.iter, updated.iter)
        return updated if values is None else updated.with_changes(iter=values)

    def leave_CompFor(self, original: cst.CompFor, updated: cst.CompFor):
        values = self._values(original.iter, updated.iter)
        return updated if values is None else updated.with_changes(iter=values)
