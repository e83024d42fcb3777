"""``loss.backward()`` -> ``mindspore.value_and_grad`` over the statements that compute ``loss``.

MindSpore has no tape: gradients come from differentiating a function. The statements
of the same block that ``loss`` depends on (a backward slice, taken as the contiguous run from
the first of them) become a closure called without arguments (a name those statements read
before rebinding it, as in ``x = x.to(device)``, is a parameter defaulting to its value
at that point); ``value_and_grad`` runs it
once and returns the loss, every value those statements bind that is used later, and the
gradients. The gradients are then stored on each parameter's ``.grad`` (accumulating, as
``backward`` does), so ``clip_grad_norm_``, ``optimizer.step()`` and code reading
``p.grad`` keep working through the helper module's torch-protocol optimizers.

The slice takes compound statements (``if``, ``for``, ``with``, ``try``) that bind a name it
needs, and any that sit between its statements; ``with torch.no_grad():`` blocks are constants
to it (``no_grad`` stops their values where they ride along). It ends at a statement that cannot
move into the closure: an earlier ``step()``/``backward()``/``autograd.grad``, or one that leaves
the block early (``return``, ``continue``...). When the loss needs a value bound before that
statement which may carry a gradient (a module call, a module's attribute, or a call of unknown
code on the way), the site is unsupported: differentiating with it frozen would cut the
gradient off silently (a GAN's generator step after ``optD.step()``).

Which parameters: the optimizer whose ``step()`` follows the backward in its block, else the
nearest optimizer zeroed or stepped before it, or module whose ``zero_grad()`` precedes it,
then the same in enclosing blocks; otherwise the site is unsupported (there is no way to know
what ``backward`` would have reached).

Compiled steps: when every statement of the closure is a plain assignment that graph_mode's
check accepts (no host syncs, printing, in-place ops, attribute or item writes, unknown callees,
no compound statements), the step becomes ``compiled_value_and_grad(fn, weights)(*args)``: one
``mindspore.jit`` graph for forward and backward (~3x to 8x faster than PyNative on small steps,
``bench/helpers.py``). Its ``zero_grad()`` calls and leading statements no parameter reaches move
before it; every name it reads from an enclosing scope is an argument, and so is every attribute
value it reads (``self.cfg.lr``), so the helper keys its graphs on their current values (what the
graph reads through a constant object's methods, a sub-module's attributes, is read when it
compiles, as in any ``mindspore.jit`` construct). The helper falls back to PyNative at run
time when a graph does not compile. Each site is reported (``graph``, or ``pynative`` with the
reason); ``--no-jit`` keeps the plain closure.

``g = torch.autograd.grad(loss, params)`` is rewritten the same way, with the parameters
it names: the closure's gradients are ``g`` (``_torch_compat.grad_of`` runs
``value_and_grad``, after checking that every input is a Parameter: MindSpore's
``value_and_grad`` gives silent zeros for a plain tensor, such as MAML's fast weights).
Higher-order uses (``create_graph=True``), ``grad_outputs`` and ``allow_unused=True`` (torch
gives None where MindSpore gives zeros) are unsupported.
"""
from __future__ import annotations

from typing import Optional, Sequence

import builtins
import re

import libcst as cst

from migrate.codemod import code_text, foreign_to_torch_tensors
from migrate.transforms import Example, Transform, register
from migrate.transforms.graph_mode import GraphMode, _Checker
from migrate.transforms.no_grad import guard_name

_BUILTINS = frozenset(dir(builtins))

BEFORE = """\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.Adam(model.parameters(), lr=0.1)
for x, y in batches:
    opt.zero_grad()
    pred = model(x)
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    opt.step()
    print(loss.item(), pred.shape)
"""


def _target_names(t: cst.BaseExpression) -> set[str]:
    if isinstance(t, cst.Name):
        return {t.value}
    if isinstance(t, (cst.Tuple, cst.List)):
        out: set[str] = set()
        for e in t.elements:
            out |= _target_names(e.value)
        return out
    if isinstance(t, cst.StarredElement):
        return _target_names(t.value)
    return set()


class _Binds(cst.CSTVisitor):
    """Names a statement binds in its own scope (not inside nested functions)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_AssignTarget(self, n: cst.AssignTarget) -> None:
        self.names |= _target_names(n.target)

    def visit_AnnAssign(self, n: cst.AnnAssign) -> None:
        self.names |= _target_names(n.target)

    def visit_AugAssign(self, n: cst.AugAssign) -> None:
        self.names |= _target_names(n.target)

    def visit_For(self, n: cst.For) -> None:
        self.names |= _target_names(n.target)

    def visit_NamedExpr(self, n: cst.NamedExpr) -> None:
        self.names |= _target_names(n.target)

    def visit_FunctionDef(self, n: cst.FunctionDef) -> bool:
        self.names.add(n.name.value)
        return False

    def visit_ClassDef(self, n: cst.ClassDef) -> bool:
        self.names.add(n.name.value)
        return False

    def visit_Lambda(self, n: cst.Lambda) -> bool:
        return False

    def visit_ListComp(self, n) -> bool:
        return False

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp


def binds(node: cst.CSTNode) -> set[str]:
    v = _Binds()
    node.visit(v)
    return v.names


class _Reads(cst.CSTVisitor):
    """Names a statement reads (assignment targets that are plain names are not reads),
    leaving out the nodes in ``skip``."""

    def __init__(self, skip: frozenset = frozenset()) -> None:
        self.names: set[str] = set()
        self.skip = skip

    def on_visit(self, node: cst.CSTNode) -> bool:
        return id(node) not in self.skip and super().on_visit(node)

    def visit_Name(self, n: cst.Name) -> None:
        self.names.add(n.value)

    def visit_Attribute(self, n: cst.Attribute) -> bool:
        n.value.visit(self)
        return False

    def _target(self, t: cst.BaseExpression) -> None:
        if isinstance(t, (cst.Tuple, cst.List)):
            for e in t.elements:
                self._target(e.value)
        elif isinstance(t, cst.StarredElement):
            self._target(t.value)
        elif not isinstance(t, cst.Name):
            t.visit(self)

    def visit_AssignTarget(self, n: cst.AssignTarget) -> bool:
        self._target(n.target)
        return False

    def visit_For(self, n: cst.For) -> bool:
        self._target(n.target)
        for part in (n.iter, n.body, n.orelse):
            if part is not None:
                part.visit(self)
        return False

    def visit_AsName(self, n: cst.AsName) -> bool:
        self._target(n.name)
        return False

    def visit_AnnAssign(self, n: cst.AnnAssign) -> bool:
        self._target(n.target)
        if n.value is not None:
            n.value.visit(self)
        return False


def _nodes(node: cst.CSTNode) -> list:
    """``node`` and every node below it."""
    found: list = []

    class All(cst.CSTVisitor):
        def on_visit(self, n: cst.CSTNode) -> bool:
            found.append(n)
            return True

    node.visit(All())
    return found


def _unknown_object_method(ctx, func: cst.Attribute) -> bool:
    """``model.encode`` / ``data_generator.sample``: a method torch's tensors do not have, on a
    receiver of unknown type, not reached through an import — unknown code, which may compute
    with parameters (and which a compiled graph would run once, when it compiles)."""
    return (ctx.type_of(func.value) is None and not ctx.names.qualified(func)
            and foreign_to_torch_tensors(func.attr.value))


def reads(node: cst.CSTNode, skip: Sequence[cst.CSTNode] = ()) -> set[str]:
    v = _Reads(frozenset(id(n) for n in skip))
    node.visit(v)
    return v.names


def free_reads(stmts: Sequence[cst.CSTNode], bound: frozenset = frozenset()) -> set[str]:
    """Names the statements read before they bind them, in order (``x = x.to(d)`` reads ``x``;
    ``for p in ps: s += p`` does not read ``p``): the body of a compound statement sees what its
    header bound (a loop target, a ``with ... as`` name, an ``except ... as`` name)."""
    bound, free = set(bound), set()

    def header(*parts) -> None:
        for part in parts:
            if part is not None:
                free.update(reads(part) - bound)

    def block(node, extra=()) -> None:
        """A suite (a block, or an ``else``/``finally``/``elif`` clause)."""
        if node is None:
            return
        if isinstance(node, cst.If):  # elif
            free.update(free_reads([node], frozenset(bound | set(extra))))
            return
        while isinstance(node, (cst.Else, cst.Finally)):
            node = node.body
        free.update(free_reads(node.body, frozenset(bound | set(extra))))

    for s in stmts:
        if isinstance(s, cst.For):
            header(s.iter)
            block(s.body, _target_names(s.target))
            block(s.orelse)
        elif isinstance(s, (cst.If, cst.While)):
            header(s.test)
            block(s.body)
            block(s.orelse)
        elif isinstance(s, cst.With):
            names: set[str] = set()
            for item in s.items:
                header(item.item)
                if item.asname is not None:
                    names |= _target_names(item.asname.name)
            block(s.body, names)
        elif isinstance(s, cst.Try):
            block(s.body)
            for handler in s.handlers:
                header(handler.type)
                block(handler.body, _target_names(handler.name.name) if handler.name is not None else ())
            block(s.orelse)
            block(s.finalbody)
        else:
            free.update(reads(s) - bound)
        bound |= binds(s)
    return free


#: torch's loss scalers: ``scaler.scale(loss).backward()`` is ``loss.backward()``, ``scaler.step(opt)`` opt's step
_GRAD_SCALERS = frozenset({"torch.cuda.amp.GradScaler", "torch.amp.GradScaler"})


def _method_call(stmt: cst.BaseStatement, method: str) -> Optional[cst.Call]:
    """The call in a statement of the form ``<expr>.<method>()``."""
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    expr = stmt.body[0]
    if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
        return None
    call = expr.value
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == method:
        return call
    return None


def _is_barrier(stmt: cst.BaseStatement) -> bool:
    """Where the loss computation cannot reach back past: an earlier step()/backward(), or a
    compound statement that holds one, or that leaves the block early (return/yield/await
    anywhere, break/continue outside its own loops): such a statement cannot move into the
    closure. Other compound statements (``if``, ``for``,
    ``with``, ``try``) are part of the computation when they bind a name it needs, and ride
    along in the closure when they sit between its statements."""
    if isinstance(stmt, cst.BaseCompoundStatement):
        return _escapes(stmt) or any(_is_barrier(inner) for inner in _statements_in(stmt))
    return _method_call(stmt, "step") is not None or _method_call(stmt, "backward") is not None


def _first_line(stmt: cst.CSTNode) -> str:
    """A statement's first line of code, shortened, for messages."""
    text = code_text(stmt).strip().splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _statements_in(stmt: cst.BaseCompoundStatement) -> list:
    """The simple statements anywhere inside a compound statement (not in nested functions)."""
    found = []

    class V(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, n: cst.SimpleStatementLine) -> bool:
            found.append(n)
            return False

        def visit_SimpleStatementSuite(self, n: cst.SimpleStatementSuite) -> bool:
            found.extend(cst.SimpleStatementLine(body=[small]) for small in n.body)  # `if c: opt.step()`
            return False

        def visit_FunctionDef(self, n) -> bool:
            return False

        def visit_ClassDef(self, n) -> bool:
            return False

    stmt.visit(V())
    return found


