"""``x.size()`` -> ``x.shape`` and ``x.size(d)`` -> ``x.shape[d]``.

MindSpore's ``Tensor.size`` is an int property (the number of elements), so
calling it fails and reading it means something else than in torch.
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, Unconvertible, register


@register
class TensorSize(Transform):
    name = "tensor_size"
    examples = (
        Example(
            name="size() and size(d)",
            before="""\
import torch


def f(x: torch.Tensor):
    batch = x.size(0)
    return x.view(batch, -1), x.size()
""",
            after="""\
import mindspore


def f(x: mindspore.Tensor):
    batch = x.shape[0]
    return x.view(batch, -1), x.shape
""",
        ),
        Example(
            name="an unknown receiver is told apart at run time (size_of)",
            before="""\
import torch


def f(x):
    return x.size(1)
""",
            after="""\
from _torch_compat import size_of


def f(x):
    return size_of(x, 1)
""",
        ),
        Example(
            name="from torch import Tensor; a numpy .size stays",
            before="""\
import numpy as np
from torch import Tensor


def f(x: Tensor):
    a = np.zeros(3)
    return x.size(-1), a.size
""",
            after="""\
import numpy as np
import mindspore


def f(x: mindspore.Tensor):
    a = np.zeros(3)
    return x.shape[-1], a.size
""",
        ),
    )

    def rewrite(self, site):
        if not site.is_call:
            raise Unconvertible("unsupported", "Tensor.size used as a value; MindSpore's Tensor.size is the element count")
        shape = cst.Attribute(value=site.receiver, attr=cst.Name("shape"))
        args = site.args
        if not args:
            return shape
        if len(args) == 1 and not args[0].star and (args[0].keyword is None or args[0].keyword.value == "dim"):
            return cst.Subscript(value=shape, slice=[cst.SubscriptElement(cst.Index(args[0].value))])
        raise Unconvertible("unsupported", "unexpected arguments to Tensor.size")
