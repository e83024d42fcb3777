"""``with torch.no_grad():`` keeps its body; ``@torch.no_grad()`` is dropped.

MindSpore computes gradients only inside ``mindspore.value_and_grad``, so
code outside it never records a graph and needs no guard.  The same holds for
``torch.inference_mode``, and for ``torch.enable_grad`` (nothing to re-enable; its
block's values are never wrapped as below).

Code that can be differentiated is the exception: a module's ``forward`` (it runs
inside ``value_and_grad`` when a loss is built from it) and a function that calls
``.backward()`` (its statements before the call become the differentiated closure,
see ``training_step``), or module-level code that does.  There the block's values
must stay out of the gradient as they do in torch, so every value it assigns or
returns is wrapped in ``ops.stop_gradient`` (which passes tuples, lists, numbers and
None through), in nested blocks too; but not a plain name or attribute chain
(``weight = model.emb.weight``), which in torch is the object itself.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst
from libcst import MaybeSentinel

from migrate.transforms import Example, Transform, Unconvertible, drop_decorators, register

GUARDS = ("torch.no_grad", "torch.inference_mode", "torch.enable_grad", "torch.set_grad_enabled")
ENABLING = ("torch.enable_grad",)  # dropped too, but its values do flow into gradients
SWITCH = "torch.set_grad_enabled"  # either, by its argument: True enables, False disables
NOTE = "MindSpore computes gradients only inside value_and_grad"
#: torch's mixed-precision contexts: dropped from a ``with`` (or as a decorator) like enable_grad, the
#: body kept (elsewhere, ``ctx = autocast(...)``, they are the table's helper, which changes nothing)
AUTOCASTS = ("torch.autocast", "torch.amp.autocast", "torch.cuda.amp.autocast", "torch.cpu.amp.autocast")
#: torch's device contexts: MindSpore runs on one device per process, so the block is the same code
DEVICE_CONTEXTS = ("torch.cuda.device",)
NOTE_DEVICE = ("MindSpore runs on one device per process (mindspore.set_device), so the context is dropped, "
               "its body kept")
NOTE_AUTOCAST = ("mixed precision has no block form in MindSpore, and the converted program computes in its "
                 "tensors' own dtypes (float32, what MindSpore runs on a CPU): the context is dropped, its body kept")
NOTE_SWITCHED = ("in code that can be differentiated, so each value the block assigns or returns is wrapped in "
                 "ops.stop_gradient where set_grad_enabled's mode is false")
NOTE_STOPPED = ("in code that can be differentiated (forward, or before .backward()), so the block's "
                "assigned and returned values are wrapped in ops.stop_gradient")


def _context_name(ctx, expr: cst.BaseExpression, names: tuple) -> Optional[str]:
    """The torch name ``expr`` (a with-item or a decorator, called or not) resolves to through
    the imports, when it is one of ``names``, else None."""
    target = expr.func if isinstance(expr, cst.Call) else expr
    if not isinstance(target, (cst.Name, cst.Attribute)):
        return None
    name = ctx.torch_name(target)
    return name if name in names else None


def guard_name(ctx, expr: cst.BaseExpression) -> Optional[str]:
    """``torch.no_grad``/``torch.inference_mode``/... (the grad-mode guards) for ``expr``, else None."""
    return _context_name(ctx, expr, GUARDS)


def dropped_context(ctx, expr: cst.BaseExpression) -> Optional[str]:
    """The torch name of a with-item or decorator this transform drops (a grad-mode guard, a
    mixed-precision autocast or a device context), else None."""
    return _context_name(ctx, expr, GUARDS + AUTOCASTS + DEVICE_CONTEXTS)


def _note(name: str, grad_note: str) -> str:
    """The report's note for a dropped context ``name`` (``grad_note`` for the grad-mode guards)."""
    return NOTE_AUTOCAST if name in AUTOCASTS else NOTE_DEVICE if name in DEVICE_CONTEXTS else grad_note


def _mode(node: cst.BaseExpression, name: str):
    """True where the guard leaves gradients on, False where it turns them off; for
    ``set_grad_enabled(mode)`` with a non-literal mode that expression, and None where its
    argument cannot be read (not exactly one ``mode``)."""
    if name in ENABLING + AUTOCASTS + DEVICE_CONTEXTS:
        return True
    if name != SWITCH:
        return False
    args = node.args if isinstance(node, cst.Call) else ()
    if len(args) != 1 or args[0].star or (args[0].keyword is not None and args[0].keyword.value != "mode"):
        return None
    value = args[0].value
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return value.value == "True"
    return value


class _FindCall(cst.CSTVisitor):
    def __init__(self, which) -> None:
        self.which = which
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        if self.which(node):
            self.found = True


