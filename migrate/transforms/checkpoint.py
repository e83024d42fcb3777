"""``torch.save(obj, f)`` and ``torch.load(f)``.

torch.save pickles any object (a state dict, a checkpoint dict of state dicts, epochs and
metrics, a whole module) and torch.load unpickles it.  A known state dict
(``model.state_dict()``/``parameters_dict()``) is written as a MindSpore checkpoint
(``save_checkpoint``: a helper around ``mindspore.save_checkpoint``, which would append
``.ckpt`` to ``f``); anything else goes through the helper's ``save``, which pickles it as torch
does (MindSpore Tensors, Parameters and Cells included).  ``torch.load`` becomes the helper's
``load``, which reads either (and, without torch, what torch.save wrote), so a program's own
checkpoints round-trip whichever way they were written.
"""

from __future__ import annotations

import libcst as cst

from migrate.transforms import Example, Transform, Unconvertible, register
from migrate.typeinfer import STATE_DICT

#: torch.load's arguments with no meaning for the helper (MindSpore places tensors per process)
_LOAD_DROP = {"map_location", "mmap"}
#: torch.save's arguments about torch's own file layout
_SAVE_DROP = {"_use_new_zipfile_serialization", "_disable_byteorder_record"}


@register
class Checkpoint(Transform):
    name = "checkpoint"
    examples = (
        Example(
            name="save and load a state dict",
            before="""\
import torch
import torch.nn as nn

net = nn.Linear(2, 2)
torch.save(net.state_dict(), "net.pt")
net.load_state_dict(torch.load("net.pt", map_location="cpu"))
""",
            after="""\
from _torch_compat import load, load_state_dict, save_checkpoint
from mindspore import nn

net = nn.Dense(2, 2)
save_checkpoint(net.parameters_dict(), "net.pt")
load_state_dict(net, load("net.pt"))
""",
        ),
        Example(
            name="any other object is pickled",
            before="""\
import torch
import torch.nn as nn

net = nn.Linear(2, 2)
opt = torch.optim.Adam(net.parameters())
torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ck.pt")
ck = torch.load("ck.pt", map_location="cpu")
net.load_state_dict(ck["model"])
torch.save(net, "net.pt")
""",
            after="""\
from _torch_compat import Adam, load, load_state_dict, module_parameters, save
from mindspore import nn

net = nn.Dense(2, 2)
opt = Adam(module_parameters(net))
save({"model": net.parameters_dict(), "optimizer": opt.state_dict(), "epoch": 3}, "ck.pt")
ck = load("ck.pt")
load_state_dict(net, ck["model"])
save(net, "net.pt")
""",
        ),
        Example(
            name="from torch import save, load",
            before="""\
from torch import load, nn, save

net = nn.Linear(2, 2)
save(net.state_dict(), "w.pt")
net.load_state_dict(load("w.pt"))
""",
            after="""\
from _torch_compat import load, load_state_dict, save_checkpoint
from mindspore import nn

net = nn.Dense(2, 2)
save_checkpoint(net.parameters_dict(), "w.pt")
load_state_dict(net, load("w.pt"))
""",
        ),
        Example(
            name="a local save() is not torch's",
            before="""\
import torch


def save(obj, path):
    pass


save({}, "x")
""",
        ),
        Example(
            name="a loaded state dict bound to a name first",
            before="""\
import torch
import torch.nn as nn


def restore(model: nn.Module, path):
    state = torch.load(path, map_location="cpu")
    model.load_state_dict(state)
""",
            after="""\
from _torch_compat import load, load_state_dict
from mindspore import nn


def restore(model: nn.Cell, path):
    state = load(path)
    load_state_dict(model, state)
""",
        ),
    )

    def rewrite(self, site):
        if not site.is_call:
            raise Unconvertible("unsupported", f"{site.rule.key} used as a value")
        if any(a.keyword is not None and a.keyword.value == "pickle_module" for a in site.args):
            raise Unconvertible("unsupported", "pickle_module: the helper pickles with Python's pickle")
        if site.rule.key == "torch.save":
            return self._save(site)
        return self._load(site)

    def _save(self, site):
        args = [a for a in site.args if a.keyword is None or a.keyword.value not in _SAVE_DROP]
        if len(args) < 2 or any(a.keyword is not None or a.star for a in args[:2]):
            raise Unconvertible("unsupported", "only torch.save(obj, f, ...) with obj and f by position is rewritten")
        if self.ctx.type_of(site.original_args[0].value) == STATE_DICT and len(args) == 2:
            return cst.Call(func=self.ctx.helper("save_checkpoint"), args=[cst.Arg(a.value) for a in args])
        return cst.Call(func=self.ctx.helper("save"), args=_last_without_comma(args))

    def _load(self, site):
        """torch.load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
        **pickle_load_args): f and the keywords the helper reads stay."""
        if any(a.star for a in site.args) or len([a for a in site.args if a.keyword is None]) > 2:
            raise Unconvertible("unsupported", "only torch.load(f, ...) with its arguments spelled out is rewritten")
        args = [a for i, a in enumerate(site.args)
                if (a.keyword is None and i == 0) or (a.keyword is not None and a.keyword.value not in _LOAD_DROP)]
        if not args:
            raise Unconvertible("unsupported", "torch.load without a file")
        return cst.Call(func=self.ctx.helper("load"), args=_last_without_comma(args))


def _last_without_comma(args: list) -> list:
    return [*args[:-1], args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)] if args else args