def _escapes(stmt: cst.CSTNode) -> bool:
    """Whether ``stmt`` can leave its block early: a return or yield (outside nested functions),
    or a break/continue that is not inside a loop of ``stmt``'s own."""
    found = []

    class V(cst.CSTVisitor):
        def __init__(self) -> None:
            self.loops = 0

        def visit_Return(self, n):
            found.append(n)

        def visit_Yield(self, n):
            found.append(n)

        def visit_Await(self, n):
            found.append(n)

        def visit_Break(self, n):
            if not self.loops:
                found.append(n)

        visit_Continue = visit_Break

        def _loop(self, n, *header) -> bool:
            """A loop's own break/continue stay inside it (its else clause is outside)."""
            for part in header:
                part.visit(self)
            self.loops += 1
            n.body.visit(self)
            self.loops -= 1
            if n.orelse is not None:
                n.orelse.visit(self)
            return False

        def visit_For(self, n):
            return self._loop(n, n.target, n.iter)

        def visit_While(self, n):
            return self._loop(n, n.test)

        def visit_FunctionDef(self, n):
            return False

        def visit_Lambda(self, n):
            return False

        def visit_ClassDef(self, n):
            return False

    stmt.visit(V())
    return bool(found)


def _detached_only(stmts: Sequence[cst.CSTNode], names: set) -> set:
    """The ``names`` that ``stmts`` read only as ``name.detach()`` or ``name.data``: no gradient
    flows through them in torch either, so to a closure they are constants wherever they came from."""
    detached, everywhere = set(), {}

    class V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            f = n.func
            if (isinstance(f, cst.Attribute) and f.attr.value == "detach" and not n.args
                    and isinstance(f.value, cst.Name)):
                detached.add(id(f.value))

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            if n.attr.value == "data" and isinstance(n.value, cst.Name):
                detached.add(id(n.value))
            n.value.visit(self)
            return False  # the member's own name is no read

        def visit_Arg(self, n: cst.Arg) -> bool:
            n.value.visit(self)
            return False  # a keyword's name is no read

        def visit_Name(self, n: cst.Name) -> None:
            if n.value in names:
                everywhere.setdefault(n.value, []).append(id(n))

    for stmt in stmts:
        stmt.visit(V())
    return {name for name, ids in everywhere.items() if all(i in detached for i in ids)}


def _is_zero_grad(stmt: cst.BaseStatement, helpers: frozenset = frozenset()) -> bool:
    """``opt.zero_grad()``, or a call of one of ``helpers`` (what the code calls the helper's
    ``zero_grad(module)`` and ``zero_grad_of(x)``, for a receiver of unknown type)."""
    if _method_call(stmt, "zero_grad") is not None:
        return True
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr):
        call = stmt.body[0].value
        return isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value in helpers
    return False