def _has_call(node: cst.CSTNode, which=lambda call: True) -> bool:
    """Whether ``node`` holds a call (one for which ``which(call)`` holds)."""
    finder = _FindCall(which)
    node.visit(finder)
    return finder.found


def _calls_backward(node: cst.CSTNode) -> bool:
    return _has_call(node, lambda call: isinstance(call.func, cst.Attribute) and call.func.attr.value == "backward")


class _StopGradients(cst.CSTTransformer):
    """Wrap every assigned or returned value in ``stop(...)``; nested functions, classes and
    lambdas are scopes of their own and are left alone."""

    def __init__(self, stop: cst.BaseExpression, unless: Optional[cst.BaseExpression] = None,
                 aliases: frozenset = frozenset()) -> None:
        self.stop = stop
        self.unless = unless  # set_grad_enabled(mode): `value if mode else stop(value)`
        self.aliases = aliases  # what the code calls the helper's layer_attr (an attribute read)
        self.count = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def _wrap(self, value: cst.BaseExpression) -> cst.BaseExpression:
        self.count += 1
        stopped = cst.Call(func=self.stop.deep_clone(), args=[cst.Arg(value)])
        if self.unless is None:
            return stopped
        return cst.IfExp(test=self.unless.deep_clone(), body=value.deep_clone(), orelse=stopped)

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if _is_alias(original.value, self.aliases):
            return updated
        return updated.with_changes(value=self._wrap(updated.value))

    def leave_AnnAssign(self, original: cst.AnnAssign, updated: cst.AnnAssign) -> cst.AnnAssign:
        if updated.value is None or _is_alias(original.value, self.aliases):
            return updated
        return updated.with_changes(value=self._wrap(updated.value))

    def leave_AugAssign(self, original: cst.AugAssign, updated: cst.AugAssign) -> cst.AugAssign:
        return updated.with_changes(value=self._wrap(updated.value))

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
        if updated.value is None or _is_alias(original.value, self.aliases):
            return updated
        return updated.with_changes(value=self._wrap(updated.value))


def _is_alias(value, aliases: frozenset = frozenset()) -> bool:
    """A name or an attribute chain (``weight = model.items.weight``, converted: an attribute or
    the helper's ``layer_attr(model.items, "weight")``): in torch the same object (a write
    through it, ``weight.data = ...`` or ``weight.clamp_(...)``, reaches the Parameter, and
    outside the block its gradient flows), so it is not wrapped: ``ops.stop_gradient`` returns a
    new tensor, and writes through that one were lost (measured)."""
    while True:
        if isinstance(value, cst.Attribute):
            value = value.value
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in aliases \
                and value.args:
            value = value.args[0].value
        else:
            return isinstance(value, cst.Name)


