"""Devices: ``.to(device)``/``.cuda()``/``.cpu()`` become the receiver itself,
``.to(dtype)`` becomes ``.astype(dtype)``, ``torch.device(s)`` the plain value
``s`` and ``torch.cuda.is_available()`` (and ``torch.backends.mps.is_available()``/``is_built()``)
``False`` (and a tensor's ``is_cuda``), ``torch.cuda.device_count()``/``current_device()`` ``0``; ``nn.DataParallel(m)`` is ``m``
and ``nn.parallel.data_parallel(m, x)`` is ``m(x)``.

A MindSpore process places every tensor on the one device chosen with
``mindspore.set_context(device_target=...)``, so per-tensor moves have no
equivalent and are dropped.  Answering False for CUDA keeps converted code on
its CPU branches (an honest default for code converted to run on CPU; revisit
for GPU/Ascend).  An argument of ``.to`` that is neither a known device nor a
known dtype, and a receiver of unknown type (``x.to(device)`` for a batch out of a
loader), go through the entries' ``untyped`` helpers (``_torch_compat.to``/``cuda``/
``cpu``), which tell them apart at run time: a MindSpore tensor or Cell gets torch's
meaning, any other object its own method.  Without such a helper the site is reported
uncertain.
"""

from __future__ import annotations

import libcst as cst

from migrate.codemod import bound_arguments, code_text
from migrate.transforms import Example, Transform, Unconvertible, register
from migrate.typeinfer import DEVICE, DTYPE, OTHER, TENSOR

_IGNORED_KWARGS = {"non_blocking", "copy", "memory_format"}