def _shape_problem(stmt: cst.BaseStatement) -> Optional[str]:
    """Why a statement cannot be part of a compiled loss closure by its shape alone: only
    assignments to names (a bare call, such as ``losses.append(l)``, exists for its side effect,
    which a graph would perform once, when it is compiled; compound statements are left to
    PyNative)."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return f"holds `{_first_line(stmt)}` (only assignments are compiled)"
    for small in stmt.body:
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)) and small.value is not None:
            targets = [small.target]
        elif isinstance(small, cst.Pass):
            continue
        else:
            return f"holds `{_first_line(stmt)}` (only assignments are compiled)"
        if not all(_names_only(t) for t in targets):
            return f"assigns something other than a name in `{_first_line(stmt)}`"
    return None


def _names_only(target: cst.BaseExpression) -> bool:
    if isinstance(target, cst.Name):
        return True
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(_names_only(e.value) for e in target.elements)
    if isinstance(target, cst.StarredElement):
        return _names_only(target.value)
    return False


def _comprehension_names(stmts: Sequence[cst.CSTNode]) -> set[str]:
    """Names bound by comprehensions and lambdas inside the statements."""
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_CompFor(self, n: cst.CompFor) -> None:
            found.update(_target_names(n.target))

        def visit_Lambda(self, n: cst.Lambda) -> None:
            found.update(p.name.value for p in n.params.params)

    for s in stmts:
        s.visit(V())
    return found


def _names_in_order(stmts: Sequence[cst.CSTNode]) -> list[str]:
    """Every name the statements mention, in order of first appearance."""
    seen: dict[str, None] = {}

    class V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            seen.setdefault(n.value, None)

        def visit_Attribute(self, n: cst.Attribute) -> bool:
            n.value.visit(self)
            return False

    for s in stmts:
        s.visit(V())
    return list(seen)


class _Chains(cst.CSTTransformer):
    """Replaces each value read from a root in ``roots`` through attributes and one constant
    item (``self.cfg.lr``, ``batch["x"]``, ``self.data[0]``; not a called method such as
    ``self.loss(...)``) by a name of its own; ``lifted`` maps its code to (that name, the
    expression). A dict or list argument would keep a step uncompiled; its items are tensors.
    A called chain is lifted too where it is a module (``modules``: the code of chains the type
    inference knows as modules, ``self.loss_fn(...)``): the graph is then keyed on that module,
    not on ``self``, a plain object a training loop may make anew for every task (the MAMO
    authors' ``LOCALUpdate``), which would compile a graph per object."""

    def __init__(self, roots: frozenset, taken: set, modules: frozenset = frozenset()) -> None:
        self.roots, self.taken, self.modules = roots, set(taken), modules
        self.inner: set[int] = set()  # the value of an attribute or lifted item, or a called function
        self.kept: set[int] = set()  # called functions, and containers of lifted items
        self.lifted: dict[str, tuple[str, cst.BaseExpression]] = {}

    def visit_Attribute(self, n: cst.Attribute) -> None:
        self.inner.add(id(n.value))

    def visit_Call(self, n: cst.Call) -> None:
        if self._module(n.func):
            return  # lifted whole (leave_Attribute), its receiver with it
        self.inner.add(id(n.func))
        self.kept.add(id(n.func))

    def _module(self, func: cst.BaseExpression) -> bool:
        return (isinstance(func, cst.Attribute) and self._rooted(func)
                and code_text(func) in self.modules)

    def visit_Subscript(self, n: cst.Subscript) -> None:
        if self._item(n):  # the item is lifted whole, not the container
            self.inner.add(id(n.value))
            self.kept.add(id(n.value))

    def _rooted(self, node: cst.BaseExpression) -> bool:
        while isinstance(node, cst.Attribute):
            node = node.value
        return isinstance(node, cst.Name) and node.value in self.roots

    def _item(self, n: cst.Subscript) -> bool:
        """``<root chain>[<constant>]``, not itself called."""
        if id(n) in self.kept or len(n.slice) != 1 or not isinstance(n.slice[0].slice, cst.Index):
            return False
        key = n.slice[0].slice.value
        return isinstance(key, (cst.SimpleString, cst.Integer)) and self._rooted(n.value)

    def _lift(self, original: cst.BaseExpression) -> cst.Name:
        code = code_text(original)
        if code not in self.lifted:
            base = re.sub(r"\W+", "_", code).strip("_")
            name, k = base, 1
            while name in self.taken:
                k += 1
                name = f"{base}{k}"
            self.taken.add(name)
            self.lifted[code] = (name, original)
        return cst.Name(self.lifted[code][0])

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if id(original) in self.inner or not self._rooted(original):
            return updated
        return self._lift(original)

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.BaseExpression:
        return self._lift(original) if self._item(original) else updated


class _StepCheck(GraphMode):
    """graph_mode's check, for a loss closure: a module of a class defined in another file
    is accepted (a construct graph mode cannot compile makes the helper fall back to PyNative
    at run time; that file's own report says whether its construct compiles).  A module held
    in a local name (``model(x)``) of a class of this file is checked as ``self.x`` is: a
    construct that cannot compile keeps the step in PyNative instead of failing to compile
    at run time (a custom autograd Function's ``apply``, measured)."""

    def call_problem(self, call: cst.Call, info, seen: set, scope) -> Optional[str]:
        why = super().call_problem(call, info, seen, scope)
        func = call.func
        if why is None and isinstance(func, cst.Attribute) and _unknown_object_method(self.ctx, func):
            # data_generator.sample(), model.encode(x): unknown code; a Python object's method
            # runs once, when the graph is compiled (a sampler's draw frozen into it, measured)
            return f"calls {code_text(func)}() on a receiver of unknown type (Python code there would run " \
                   "once, when the graph is compiled)"
        if why is None and isinstance(call.func, cst.Name):
            t = self.ctx.type_of(call.func)
            other = self.ctx.types.local_class(t) if t is not None and t.kind == "module" else None
            inner = self.class_problem(other, seen) if other is not None else None
            if inner:
                return f"calls {call.func.value}, a {other.name} whose forward {inner}"
        return why

    def _submodule_problem(self, func: cst.Attribute, attr: str, seen: set) -> Optional[str]:
        why = super()._submodule_problem(func, attr, seen)
        if why is not None and why.endswith("defined in another file (not checked)"):
            return None
        return why


class _Plan:
    """A backward() site found while visiting; applied when its block is left."""

    def __init__(self, index: int, loss: str, first: int, weights: Optional[cst.BaseExpression], aux: list[str], call,
                 carried: Sequence[str] = (), grads_target: Optional[cst.BaseExpression] = None,
                 split: Optional[int] = None):
        self.index, self.loss, self.first, self.weights, self.aux, self.call = index, loss, first, weights, aux, call
        # where the closure ends: the backward's statement, or a guard before it that may skip the
        # step (`if torch.isnan(loss): continue`): the gradients are taken before the guard and
        # stored at the backward
        self.split = index if split is None else split
        self.carried = list(carried)  # names read before the computation rebinds them: parameters
        # torch.autograd.grad: the assignment target of the gradients (the weights are then the
        # call's converted second argument, read from the converted statement)
        self.grads_target = grads_target

    @property
    def rule(self) -> str:
        return "torch.Tensor.backward" if self.grads_target is None else "torch.autograd.grad"


def _aux(returned: list[str]) -> tuple[list, cst.BaseExpression]:
    """(``has_aux=True`` or nothing, the names the closure's values are unpacked into): the
    loss alone, or the loss and the values computed with it that are used later."""
    if len(returned) == 1:
        return [], cst.Name(returned[0])
    flag = cst.Arg(cst.Name("True"), keyword=cst.Name("has_aux"),
                   equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
    return [flag], cst.Tuple([cst.Element(cst.Name(n)) for n in returned])


@register
class TrainingStep(Transform):
    """``loss.backward()`` -> a ``value_and_grad`` closure whose gradients land on ``p.grad``."""

    name = "training_step"
    order = 50
    examples = (
        Example(
            name="optimizer_loop",
            before=BEFORE,
            after="""\
from _torch_compat import Adam, accumulate_grad, compiled_value_and_grad, module_parameters
from mindspore import nn

model = nn.Dense(3, 1)
opt = Adam(module_parameters(model), lr=0.1)
for x, y in batches:
    opt.zero_grad()
    def _loss_fn(model, x, y):
        pred = model(x)
        loss = ((pred - y) ** 2).mean()
        return loss, pred
    (loss, pred), _loss_grads = compiled_value_and_grad(_loss_fn, opt.parameters, has_aux=True)(model, x, y)
    accumulate_grad(opt.parameters, _loss_grads)
    opt.step()
    print(loss.item(), pred.shape)
""",
        ),
        Example(
            name="module_zero_grad_no_aux",
            before="""\
import torch
def grads(net: torch.nn.Module, x: torch.Tensor):
    net.zero_grad()
    loss = net(x).sum()
    loss.backward()
    return [p.grad for p in net.parameters()]
""",
            after="""\
import mindspore
from _torch_compat import accumulate_grad, compiled_value_and_grad, module_parameters, zero_grad
from mindspore import nn

def grads(net: nn.Cell, x: mindspore.Tensor):
    zero_grad(net)
    def _loss_fn(net, x):
        loss = net(x).sum()
        return loss
    loss, _loss_grads = compiled_value_and_grad(_loss_fn, net.trainable_params())(net, x)
    accumulate_grad(net.trainable_params(), _loss_grads)
    return [p.grad for p in module_parameters(net)]
""",
        ),
        Example(
            name="a leading value no parameter reaches moves out of the closure",
            before="""\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.Adam(model.parameters(), lr=0.1)
def fit(x: torch.Tensor, y: torch.Tensor):
    opt.zero_grad()
    x = x * 2
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return x
""",
            after="""\
import mindspore
from _torch_compat import Adam, accumulate_grad, compiled_value_and_grad, module_parameters
from mindspore import nn

model = nn.Dense(3, 1)
opt = Adam(module_parameters(model), lr=0.1)
def fit(x: mindspore.Tensor, y: mindspore.Tensor):
    opt.zero_grad()
    x = x * 2
    def _loss_fn(model, x, y):
        loss = ((model(x) - y) ** 2).mean()
        return loss
    loss, _loss_grads = compiled_value_and_grad(_loss_fn, opt.parameters)(model, x, y)
    accumulate_grad(opt.parameters, _loss_grads)
    opt.step()
    return x
""",
        ),
        Example(
            name="device_moves_removed_first",
            before="""\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.Adam(model.parameters(), lr=0.1)
device = torch.device("cpu")
def fit(x: torch.Tensor, y: torch.Tensor):
    x, y = x.to(device), y.to(device)
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
""",
            after="""\
import mindspore
from _torch_compat import Adam, accumulate_grad, compiled_value_and_grad, module_parameters
from mindspore import nn

model = nn.Dense(3, 1)
opt = Adam(module_parameters(model), lr=0.1)
device = "cpu"
def fit(x: mindspore.Tensor, y: mindspore.Tensor):
    opt.zero_grad()
    def _loss_fn(model, x, y):
        loss = ((model(x) - y) ** 2).mean()
        return loss
    loss, _loss_grads = compiled_value_and_grad(_loss_fn, opt.parameters)(model, x, y)
    accumulate_grad(opt.parameters, _loss_grads)
    opt.step()
""",
        ),
        Example(
            name="autograd_grad",
            before="""\
import torch
import torch.nn.functional as F
def adapt(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float):
    loss = F.mse_loss(net(x), y)
    grads = torch.autograd.grad(loss, net.parameters())
    return [p - lr * g for p, g in zip(net.parameters(), grads)], loss
""",
            after="""\
import mindspore
from _torch_compat import grad_of, module_parameters
from mindspore import nn, ops

def adapt(net: nn.Cell, x: mindspore.Tensor, y: mindspore.Tensor, lr: float):
    def _loss_fn():
        loss = ops.mse_loss(net(x), y)
        return loss
    loss, grads = grad_of(_loss_fn, module_parameters(net))
    return [p - lr * g for p, g in zip(module_parameters(net), grads)], loss
""",
        ),
        Example(
            name="a dropped no_grad block in the same loop body",
            before="""\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in batches:
    with torch.no_grad():
        scale = y.abs().mean()
        target = y / scale
    opt.zero_grad()
    loss = ((model(x) - target) ** 2).mean()
    loss.backward()
    opt.step()
""",
            after="""\
from _torch_compat import SGD, accumulate_grad, compiled_value_and_grad, module_parameters
from mindspore import nn, ops

model = nn.Dense(3, 1)
opt = SGD(module_parameters(model), lr=0.1)
for x, y in batches:
    scale = ops.stop_gradient(y.abs().mean())
    target = ops.stop_gradient(y / scale)
    opt.zero_grad()
    def _loss_fn(model, x, target):
        loss = ((model(x) - target) ** 2).mean()
        return loss
    loss, _loss_grads = compiled_value_and_grad(_loss_fn, opt.parameters)(model, x, target)
    accumulate_grad(opt.parameters, _loss_grads)
    opt.step()
""",
        ),
        Example(
            name="attribute values become arguments of the compiled step",
            before="""\
import torch
class Trainer:
    def __init__(self, net: torch.nn.Module, l2: float):
        self.net, self.l2 = net, l2
        self.opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step(self, x: torch.Tensor, y: torch.Tensor):
        self.opt.zero_grad()
        out = self.net(x)
        loss = ((out - y) ** 2).mean() + self.l2 * (out ** 2).mean()
        loss.backward()
        self.opt.step()
""",
            after="""\
import mindspore
from _torch_compat import SGD, accumulate_grad, compiled_value_and_grad, module_parameters
from mindspore import nn

class Trainer:
    def __init__(self, net: nn.Cell, l2: float):
        self.net, self.l2 = net, l2
        self.opt = SGD(module_parameters(net), lr=0.1)

    def step(self, x: mindspore.Tensor, y: mindspore.Tensor):
        self.opt.zero_grad()
        def _loss_fn(x, y, self_net, self_l2):
            out = self_net(x)
            loss = ((out - y) ** 2).mean() + self_l2 * (out ** 2).mean()
            return loss
        loss, _loss_grads = compiled_value_and_grad(_loss_fn, self.opt.parameters)(x, y, self.net, self.l2)
        accumulate_grad(self.opt.parameters, _loss_grads)
        self.opt.step()
""",
        ),
        Example(
            name="a closure that logs stays in PyNative",
            before="""\
import torch
model = torch.nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step, (x, y) in enumerate(batches):
    opt.zero_grad()
    pred = model(x)
    if step % 100 == 0:
        print(pred.mean().item())
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    opt.step()
""",
            after="""\
from _torch_compat import SGD, accumulate_grad, module_parameters, pynative_value_and_grad
from mindspore import nn

model = nn.Dense(3, 1)
opt = SGD(module_parameters(model), lr=0.1)
for step, (x, y) in enumerate(batches):
    opt.zero_grad()
    def _loss_fn():
        pred = model(x)
        if step % 100 == 0:
            print(pred.mean().item())
        loss = ((pred - y) ** 2).mean()
        return loss
    loss, _loss_grads = pynative_value_and_grad(_loss_fn, opt.parameters)()
    accumulate_grad(opt.parameters, _loss_grads)
    opt.step()
""",
        ),
        Example(
            name="no_parameters_known",
            before="""\
import torch
def step(loss: torch.Tensor):
    loss.backward()
""",
            after="""\
import mindspore

def step(loss: mindspore.Tensor):
    # MIGRATE(unsupported): torch.Tensor.backward — no optimizer (zero_grad/step) or module zero_grad() next to this backward(): the parameters it differentiates are unknown
    loss.backward()
""",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._graph_check: Optional[_StepCheck] = None  # graph_mode's checks, for compiled steps
        self._blocks: list[Sequence[cst.BaseStatement]] = []
        self._functions: list[cst.CSTNode] = []
        self._plans: dict[int, list[_Plan]] = {}
        self._fills: Optional[dict] = None  # attribute name -> where the file fills it (_attribute_fills)

    # -- context stacks (original nodes) ---------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self._functions.append(node)
        self._blocks.append(node.body)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original, updated):
        self._functions.pop()
        return updated

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._blocks.append(node.body)

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock):
        self._blocks.pop()
        body = self._apply(original.body, list(updated.body))
        return updated if body is None else updated.with_changes(body=body)

    def leave_Module(self, original: cst.Module, updated: cst.Module):
        self._blocks.pop()
        self._functions.pop()
        body = self._apply(original.body, list(updated.body))
        return updated if body is None else updated.with_changes(body=body)

    # -- analysis, at the backward() statement (types are asked there) ------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        grad_call = self._autograd_grad(node)
        if grad_call is not None:
            self._register(node, grad_call, lambda block, j: self._grad_plan(block, j, node, grad_call))
            return
        call = _method_call(node, "backward")
        if call is None:
            return
        loss = self._unscaled(call.func.value) or call.func.value
        kind = getattr(self.ctx.type_of(loss), "kind", None)
        if kind != "tensor" and not (kind is None and self._optimizer_brackets(node, call)):
            return  # not a tensor's backward(): the table reports it (or it is not torch at all)
        self._register(node, call, lambda block, j: self._plan(block, j, call))

    def _optimizer_brackets(self, node: cst.SimpleStatementLine, call: cst.Call) -> bool:
        """``loss.backward()`` on a ``loss`` of unknown type (``loss = self.loss_func(out)``, the
        loss module an argument) is a tensor's when it takes no argument and an optimizer's
        ``zero_grad()``/``step()`` (or a module's ``zero_grad()``) surround it, as they do a
        torch training step: the parameters ``_weights`` finds."""
        if call.args or not isinstance(call.func.value, cst.Name):
            return False
        block, index = self._position(node)
        return index is not None and self._weights(block, index) is not None

    def _position(self, node: cst.SimpleStatementLine) -> tuple:
        """The innermost block being visited and ``node``'s index in it (None: not there)."""
        if not self._blocks:
            return None, None
        block = self._blocks[-1]
        return block, next((i for i, s in enumerate(block) if s is node), None)

    def _register(self, node: cst.SimpleStatementLine, call: cst.Call, make_plan) -> None:
        """Claim ``call`` and keep ``make_plan(block, index of node)``'s plan (None: reported)
        for when the block that holds ``node`` is left."""
        block, index = self._position(node)
        if index is None:
            return
        self.ctx.claim(call)
        plan = make_plan(block, index)
        if plan is not None:
            self._plans.setdefault(id(block), []).append(plan)

    def _is_scaler(self, node: cst.BaseExpression) -> bool:
        t = self.ctx.type_of(node)
        return t is not None and t.kind == "object" and t.cls in _GRAD_SCALERS

    def _unscaled(self, expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """``loss`` for ``scaler.scale(loss)`` on a GradScaler (the helper's scale is the identity:
        float32 training needs no loss scaling), else None."""
        if (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "scale"
                and len(expr.args) == 1 and expr.args[0].keyword is None and not expr.args[0].star
                and self._is_scaler(expr.func.value)):
            return expr.args[0].value
        return None

    def _plan(self, block, j: int, call: cst.Call) -> Optional[_Plan]:
        rule = "torch.Tensor.backward"
        loss = self._unscaled(call.func.value) or call.func.value
        if call.args or not isinstance(loss, cst.Name):
            self.ctx.unsupported(call, rule, "backward() with arguments or on an expression; only `name.backward()` is rewritten")
            return None
        weights = self._weights(block, j)
        if weights is None:
            stepper = self._project_stepper(block, j)
            if stepper is not None:
                self.ctx.unsupported(call, rule, f"the step() after this backward() is called on {stepper}: a class "
                                                 "of this project, not a torch optimizer, so the parameters it "
                                                 "differentiates are unknown (step the optimizer it holds)")
            else:
                self.ctx.unsupported(call, rule, "no optimizer (zero_grad/step) or module zero_grad() next to this "
                                                 "backward(): the parameters it differentiates are unknown")
            return None
        found = self._slice(block, j, loss.value, call, rule, outside=reads(weights), guards=True)
        if found is None:
            return None
        first, aux, carried, split = found
        return _Plan(j, loss.value, first, weights, aux, call, carried, split=split)

    def _autograd_grad(self, node: cst.SimpleStatementLine) -> Optional[cst.Call]:
        """The call in ``target = torch.autograd.grad(...)``, else None."""
        if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1 \
                or not isinstance(node.body[0], cst.Assign) or len(node.body[0].targets) != 1:
            return None
        value = node.body[0].value
        if isinstance(value, cst.Call) and self.ctx.torch_name(value.func) == "torch.autograd.grad":
            return value
        return None

    def _no_grad(self, stmt: cst.BaseStatement) -> bool:
        """Whether ``stmt`` is a ``with torch.no_grad():`` (or ``inference_mode``) block."""
        return isinstance(stmt, cst.With) and any(guard_name(self.ctx, item.item) for item in stmt.items)

    def _takes_grad(self, stmt: cst.BaseStatement) -> bool:
        """Whether a compound statement calls torch.autograd.grad somewhere inside."""
        if not isinstance(stmt, cst.BaseCompoundStatement):
            return False
        ctx, found = self.ctx, []

        class V(cst.CSTVisitor):
            def visit_Call(self, n: cst.Call) -> None:
                if ctx.torch_name(n.func) == "torch.autograd.grad":
                    found.append(n)

        stmt.visit(V())
        return bool(found)

    def _grad_plan(self, block, j: int, node: cst.SimpleStatementLine, call: cst.Call) -> Optional[_Plan]:
        rule = "torch.autograd.grad"
        positional = [a for a in call.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if any(a.star for a in call.args) or len(positional) != 2 or not isinstance(positional[0].value, cst.Name):
            self.ctx.unsupported(call, rule, "only torch.autograd.grad(name, inputs, ...) is rewritten: the loss must "
                                             "be a name computed in this block")
            return None
        for name, value in keywords.items():
            literal = value.value if isinstance(value, cst.Name) else None
            if name in ("retain_graph", "only_inputs"):
                continue  # MindSpore keeps no graph to free
            if name in ("create_graph", "allow_unused", "materialize_grads") and literal in ("False", "None"):
                continue
            why = {"create_graph": "higher-order gradients (create_graph=True) need the closure differentiated "
                                   "again inside the outer one: write that nesting by hand",
                   "allow_unused": "allow_unused=True: torch gives None for an unused input, MindSpore zeros",
                   "grad_outputs": "grad_outputs=v: differentiate (outputs * v).sum() instead"}.get(
                       name, f"argument `{name}=` has no mapping")
            self.ctx.unsupported(call, rule, why)
            return None
        loss = positional[0].value.value
        found = self._slice(block, j, loss, call, rule, outside=reads(positional[1].value))
        if found is None:
            return None
        first, aux, carried, _ = found
        return _Plan(j, loss, first, None, aux, call, carried, grads_target=node.body[0].targets[0].target)

    def _slice(self, block, j: int, loss: str, call: cst.Call, rule: str, outside: set = frozenset(),
               guards: bool = False):
        """(first statement, aux names, carried names, end) of the statements before ``block[j]``
        that compute ``loss``, or None (reported).  ``outside``: the names the differentiated
        parameters are read through (the optimizer); the statement binding one of them (``opt =
        Adam(net.parameters())`` in straight-line code) and those before it stay outside the
        closure, whose parameters must exist before it is called.  With ``guards``, a statement
        between the loss and its backward that may leave the loop or function early (``if
        torch.isnan(loss): continue``) ends the closure there (``end``, else ``j``): the
        gradients are taken before it, as torch's forward ran before it, and stored at the
        backward (a statement after the guard that binds the loss again makes the guard a
        barrier, as before: the loss is then computed after it)."""
        removed = self.ctx.removed_statements  # earlier statements of the block are converted by now
        needed, first, barrier, end = {loss}, None, None, j
        for i in range(j - 1, -1, -1):
            if id(block[i]) in removed:
                continue
            if guards and first is None and self._guard(block[i]):
                end = i
                continue
            if (_is_barrier(block[i]) or self._autograd_grad(block[i]) is not None or self._takes_grad(block[i])
                    or binds(block[i]) & outside):
                barrier = i
                break
            if self._no_grad(block[i]):
                continue  # its values are constants to the step (stop_gradient where it rides along)
            if binds(block[i]) & needed:
                first = i
                needed |= reads(block[i])
        if first is None:
            self.ctx.unsupported(call, rule, f"`{loss}` is not computed in this block: move its computation next to it")
            return None
        body = [s for s in block[first:end] if id(s) not in removed]
        free = free_reads(body)  # what the closure reads from outside, or before binding it
        # a name read only as `x.detach()`/`x.data` is a constant to torch's backward as well (a GAN's
        # discriminator step reading the generator's output from before `optimizer_G.step()`)
        constants = free - _detached_only(body, free) - outside  # the optimizer is no value of the loss
        if barrier is not None and not self._constants_before(block, barrier, constants, call, rule):
            return None
        if any(_escapes(s) for s in body):
            self.ctx.unsupported(call, rule, "the loss computation contains return/break/continue/yield")
            return None
        held = self._accumulated_elsewhere(body)
        if held:
            names = " and ".join(f"`{attr}`" for attr, _ in held)
            where = ", ".join(f"`{_first_line(statement)}`" for _, statement in held)
            self.ctx.unsupported(call, rule, f"the loss reads {names}, whose items are computed outside the "
                                             f"differentiated closure ({where}): no gradient would flow through "
                                             "them; compute them inside the step")
            return None
        # a name the computation reads before (re)binding it (`x = x.to(device)`) would be local
        # to the closure and unbound there: it becomes a parameter defaulting to its current value
        all_bound = set().union(*(binds(s) for s in body))
        carried = free & all_bound
        # a carried name's new value leaves the closure too: read again after it, or by the
        # same statements in the loop's next iteration (an LSTM's `hidden = repackage(hidden)`,
        # then `output, hidden = model(x, hidden)`), it would otherwise stay the old one
        aux = sorted(((all_bound - {loss}) & reads(self._functions[-1], skip=body)) | (carried - {loss}))
        return first, aux, sorted(carried), end

    def _guard(self, stmt: cst.BaseStatement) -> bool:
        """``if <test>: continue`` (or break/return/raise, with statements before it): a compound
        statement that may leave the block early and holds no step(), backward() nor gradient."""
        return (isinstance(stmt, cst.If) and _escapes(stmt) and not any(_is_barrier(s) for s in _statements_in(stmt))
                and self._autograd_grad(stmt) is None and not self._takes_grad(stmt))

    def _constants_before(self, block, barrier: int, free: set, call: cst.Call, rule: str) -> bool:
        """The closure reads names (``free``) that statements before ``block[barrier]`` bind: to it
        they are constants, through which no gradient flows. True when none of them may depend
        on parameters (a module call, a parameter read or a call of unknown code on the way);
        else the site is reported (False): torch would have differentiated through them."""
        removed = self.ctx.removed_statements
        needed = set(free)
        for i in range(barrier, -1, -1):
            s = block[i]
            if id(s) in removed or self._no_grad(s) or not binds(s) & needed or self._binds_module(s):
                continue
            if self._may_carry_gradient(s):
                names = ", ".join(f"`{n}`" for n in sorted(binds(s) & free)) or "a value it needs"
                self.ctx.unsupported(call, rule, f"the loss needs {names}, computed by `{_first_line(s)}` before "
                                                 f"`{_first_line(block[barrier])}`, which cannot move into the "
                                                 "differentiated closure: no gradient would flow through it there; "
                                                 "compute it after that statement")
                return False
            needed |= reads(s)
        return True

    def _binds_module(self, stmt: cst.BaseStatement) -> bool:
        """``net = Net()``, ``opt = Adam(...)``: a statement binding a module or an optimizer, no
        value a gradient flows through (the closure differentiates the module's parameters)."""
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
                and isinstance(stmt.body[0], cst.Assign)):
            return False
        return getattr(self.ctx.type_of(stmt.body[0].value), "kind", None) in ("module", "optimizer")

    def _accumulated_elsewhere(self, body) -> list:
        """[(code, statement)] for each module attribute the closure reads (``policy.saved_log_probs``)
        that a statement outside it fills (``.append``/``.extend``/``.insert``, or assigns outside
        ``__init__``: ``self.last = self.encoder(x)`` in another method) with values that may
        depend on parameters (REINFORCE's log-probabilities, computed while acting): differentiated
        inside the closure they would be constants, so torch's gradient through them would be
        lost, silently."""
        ctx = self.ctx
        read: dict[str, str] = {}

        class R(cst.CSTVisitor):
            def visit_Attribute(self, n: cst.Attribute) -> None:
                if getattr(ctx.type_of(n.value), "kind", None) == "module":
                    read.setdefault(n.attr.value, code_text(n))

        for stmt in body:
            stmt.visit(R())
        if not read:
            return []
        inside = {id(n) for stmt in body for n in _nodes(stmt)}
        held = []
        for attr, code in sorted(read.items()):
            for statement, value, fdef in self._attribute_fills().get(attr, ()):
                if id(statement) not in inside and self._depends_on_parameters(value, fdef):
                    held.append((code, statement))
                    break
        return held

    def _attribute_fills(self) -> dict:
        """{attribute name: [(statement, value, enclosing function)]} for every
        ``<expr>.<attribute>.append(value)`` (extend, insert) in the file, and every
        ``<expr>.<attribute> = value`` outside ``__init__`` whose value is not a module or an
        optimizer (computed once)."""
        if self._fills is None:
            fills: dict = {}
            functions: list = []
            ctx = self.ctx

            class F(cst.CSTVisitor):
                def visit_FunctionDef(self, n: cst.FunctionDef) -> None:
                    functions.append(n)

                def leave_FunctionDef(self, n: cst.FunctionDef) -> None:
                    functions.pop()

                def visit_SimpleStatementLine(self, n: cst.SimpleStatementLine) -> None:
                    for small in n.body:
                        if (isinstance(small, cst.Assign) and functions and functions[-1].name.value != "__init__"
                                and getattr(ctx.type_of(small.value), "kind", None) not in ("module", "optimizer")):
                            for target in small.targets:  # self.last = model(x) in another method
                                if isinstance(target.target, cst.Attribute):
                                    fills.setdefault(target.target.attr.value, []).append(
                                        (n, small.value, functions[-1]))
                        c = small.value if isinstance(small, cst.Expr) else None
                        if (isinstance(c, cst.Call) and isinstance(c.func, cst.Attribute) and c.args
                                and c.func.attr.value in ("append", "extend", "insert")
                                and isinstance(c.func.value, cst.Attribute)):
                            fills.setdefault(c.func.value.attr.value, []).append(
                                (n, c.args[-1].value, functions[-1] if functions else None))

            self.ctx.module.visit(F())
            self._fills = fills
        return self._fills

    def _depends_on_parameters(self, value: cst.BaseExpression, fdef) -> bool:
        """``value`` may compute with parameters: it calls a module or unknown code itself, or reads
        a name that a statement of its function binds that way (followed through that function)."""
        if self._may_carry_gradient(value):
            return True
        if fdef is None:
            return False
        statements = [n for n in _nodes(fdef.body) if isinstance(n, cst.SimpleStatementLine)]
        needed, changed = reads(value), True
        while changed:
            changed = False
            for stmt in statements:
                if binds(stmt) & needed:
                    if self._may_carry_gradient(stmt):
                        return True
                    more = reads(stmt) - needed
                    if more:
                        needed |= more
                        changed = True
        return False

    def _may_carry_gradient(self, stmt: cst.CSTNode) -> bool:
        """Whether ``stmt`` may compute with parameters: it calls a module or code that is neither
        torch's nor a tensor's method nor a builtin, or reads an attribute of a module."""
        ctx = self.ctx
        found = []

        class V(cst.CSTVisitor):
            def visit_Call(self, n: cst.Call) -> None:
                func = n.func
                if ctx.torch_name(func) is not None:
                    return
                kind = getattr(ctx.type_of(func), "kind", None)
                if kind == "tensor_type":
                    return  # Tensor(n, 1) with Tensor = torch.FloatTensor: a new tensor
                if kind == "module":
                    found.append(n)  # a module called
                elif isinstance(func, cst.Attribute):
                    if (getattr(ctx.type_of(func.value), "kind", None) in ("module", "object")
                            or _unknown_object_method(ctx, func)):
                        # a module's method, a call through an object (`self.model(x)` in a trainer
                        # class, `dist.log_prob(a)`), or a method torch's tensors do not have on a
                        # receiver of unknown type (`model.encode(x)`); a tensor's method is
                        # followed through its receiver's name
                        found.append(n)
                elif not (isinstance(func, cst.Name) and func.value in _BUILTINS):
                    found.append(n)  # a function of unknown code

            def visit_Attribute(self, n: cst.Attribute) -> None:
                if getattr(ctx.type_of(n.value), "kind", None) == "module":
                    found.append(n)

            def visit_FunctionDef(self, n) -> bool:
                return False

            def visit_Lambda(self, n) -> bool:
                return False

        stmt.visit(V())
        return bool(found)

    def _weights(self, block, j: int) -> Optional[cst.BaseExpression]:
        """The expression naming the parameters that backward() feeds: the optimizer whose
        ``step()`` follows it in its block (before any other backward()), else the nearest
        ``zero_grad()``/``step()`` before it (an optimizer's, or a module's ``zero_grad()``),
        else the same in the enclosing blocks, innermost first. (Two networks trained in one
        loop body, as in a GAN, each get their own optimizer's parameters.)"""
        after = []
        for stmt in block[j + 1:]:
            if _method_call(stmt, "backward") is not None:
                break
            after.append(stmt)
        orders = [[s for s in after if _method_call(s, "step") is not None], list(reversed(block[:j]))]
        orders += [list(b) for b in reversed(self._blocks[:-1])]
        for candidates in orders:
            for stmt in candidates:
                for method in ("zero_grad", "step"):
                    call = _method_call(stmt, method)
                    if call is None:
                        continue
                    owner = self._stepped(call) if method == "step" else call.func.value
                    if owner is None:
                        continue
                    kind = getattr(self.ctx.type_of(owner), "kind", None)
                    if kind == "optimizer":
                        return cst.Attribute(value=owner.deep_clone(), attr=cst.Name("parameters"))
                    if kind == "module" and method == "zero_grad":
                        return cst.Call(func=cst.Attribute(value=owner.deep_clone(), attr=cst.Name("trainable_params")))
        return self._untyped_optimizer(orders, after) or self._untyped_zero_grad(orders)

    def _untyped_zero_grad(self, orders) -> Optional[cst.BaseExpression]:
        """``zero_grad_parameters(x)`` where no ``step()`` follows the backward and the nearest
        ``zero_grad()`` before it is on something the tool could not type (PyTorch's
        word_language_model: ``model.zero_grad()``, ``loss.backward()``, then a hand-written SGD
        update over ``model.parameters()``, with ``model`` an argument): the helper returns a
        Cell's trainable parameters or an optimizer's, and refuses anything else at run time."""
        if orders[0]:
            return None
        for candidates in orders[1:]:
            for stmt in candidates:
                call = _method_call(stmt, "zero_grad")
                if call is None:
                    continue
                if self.ctx.type_of(call.func.value) is not None or call.args:
                    return None  # the nearest zero_grad() is typed (and was not a module's or an optimizer's)
                return cst.Call(func=self.ctx.helper("zero_grad_parameters"), args=[cst.Arg(call.func.value.deep_clone())])
        return None

    def _project_stepper(self, block, j: int) -> Optional[str]:
        """``self.optim`` when the ``step()`` after the backward is called on an instance of one of
        the project's own classes that is no optimizer (a wrapper around one)."""
        for stmt in block[j + 1:]:
            call = _method_call(stmt, "step")
            if call is None:
                continue
            t = self.ctx.type_of(call.func.value)
            if t is not None and t.kind == "object" and (t.cls or "").startswith(("project:", "local:")):
                return f"`{code_text(call.func.value).strip()}`, an instance of {t.cls.split(':', 1)[1]}"
        return None

    def _stepped(self, call: cst.Call) -> Optional[cst.BaseExpression]:
        """What a ``step()`` call steps: its receiver, or the optimizer of ``scaler.step(opt)``
        on a GradScaler (the helper's ``step`` steps it)."""
        if self._is_scaler(call.func.value):
            first = call.args[0] if call.args else None
            return first.value if first is not None and first.keyword is None and not first.star else None
        return call.func.value

    def _untyped_optimizer(self, orders, after: list) -> Optional[cst.BaseExpression]:
        """``optimizer_parameters(opt)`` where ``opt.step()`` follows the backward and
        ``opt.zero_grad()`` precedes it (this block or an enclosing one), or follows the step in
        this block (``loss.backward(); opt.step(); opt.zero_grad()``, ready for the next
        iteration), on an object whose type the tool could not tell (``optim = self.optim``, set
        from a user's argument or a string): the helper returns a MindSpore optimizer's parameters
        and refuses anything else at run time."""
        for stmt in orders[0]:
            call = _method_call(stmt, "step")
            target = self._stepped(call) if call is not None else None
            if target is None or call.args and not self._is_scaler(call.func.value) \
                    or self.ctx.type_of(target) is not None:
                continue
            owner = code_text(target)
            for candidates in [after[after.index(stmt) + 1:], *orders[1:]]:
                for before in candidates:
                    zero = _method_call(before, "zero_grad")
                    if zero is not None and code_text(zero.func.value) == owner:
                        return cst.Call(func=self.ctx.helper("optimizer_parameters"), args=[cst.Arg(target.deep_clone())])
        return None

    # -- the rewrite --------------------------------------------------------------------
    def _apply(self, orig: Sequence[cst.BaseStatement], new: list) -> Optional[list]:
        plans = self._plans.pop(id(orig), None)
        if not plans:
            return None
        # where each original statement sits in the converted block (statements the conversion
        # removed, like `x = x.to(device)`, sit nowhere; the next one takes their place; a
        # dropped `with torch.no_grad():` spans its body's statements)
        position, sizes, k = [], [], 0
        for stmt in orig:
            position.append(k)
            sizes.append(self.ctx.statement_sizes.get(id(stmt), 1))
            k += sizes[-1]
        if k != len(new) or any(sizes[plan.index] != 1 for plan in plans):
            for plan in plans:
                self.ctx.unsupported(plan.call, plan.rule, "another rewrite changed this block; convert this by hand")
            return None
        out = list(new)
        for plan in sorted(plans, key=lambda p: p.index, reverse=True):
            first, index = position[plan.first], position[plan.index]
            if plan.grads_target is not None:
                out[first:index + 1] = self._emit_grad(out, plan, first, index)
                self.ctx.converted(plan.call, plan.rule,
                                   "the statements computing the loss became a closure; _torch_compat.grad_of "
                                   "differentiates it with respect to the inputs (which must be Parameters)")
                continue
            out[first:index + 1] = self._emit(out, plan, first, index, orig[plan.first:plan.split], position[plan.split])
            self.ctx.converted(plan.call, plan.rule)
        return out

    def _closure(self, new: list, plan: _Plan, first: int, j: int) -> tuple[cst.FunctionDef, list[str]]:
        returned = [plan.loss] + plan.aux
        params = [cst.Param(cst.Name(n), default=cst.Name(n),
                            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
                  for n in plan.carried]
        return self._function(plan, new[first:j], params, returned, new[first].leading_lines), returned

    def _function(self, plan: _Plan, body: Sequence[cst.BaseStatement], params: list, returned: list[str],
                  leading_lines) -> cst.FunctionDef:
        """``def _<loss>_fn(<params>): <body>; return <returned>``."""
        body = [s.with_changes(leading_lines=()) if k == 0 else s for k, s in enumerate(body)]
        return cst.FunctionDef(
            name=cst.Name(self._fresh(f"_{plan.loss}_fn")),
            params=cst.Parameters(params=params),
            body=cst.IndentedBlock(body=body + [cst.parse_statement("return " + ", ".join(returned))]),
            leading_lines=leading_lines,
        )

    def _emit_grad(self, new: list, plan: _Plan, first: int, j: int) -> list:
        """``g = torch.autograd.grad(loss, inputs)`` -> the closure and ``loss, g = grad_of(fn, inputs)``."""
        fn, returned = self._closure(new, plan, first, j)
        converted = new[j].body[0].value  # the call, its arguments converted (inputs: trainable_params())
        inputs = [a.value for a in converted.args if a.keyword is None][1]
        has_aux, outputs = _aux(returned)
        args = [cst.Arg(cst.Name(fn.name.value)), cst.Arg(inputs), *has_aux]
        assign = cst.SimpleStatementLine([cst.Assign(
            targets=[cst.AssignTarget(cst.Tuple([cst.Element(outputs), cst.Element(plan.grads_target.deep_clone())],
                                                lpar=[], rpar=[]))],
            value=cst.Call(func=self.ctx.helper("grad_of"), args=args))],
            trailing_whitespace=new[j].trailing_whitespace)
        return [fn, assign]

    def _emit(self, new: list, plan: _Plan, first: int, j: int, originals: Sequence[cst.BaseStatement],
              end: int) -> list:
        """The closure of ``new[first:end]``, its value_and_grad call, the statements from ``end``
        to the backward (a guard; none where ``end`` is ``j``), and the gradients stored at the
        backward (``new[j]``)."""
        compiled = self._compiled_step(new, plan, first, j, originals, end)
        if compiled is not None:
            return compiled
        fn, returned = self._closure(new, plan, first, end)
        fn_name = fn.name.value
        grads_name = self._fresh(f"_{plan.loss}_grads")
        has_aux, outputs = _aux(returned)
        args = [cst.Arg(cst.Name(fn_name)), cst.Arg(plan.weights.deep_clone()), *has_aux]
        value = cst.Call(func=cst.Call(func=self.ctx.helper("pynative_value_and_grad"), args=args))
        return [fn, self._grads_assign(outputs, grads_name, value), *new[end:j], self._store(plan, grads_name, new[j])]

    def _grads_assign(self, outputs: cst.BaseExpression, grads_name: str, value: cst.BaseExpression):
        return cst.SimpleStatementLine([cst.Assign(
            targets=[cst.AssignTarget(cst.Tuple([cst.Element(outputs), cst.Element(cst.Name(grads_name))],
                                                lpar=[], rpar=[]))],
            value=value)])

    def _store(self, plan: _Plan, grads_name: str, backward: cst.SimpleStatementLine):
        return cst.SimpleStatementLine(
            [cst.Expr(cst.Call(func=self.ctx.helper("accumulate_grad"),
                               args=[cst.Arg(plan.weights.deep_clone()), cst.Arg(cst.Name(grads_name))]))],
            trailing_whitespace=backward.trailing_whitespace)

    # -- the compiled form --------------------------------------------------------------
    def _compiled_step(self, new: list, plan: _Plan, first: int, j: int,
                       originals: Sequence[cst.BaseStatement], end: int) -> Optional[list]:
        """The step as ``compiled_value_and_grad(fn, weights)(*args)`` (one graph for the
        forward and backward), or None (reported) where the closure may not behave as a graph:
        its statements must be plain assignments the graph-mode check accepts; ``zero_grad()``
        calls among them move before it, and so do its leading statements that no parameter
        reaches (no module, module attribute or unknown function: ``xb = x[:, i:j]``), whose
        values then enter the graph as inputs instead of constants it is compiled for.  Every
        name it reads from an enclosing scope becomes an argument, and so does every attribute
        value it reads (``self.cfg.lr``): the helper keys its graphs on their values, so a changed
        number recompiles instead of going stale."""
        if not self.ctx.jit:
            return None
        kept = [o for o in originals if id(o) not in self.ctx.removed_statements]
        body = list(new[first:end])
        if len(kept) != len(body):  # a statement became several (or none): positions do not line up
            self.ctx.report_step(plan.call, "the loss closure holds a statement another rewrite expanded")
            return None
        hoisted, closure, why = [], [], None
        zero_grads = self.ctx.helper_names("zero_grad", "zero_grad_of")
        for original, stmt in zip(kept, body):
            if _is_zero_grad(stmt, zero_grads) and not reads(stmt) & set().union(set(), *(binds(s) for s in closure)):
                hoisted.append(stmt)
                continue
            if not closure and _shape_problem(original) is None and not self._may_carry_gradient(original):
                hoisted.append(stmt)  # a leading value no parameter reaches (`xb = x[:, i:j]`): an input
                continue
            why = _shape_problem(original) or self._graph_problem(original)
            if why:
                break
            closure.append(stmt)
        if why is None and not closure:
            why = "nothing to differentiate"
        if why is not None:
            self.ctx.report_step(plan.call, f"the loss closure {why}")
            return None
        local_binds = self._enclosing_binds()
        inner = _comprehension_names(closure)
        order = _names_in_order(closure)
        free = (free_reads(closure) - inner) & local_binds
        names = [n for n in order if n in free]
        bound_inside = set().union(*(binds(s) for s in closure))
        taken = binds(self._functions[-1]) | reads(self._functions[-1]) | set(order)
        lifter = _Chains(frozenset(n for n in names if n not in bound_inside), taken, self._called_modules(kept))
        closure = [s.visit(lifter) for s in closure]
        still_read = free_reads(closure)  # a name read only through lifted values is not passed
        names = [n for n in names if n in still_read]
        params = names + [name for name, _ in lifter.lifted.values()]
        args = [cst.Name(n) for n in names] + [expr.deep_clone() for _, expr in lifter.lifted.values()]

        outside = set().union(set(), *(binds(s) for s in hoisted))
        returned = [plan.loss] + [name for name in plan.aux if name not in outside]
        lead = new[first].leading_lines
        fn = self._function(plan, closure, [cst.Param(cst.Name(n)) for n in params], returned,
                            () if hoisted else lead)
        fn_name = fn.name.value
        if hoisted:
            hoisted[0] = hoisted[0].with_changes(leading_lines=lead)
        grads_name = self._fresh(f"_{plan.loss}_grads")
        has_aux, outputs = _aux(returned)
        value = cst.Call(
            func=cst.Call(func=self.ctx.helper("compiled_value_and_grad"),
                          args=[cst.Arg(cst.Name(fn_name)), cst.Arg(plan.weights.deep_clone()), *has_aux]),
            args=[cst.Arg(a) for a in args])
        self.ctx.report_step(plan.call, None)
        return hoisted + [fn, self._grads_assign(outputs, grads_name, value), *new[end:j],
                          self._store(plan, grads_name, new[j])]

    def _called_modules(self, originals: Sequence[cst.BaseStatement]) -> frozenset:
        """The code of the attribute chains the statements call that are modules (``self.loss_fn``
        in ``self.loss_fn(pred, y)``), read from the original statements' types."""
        found: set = set()
        ctx = self.ctx

        class V(cst.CSTVisitor):
            def visit_Call(self, n: cst.Call) -> None:
                kind = getattr(ctx.type_of(n.func), "kind", None)
                if isinstance(n.func, cst.Attribute) and kind == "module":
                    found.add(code_text(n.func))

        for stmt in originals:
            stmt.visit(V())
        return frozenset(found)

    def _graph_problem(self, stmt: cst.BaseStatement) -> Optional[str]:
        """graph_mode's check (what a compiled construct may do) on one original statement."""
        if self._graph_check is None:
            self._graph_check = _StepCheck(self.ctx)
        fdef = self._functions[-1]
        info = self.ctx.types.class_of(fdef) if isinstance(fdef, cst.FunctionDef) else None
        scope = self.ctx.types.scopes.get(id(fdef))
        check = self._graph_check
        checker = _Checker(check, info, check._frozen(info) if info else frozenset(), set(), scope)
        stmt.visit(checker)
        return checker.reason

    def _enclosing_binds(self) -> set[str]:
        """Names bound in the enclosing functions (parameters too) and by the module's own
        statements (not its imports, functions or classes: graph mode resolves those)."""
        names: set[str] = set()
        for node in self._functions:
            if isinstance(node, cst.FunctionDef):
                p = node.params
                for param in (*p.posonly_params, *p.params, *p.kwonly_params):
                    names.add(param.name.value)
                for star in (p.star_arg, p.star_kwarg):
                    if isinstance(star, cst.Param):
                        names.add(star.name.value)
                body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
                for stmt in body:
                    names |= binds(stmt)
            else:
                for stmt in node.body:
                    if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                        names |= binds(stmt)
        return names

    def _fresh(self, base: str) -> str:
        taken = binds(self._functions[-1]) | reads(self._functions[-1])
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}{k}"
        return name
