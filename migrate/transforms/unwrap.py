"""``Variable(x)`` -> ``x``: wrappers that return their argument.

Since torch 0.4 ``torch.autograd.Variable(t)`` returns the tensor ``t`` itself (Variable and
Tensor were merged), and ``volatile`` does nothing.  MindSpore tensors carry no autograd
state, so the call goes and its argument stays.  ``requires_grad=True`` is the one
argument with an effect (gradients flow to that tensor): it has no MindSpore equivalent on a
plain tensor (a ``mindspore.Parameter``, or differentiating with ``mindspore.grad`` over that
input, is the rewrite a person chooses), so such a site is left unchanged and reported.
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, Unconvertible, register

#: positional order of torch.autograd.Variable
_PARAMS = ("data", "requires_grad", "volatile")


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


@register
class Unwrap(Transform):
    name = "unwrap"
    examples = (
        Example(
            name="Variable around tensors",
            before="""\
import torch
from torch.autograd import Variable


def f(x: torch.Tensor):
    a = Variable(x)
    b = Variable(torch.zeros(3), requires_grad=False)
    c = torch.autograd.Variable(x.float(), volatile=True)
    return a, b, c
""",
            after="""\
import mindspore
from mindspore import ops


def f(x: mindspore.Tensor):
    a = x
    b = ops.zeros((3,))
    c = x.float()
    return a, b, c
""",
        ),
        Example(
            name="requires_grad=True is left for a person",
            before="""\
import torch
from torch.autograd import Variable

w = Variable(torch.zeros(3), requires_grad=True)
""",
            after="""\
from torch.autograd import Variable
from mindspore import ops

# MIGRATE(unsupported): torch.autograd.Variable — requires_grad=True: MindSpore tensors carry no requires_grad; make it a mindspore.Parameter or differentiate with mindspore.grad over it
w = Variable(ops.zeros((3,)), requires_grad=True)
""",
        ),
    )

    def rewrite(self, site):
        key = site.rule.key
        if not site.is_call:
            raise Unconvertible("unsupported", f"{key} used as a value (an isinstance check or a type?)")
        given = {}
        for position, (old, new) in enumerate(zip(site.original_args, site.args)):
            if old.star:
                raise Unconvertible("unsupported", "*args/**kwargs in the call cannot be checked")
            if old.keyword is not None:
                name = old.keyword.value
            elif position < len(_PARAMS):
                name = _PARAMS[position]
            else:
                raise Unconvertible("unsupported", f"{key} takes at most {len(_PARAMS)} arguments")
            if name not in _PARAMS:
                raise Unconvertible("unsupported", f"argument `{name}=` has no mapping")
            given[name] = (old.value, new.value)
        if "data" not in given:
            raise Unconvertible("unsupported", f"{key}() without a tensor has no MindSpore equivalent")
        requires_grad = given.get("requires_grad")
        if requires_grad is not None and not _is_false(requires_grad[0]):
            raise Unconvertible(
                "unsupported",
                "requires_grad=True: MindSpore tensors carry no requires_grad; make it a mindspore.Parameter "
                "or differentiate with mindspore.grad over it",
            )
        return given["data"][1]