@register
class Devices(Transform):
    name = "devices"
    examples = (
        Example(
            name="typical device boilerplate",
            before="""\
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = nn.Linear(4, 2).to(device)
model.cuda()


def step(x: torch.Tensor, y: torch.Tensor):
    x = x.to(device, non_blocking=True)
    y = y.cuda()
    return model(x.to(torch.float32)), y.cpu()
""",
            after="""\
import mindspore
from mindspore import nn

device = "cuda" if False else "cpu"
model = nn.Dense(4, 2)


def step(x: mindspore.Tensor, y: mindspore.Tensor):
    return model(x.astype(mindspore.float32)), y
""",
        ),
        Example(
            name="device and dtype together; strings",
            before="""\
import torch


def f(x: torch.Tensor):
    return x.to("cuda:0", torch.float16), x.to(device="cpu")
""",
            after="""\
import mindspore


def f(x: mindspore.Tensor):
    return x.astype(mindspore.float16), x
""",
        ),
        Example(
            name="an argument that may be a device or a dtype is told apart at run time",
            before="""\
import torch


def f(x: torch.Tensor, target):
    return x.to(target)
""",
            after="""\
import mindspore
from _torch_compat import to


def f(x: mindspore.Tensor, target):
    return to(x, target)
""",
        ),
        Example(
            name="a receiver of unknown type is told apart at run time",
            before="""\
import torch


def f(batch, device):
    return batch.cuda(), batch.to(device)
""",
            after="""\
from _torch_compat import cuda, to


def f(batch, device):
    return cuda(batch), to(batch, device)
""",
        ),
        Example(
            name="import torch as th; from torch import device",
            before="""\
import torch as th
from torch import device as make_device

dev = make_device("cpu")
layer = th.nn.Linear(2, 2).to(dev)
""",
            after="""\
from mindspore import nn

dev = "cpu"
layer = nn.Dense(2, 2)
""",
        ),
        Example(
            name="a project class with .cuda() is not torch's",
            before="""\
import torch


class Job:
    def cuda(self):
        return self


job = Job().cuda()
""",
        ),
    )

    def rewrite(self, site):
        key = site.rule.key
        if key in ("torch.cuda.is_available", "torch.backends.mps.is_available", "torch.backends.mps.is_built"):
            return cst.Name("False")
        if key == "torch.Tensor.is_cuda":
            if site.is_call:
                raise Unconvertible("unsupported", "x.is_cuda is an attribute, not a method")
            return cst.Name("False")
        if key == "torch.device":
            return self._device(site)
        if key in ("torch.cuda.device_count", "torch.cuda.current_device"):
            if not site.is_call or site.args:
                raise Unconvertible("unsupported", f"{key} used as a value or with arguments")
            return cst.Integer("0")
        if key in ("torch.nn.DataParallel", "torch.nn.parallel.data_parallel"):
            return self._data_parallel(site)
        if not site.is_call:
            raise Unconvertible("unsupported", f"{key} used as a value")
        if key.endswith((".cuda", ".cpu")):
            return site.receiver
        return self._to(site)

    def _data_parallel(self, site):
        """``nn.DataParallel(m, ...)`` -> ``m``; ``nn.parallel.data_parallel(m, x, ...)`` -> ``m(x)``:
        one MindSpore process computes on its one device (data parallelism across devices is
        mindspore.communication's, set up outside the model)."""
        if not site.is_call:
            raise Unconvertible("unsupported", f"{site.rule.key} used as a value (a type or a base class)")
        values = bound_arguments(site.rule, site.args)  # the table requires module (and inputs)
        if site.rule.key == "torch.nn.DataParallel":
            return values["module"]
        return cst.Call(func=values["module"], args=[cst.Arg(values["inputs"])])

    def _device(self, site):
        if not site.is_call:
            raise Unconvertible("unsupported", "torch.device used as a type; MindSpore devices are strings")
        args = site.args
        if len(args) == 1 and (args[0].keyword is None or args[0].keyword.value == "type"):
            return args[0].value
        if len(args) == 2 and all(isinstance(a.value, (cst.SimpleString, cst.Integer)) for a in args):
            kind = args[0].value.evaluated_value if isinstance(args[0].value, cst.SimpleString) else None
            if kind is not None:
                return cst.SimpleString(repr(f"{kind}:{args[1].value.value}"))
        raise Unconvertible("unsupported", "only torch.device(<string>) has a plain-value equivalent")

    def _kind(self, original: cst.BaseExpression) -> str:
        """'device', 'dtype', 'tensor' or '' (unknown) for an argument of .to()."""
        if isinstance(original, (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString, cst.Integer)):
            return "device"
        t = self.ctx.type_of(original)
        if t == DTYPE:
            return "dtype"
        if t == DEVICE or t == OTHER:
            return "device"
        if t == TENSOR:
            return "tensor"
        return ""

    def _to(self, site):
        dtype = None
        for old, new in zip(site.original_args, site.args):
            if old.star:
                raise Unconvertible("unsupported", "*args in .to() cannot be checked")
            keyword = old.keyword.value if old.keyword is not None else None
            if keyword in _IGNORED_KWARGS:
                continue
            if keyword == "device":
                continue
            if keyword == "dtype":
                dtype = new.value
                continue
            if keyword is not None:
                raise Unconvertible("unsupported", f"argument `{keyword}=` has no mapping")
            kind = self._kind(old.value)
            if kind == "dtype":
                dtype = new.value
            elif kind == "device":
                pass  # MindSpore places tensors per process
            elif kind == "tensor":
                dtype = cst.Attribute(value=new.value, attr=cst.Name("dtype"))
            else:
                unknown = f"cannot tell whether `{code_text(old.value).strip()}` is a device or a dtype"
                if not site.rule.untyped:
                    raise Unconvertible("uncertain", unknown)
                call, helper = self.ctx.untyped_call(site.rule, site.receiver, site.updated.args)
                return call, f"{unknown}: {helper} decides at run time"  # the helper tells them apart
        if dtype is None:
            return site.receiver
        if site.receiver_type is not None and site.receiver_type.kind == "module":
            raise Unconvertible("unsupported", "casting a whole module has no equivalent (Cell.to_float casts inputs, not parameters)")
        return cst.Call(func=cst.Attribute(value=site.receiver, attr=cst.Name("astype")), args=[cst.Arg(dtype)])
