"""``torch.save(state_dict, f)`` -> ``save_checkpoint`` (helper around ``mindspore.save_checkpoint``,
which would append ``.ckpt`` to ``f``); ``load_state_dict(torch.load(f))`` ->
``load_state_dict(net, load_checkpoint(f))`` (helpers; ``mindspore.load_checkpoint`` refuses a
file without the ``.ckpt`` suffix).

A torch file may hold any pickled object, a MindSpore checkpoint only
parameters: the rewrite is made where the object is known to be a state dict
(``model.state_dict()``/``parameters_dict()``, or a module) or where the loaded
value goes straight into a module's ``load_state_dict`` — directly, or through a name bound
once to it whose every use is that argument (``sd = torch.load(f)``, then
``model.load_state_dict(sd)``); anything else is uncertain.
"""

from __future__ import annotations

import libcst as cst

from migrate.codemod import code_text
from migrate.transforms import Example, Transform, Unconvertible, register
from migrate.typeinfer import STATE_DICT

_LOAD_DROP = {"map_location", "weights_only", "mmap", "pickle_module"}


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
from _torch_compat import load_checkpoint, load_state_dict, save_checkpoint
from mindspore import nn

net = nn.Dense(2, 2)
save_checkpoint(net.parameters_dict(), "net.pt")
load_state_dict(net, load_checkpoint("net.pt"))
""",
        ),
        Example(
            name="unknown objects are uncertain",
            before="""\
import torch

torch.save({"epoch": 3}, "meta.pt")
meta = torch.load("meta.pt")
""",
            after="""\
import torch

# MIGRATE(uncertain): torch.save — only state dicts map to mindspore.save_checkpoint; cannot tell what `{"epoch": 3}` is
torch.save({"epoch": 3}, "meta.pt")
# MIGRATE(uncertain): torch.load — a torch file may hold any object; converted only where it goes into a module's load_state_dict(...)
meta = torch.load("meta.pt")
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
from _torch_compat import load_checkpoint, load_state_dict, save_checkpoint
from mindspore import nn

net = nn.Dense(2, 2)
save_checkpoint(net.parameters_dict(), "w.pt")
load_state_dict(net, load_checkpoint("w.pt"))
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
from _torch_compat import load_checkpoint, load_state_dict
from mindspore import nn


def restore(model: nn.Cell, path):
    state = load_checkpoint(path)
    load_state_dict(model, state)
""",
        ),
    )

    def __init__(self, ctx):
        super().__init__(ctx)
        self._into_load_state_dict: set = set()
        self._state_dict_names: set = set()  # ids of Name nodes handed to a module's load_state_dict

    def visit_Module(self, node: cst.Module) -> None:
        self._state_dict_names = _names_into_load_state_dict(node, self.ctx.types)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "load_state_dict" and node.args:
            t = self.ctx.type_of(func.value)
            if t is not None and t.kind == "module":
                self._into_load_state_dict.add(id(node.args[0].value))

    def rewrite(self, site):
        if not site.is_call:
            raise Unconvertible("unsupported", f"{site.rule.key} used as a value")
        if site.rule.key == "torch.save":
            return self._save(site)
        return self._load(site)

    def _save(self, site):
        args = site.args
        if len(args) < 2 or any(a.keyword is not None for a in args[:2]) or len(args) > 2:
            raise Unconvertible("unsupported", "only torch.save(obj, f) is rewritten")
        obj = site.original_args[0].value
        t = self.ctx.type_of(obj)
        if t == STATE_DICT:
            pass
        elif t is not None and t.kind == "module":
            pass  # save_checkpoint(cell, f) stores the cell's parameters
        else:
            code = code_text(obj).strip()
            raise Unconvertible("uncertain", f"only state dicts map to mindspore.save_checkpoint; cannot tell what `{code}` is")
        return cst.Call(func=self.ctx.helper("save_checkpoint"), args=[cst.Arg(args[0].value), cst.Arg(args[1].value)])

    def _load(self, site):
        if id(site.original) not in self._into_load_state_dict and not self._bound_for_load_state_dict(site.original):
            raise Unconvertible("uncertain", "a torch file may hold any object; converted only where it goes into a module's load_state_dict(...)")
        args = [a for a in site.args if a.keyword is None or a.keyword.value not in _LOAD_DROP]
        if len(args) != 1 or args[0].keyword is not None and args[0].keyword.value != "f":
            raise Unconvertible("unsupported", "only torch.load(f) is rewritten")
        return cst.Call(func=self.ctx.helper("load_checkpoint"), args=[cst.Arg(args[0].value)])

    def _bound_for_load_state_dict(self, call: cst.Call) -> bool:
        """``sd = torch.load(f)`` where ``sd`` is bound only here and every read of it is the
        argument of a module's ``load_state_dict``."""
        statement = self.ctx.statement
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            return False
        assign = statement.body[0]
        if not (isinstance(assign, cst.Assign) and assign.value is call and len(assign.targets) == 1
                and isinstance(assign.targets[0].target, cst.Name)):
            return False
        target = assign.targets[0].target
        scope = self.ctx.names.scope_of(target)
        if scope is None:
            return False
        assignments = list(scope.assignments[target.value])
        if len(assignments) != 1 or getattr(assignments[0], "node", None) is not target:
            return False
        reads = [access.node for access in assignments[0].references]
        return bool(reads) and all(id(node) in self._state_dict_names for node in reads)


class _LoadStateDictArgs(cst.CSTVisitor):
    """Names passed as the argument of ``<module>.load_state_dict(...)``, with the statement
    each sits in (for its receiver's type there)."""

    def __init__(self, types) -> None:
        self.types = types
        self.statements: list = []
        self.found: set = set()

    def visit_SimpleStatementLine(self, node) -> None:
        self.statements.append(node)

    def leave_SimpleStatementLine(self, node) -> None:
        self.statements.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if (isinstance(func, cst.Attribute) and func.attr.value == "load_state_dict" and len(node.args) == 1
                and isinstance(node.args[0].value, cst.Name) and node.args[0].keyword is None and self.statements):
            t = self.types.type_at(func.value, self.statements[-1])
            if t is not None and t.kind == "module":
                self.found.add(id(node.args[0].value))


def _names_into_load_state_dict(module: cst.Module, types) -> set:
    visitor = _LoadStateDictArgs(types)
    module.visit(visitor)
    return visitor.found
