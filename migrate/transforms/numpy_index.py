"""numpy values inside a tensor's subscript: ``x[:, idx[0]:idx[1]]``, ``x[perm]``.

torch indexes a tensor with numpy integers (as ints), numpy integer arrays (as index
tensors) and numpy bool arrays (as masks).  MindSpore 2.10 refuses all of them, in PyNative
and as a slice's bounds alike ("Slice index type must be int, tensor or none", "Unsupported
Python object type received: <class 'numpy.int64'>", measured), so code such as
DeepCTR-Torch's ``X[:, lookup_idx[0]:lookup_idx[1]]`` (``lookup_idx = np.array(...)``), which
every one of its models runs, fails at run time once converted.

Where the tool knows a subscript's part is a numpy value (a ``numpy`` call's result, an item
or arithmetic of one: ``typeinfer``'s ``ndarray``):

* a slice bound becomes ``int(bound)``, whatever the receiver: a slice bound is read through
  ``__index__`` by a list, a numpy array or a tensor alike, so ``int`` changes nothing for them;
* an index on a receiver known to be a tensor becomes ``numpy_index(index)`` (the helper):
  a numpy integer becomes an int, an array a ``mindspore.Tensor`` (integer arrays and bool
  masks then index as torch's do, measured equal reading and assigning), and a tuple of them
  (``np.where(m)``, ``a.nonzero()``) a tuple of tensors, which torch reads as one index per
  axis; it compiles inside mindspore.jit too.  On a receiver of unknown type (which may be a
  numpy array) it is left.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from migrate.transforms import Example, Transform, register
from migrate.typeinfer import NDARRAY, TENSOR

RULE = "torch.Tensor.__getitem__"


@register
class NumpyIndex(Transform):
    name = "numpy_index"
    examples = (
        Example(
            name="numpy slice bounds and index arrays",
            before="""\
import numpy as np
import torch


def lookup(X, spans, name):
    idx = np.array(spans[name])
    return X[:, idx[0]:idx[1]].long()


def sample(x: torch.Tensor, n: int):
    perm = np.random.permutation(x.shape[0])[:n]
    x[perm[:1]] = 0.0
    return x[perm], x[:, np.argmax(perm)], x[np.where(perm > 1)]
""",
            after="""\
import numpy as np
import mindspore
from _torch_compat import numpy_index


def lookup(X, spans, name):
    idx = np.array(spans[name])
    return X[:, int(idx[0]):int(idx[1])].long()


def sample(x: mindspore.Tensor, n: int):
    perm = np.random.permutation(x.shape[0])[:n]
    x[numpy_index(perm[:1])] = 0.0
    return x[numpy_index(perm)], x[:, numpy_index(np.argmax(perm))], x[numpy_index(np.where(perm > 1))]
""",
        ),
        Example(
            name="numpy arrays indexed by numpy values are left as they are",
            before="""\
import numpy as np


def pick(table, n):
    rows = np.arange(n)
    return table[rows], np.ones(4)[rows[0]:rows[1]]
""",
        ),
    )

    def _numpy(self, node: Optional[cst.BaseExpression]) -> bool:
        return node is not None and self.ctx.type_of(node) == NDARRAY

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript):
        receiver = self.ctx.type_of(original.value)
        if receiver == NDARRAY:
            return updated  # numpy indexing numpy: nothing of MindSpore's
        elements = []
        changed = False
        for old, new in zip(original.slice, updated.slice):
            if isinstance(old.slice, cst.Slice):
                parts = {}
                for part in ("lower", "upper", "step"):
                    bound = getattr(old.slice, part)
                    if self._numpy(bound):
                        parts[part] = cst.Call(func=cst.Name("int"), args=[cst.Arg(getattr(new.slice, part))])
                if parts:
                    new = new.with_changes(slice=new.slice.with_changes(**parts))
                    changed = True
            elif receiver == TENSOR and self._numpy(old.slice.value):
                tensor = cst.Call(func=self.ctx.helper("numpy_index"), args=[cst.Arg(new.slice.value)])
                new = new.with_changes(slice=new.slice.with_changes(value=tensor))
                changed = True
            elements.append(new)
        if not changed:
            return updated
        self.ctx.converted(original, RULE, "numpy values in a subscript: a slice bound becomes int(...), an index "
                           "on a tensor numpy_index(...) (MindSpore's indexing refuses numpy integers and arrays)")
        return updated.with_changes(slice=elements)