@register
class NoGrad(Transform):
    name = "no_grad"
    examples = (
        Example(
            name="with block",
            before="""\
import torch


def evaluate(model, x):
    # no gradients here
    with torch.no_grad():
        y = model(x)
        return y
""",
            after="""\
def evaluate(model, x):
    # no gradients here
    y = model(x)
    return y
""",
        ),
        Example(
            name="in forward, the block's values stay out of the gradient",
            before="""\
import torch
import torch.nn as nn


class Distill(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        with torch.no_grad():
            target = self.fc(x)
        return (self.fc(x) - target).pow(2).sum()
""",
            after="""\
from _torch_compat import jit_construct
from mindspore import nn, ops


class Distill(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 3)

    @jit_construct
    def construct(self, x):
        target = ops.stop_gradient(self.fc(x))
        return (self.fc(x) - target).pow(2).sum()
""",
        ),
        Example(
            name="an alias of a weight is the weight itself: writes through it reach it",
            before="""\
import torch
import torch.nn.functional as F


def train_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    with torch.no_grad():
        weight = model.emb.weight
        weight.data = F.normalize(weight.data, dim=1)
        norms = weight.norm(dim=1)
    return loss, norms
""",
            after="""\
from _torch_compat import accumulate_grad, assign_data_of, compiled_value_and_grad, layer_attr, norm, normalize, optimizer_parameters, untyped_method, zero_grad_of
from mindspore import ops


def train_step(model, opt, x, y):
    zero_grad_of(opt)
    def _loss_fn(model, x, y):
        loss = ops.mse_loss(model(x), y)
        return loss
    loss, _loss_grads = compiled_value_and_grad(_loss_fn, optimizer_parameters(opt))(model, x, y)
    accumulate_grad(optimizer_parameters(opt), _loss_grads)
    opt.step()
    weight = layer_attr(model.emb, "weight")
    assign_data_of(weight, normalize(weight.data, dim=1))
    norms = ops.stop_gradient(untyped_method(weight, "norm", norm, dim=1))
    return loss, norms
""",
        ),
        Example(
            name="decorator, from-import alias",
            before="""\
from torch import no_grad as ng


@ng()
def predict(model, x):
    return model(x)
""",
            after="""\
def predict(model, x):
    return model(x)
""",
        ),
        Example(
            name="other context managers stay",
            before="""\
import torch

with open("log.txt") as f, torch.no_grad():
    f.write("x")
""",
            after="""\
with open("log.txt") as f:
    f.write("x")
""",
        ),
        Example(
            name="one-line body",
            before="""\
import torch

with torch.inference_mode(): y = 1
""",
            after="""\
y = 1
""",
        ),
        Example(
            name="a local no_grad is not torch's",
            before="""\
import contextlib

no_grad = contextlib.nullcontext

with no_grad():
    y = 1
""",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._differentiable: list[bool] = []  # per enclosing function, innermost last

    def _is_guard(self, expr: cst.BaseExpression) -> Optional[str]:
        return dropped_context(self.ctx, expr)

    def visit_Module(self, node: cst.Module) -> None:
        self._differentiable = [_calls_backward(node)]  # module-level training code

    def _in_differentiable_code(self) -> bool:
        return bool(self._differentiable) and self._differentiable[-1]

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is None and self._is_guard(item.item):
                self.ctx.claim(item.item)

    def leave_With(self, original: cst.With, updated: cst.With):
        keep, dropped = [], []
        for old, new in zip(original.items, updated.items):
            name = self._is_guard(old.item) if old.asname is None else None
            if name:
                dropped.append((old.item, name))
            else:
                keep.append(new)
        if not dropped:
            return updated
        note = NOTE
        modes = [_mode(node, name) for node, name in dropped]
        if any(mode is None for mode in modes):
            for node, name in dropped:
                self.ctx.uncertain(node, name, "set_grad_enabled takes exactly one argument, mode")
            return updated
        if self._in_differentiable_code() and any(mode is not True for mode in modes):
            unless = None
            if False not in modes:  # set_grad_enabled(mode) with a mode known only at run time
                unless = next(mode for mode in modes if mode is not True)
                if _has_call(unless):  # evaluated once per value the block assigns: no calls
                    for node, name in dropped:
                        self.ctx.uncertain(node, name, "set_grad_enabled's mode is re-evaluated per assigned value "
                                                       "in the converted block; give it a plain name first")
                    return updated
            stopper = _StopGradients(self.ctx.name_for("mindspore.ops.stop_gradient"), unless,
                                     self.ctx.helper_names("layer_attr"))
            updated = updated.with_changes(body=updated.body.visit(stopper))
            if stopper.count:
                note = f"{NOTE}; {NOTE_STOPPED}" if unless is None else f"{NOTE}; {NOTE_SWITCHED}"
        for node, name in dropped:
            self.ctx.converted(node, name, _note(name, note))
        if keep:
            keep[-1] = keep[-1].with_changes(comma=MaybeSentinel.DEFAULT)
            return updated.with_changes(items=keep)
        body = updated.body
        if isinstance(body, cst.SimpleStatementSuite):
            statements = [cst.SimpleStatementLine(body=body.body)]
        else:
            statements = list(body.body)
            if body.header.comment is not None:
                comment = cst.EmptyLine(indent=True, comment=body.header.comment)
                statements[0] = statements[0].with_changes(leading_lines=[comment, *statements[0].leading_lines])
        statements[0] = statements[0].with_changes(leading_lines=[*updated.leading_lines, *statements[0].leading_lines])
        return cst.FlattenSentinel(statements)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._differentiable.append(node.name.value == "forward" or _calls_backward(node.body))
        for dec in node.decorators:
            if self._is_guard(dec.decorator):
                self.ctx.claim(dec.decorator)
                target = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
                self.ctx.claim(target)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        self._differentiable.pop()
        updated, dropped = drop_decorators(original, updated, self._is_guard)
        for node, name in dropped:
            self.ctx.converted(node, name, _note(name, NOTE))
        return updated

    def rewrite(self, site):
        if site.rule.key in DEVICE_CONTEXTS:
            raise Unconvertible("unsupported", "only `with torch.cuda.device(...):` is rewritten (dropped: one device "
                                               "per process); MindSpore has no device-context object")
        statement = self.ctx.statement
        if (site.rule.key == SWITCH and (_mode(site.original, SWITCH) is True or not self._in_differentiable_code())
                and isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                and isinstance(statement.body[0], cst.Expr) and statement.body[0].value is site.original):
            # the global switch as a statement: turning gradients on, or anything outside code that is
            # differentiated, has no MindSpore meaning (no grad mode to set)
            self.ctx.remove_statement()
            return site.updated
        raise Unconvertible(
            "unsupported",
            "only `with torch.no_grad():`, the decorator, and a statement `torch.set_grad_enabled(True)` or one "
            "outside differentiated code are rewritten; MindSpore has no grad-mode object",
        )
