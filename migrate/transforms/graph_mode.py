"""``construct`` compiled as a graph (``@jit_construct``, mindspore.jit) where it provably can be.

In PyNative mode every small MindSpore op costs ~0.2 ms on a CPU; a ``construct``
under ``mindspore.jit`` runs as one compiled graph, and ``value_and_grad`` over it
differentiates the graph instead of replaying op by op (a MAMO learner step: 62 ms
PyNative, 8 ms jitted).  Graph mode only accepts a subset of Python, and it
freezes what it reads from ``self`` that is not a Parameter: so the decorator is
added only when a conservative check of ``forward`` (and of the methods, module
functions and same-file sub-modules it calls) finds nothing that could behave
differently in a graph.  Every decision is reported: ``graph`` for a jitted
class, ``pynative`` with the reason otherwise.

What the check refuses (a reason names the first one found):
- statements graph mode rejects or runs differently: try, ``with`` (but for
  ``torch.no_grad()``/``inference_mode()``, which ``no_grad.py`` removes, wrapping the
  block's values in ``ops.stop_gradient`` inside ``forward``, and ``autocast()``, which it
  removes as it is), del, global,
  nonlocal, yield, import, nested def/class, lambda, set comprehensions, and ``raise``
  of anything but Python's standard exceptions (MindSpore 2.10 accepts ``assert`` and
  ``raise ValueError(...)``-like statements, checked at run time, measured: a custom
  exception class fails to compile even on a branch never taken)
  ("Unsupported expression 'SetComp'" in MindSpore 2.10; generator expressions and dict
  comprehensions compile, measured: generators handed to ``sum``/``tuple``/``list``/
  ``max``/``any`` or bound to a name, dicts built and indexed with int or str keys);
- side effects: assigning an attribute or an item, in-place tensor methods
  (``add_``...), ``.item()``/``.tolist()``/``.numpy()``/``.backward()``, print;
- reading ``self.x`` where ``x`` is reassigned, or mutated in place while not
  a Parameter or buffer, outside ``__init__`` (a graph would keep the old value);
- calling what it cannot see: functions of other modules than torch, sub-modules
  of another file's classes or of unknown type, builtins outside a small pure set;
- torch calls whose conversion builds a Python object (``returns: object`` in the table:
  ``pack_padded_sequence``'s PackedSequence, a GradScaler, a sparse tensor) or takes one
  (``torch.sparse.mm``), and any call handed a value known to hold one (``self.adj`` built
  by ``torch.sparse_coo_tensor`` in ``__init__``);
- decorated ``forward`` methods (and calls of decorated methods and functions), but for the
  decorators ``no_grad.py`` drops, and torch sites in ``forward`` left unconverted;
- a ``forward`` that returns a dict (a display, a comprehension, ``dict(...)``, or a name
  bound to one): MindSpore 2.10 on a CPU fails inside ``value_and_grad`` ("device address
  does not exist") when a compiled construct's output is a dict and the graph holds a
  BatchNorm, LayerNorm or GroupNorm (measured; a tuple output, a dict nested in a tuple,
  or the same construct in PyNative differentiate fine).  Sub-modules are unaffected:
  only the outermost graph's output matters.

A compiled construct's list comprehensions, and those of the class's own pure methods
it calls (compiled into the same graph), are written as plain loops where that is
provably the same (``migrate/comprehensions.py``): MindSpore 2.10 compiles a
comprehension about twice as slowly as the loop.

The decorator is the helper's ``jit_construct``: ``mindspore.jit``, which compiles once per
instance and input shapes, except for a class whose instances are made anew faster than they
are used (a module built inside every call), whose later instances run in PyNative until one
has been called often enough to pay for its compilation.  At run time ``MS_JIT=0`` turns every
``mindspore.jit`` back into PyNative; ``python -m migrate --no-jit`` does not emit it at all.
"""

from __future__ import annotations

import ast
import builtins
from typing import Optional

import libcst as cst

from migrate.codemod import NEEDS_PERSON, code_text, object_rule
from migrate.comprehensions import CONSUMERS, loops_for_comprehensions
from migrate.transforms.no_grad import dropped_context
from migrate.transforms import Example, Transform, register
from migrate.typeinfer import ClassInfo, is_parameter_dict, is_parameter_list

#: builtins that are pure and that MindSpore's graph compiler evaluates
_PURE_BUILTINS = frozenset({
    "len", "range", "zip", "enumerate", "tuple", "list", "int", "float", "bool", "isinstance",
    "min", "max", "abs", "reversed", "sum", "all", "any", "slice", "super",
})
_BUILTINS = frozenset(dir(builtins))
#: torch functions whose conversions take a helper object (the helper's SparseTensor) as an argument
_OBJECT_TAKERS = frozenset({"torch.sparse.mm", "torch.spmm"})
#: functions of Python's math module, which MindSpore's graph compiler evaluates (measured in
#: 2.10 on ints, floats, shapes and even a 0-d Parameter: math.sqrt, log, exp, floor, cos
#: compiled and gave Python's values)
_PURE_MATH = frozenset(f"math.{n}" for n in (
    "sqrt", "log", "log2", "log10", "log1p", "exp", "expm1", "floor", "ceil", "trunc", "cos", "sin", "tan",
    "acos", "asin", "atan", "atan2", "cosh", "sinh", "tanh", "pow", "fabs", "hypot", "erf", "radians",
    "degrees", "isqrt", "prod", "gcd",
))
#: tensor methods that leave the graph (host sync) or have side effects
_HOST_METHODS = frozenset({"item", "tolist", "numpy", "backward", "register_buffer", "register_parameter"})
_REJECTED_NODES = {
    cst.Try: "try", cst.TryStar: "try",
    cst.Del: "del", cst.Global: "global", cst.Nonlocal: "nonlocal", cst.Yield: "yield",
    cst.Await: "await", cst.Import: "import", cst.ImportFrom: "import", cst.ClassDef: "a nested class",
    cst.FunctionDef: "a nested function", cst.Lambda: "lambda",
    cst.SetComp: "a set comprehension", cst.Match: "match",
}


#: the exceptions MindSpore 2.10's graph mode can raise (its own error message lists them)
_GRAPH_EXCEPTIONS = frozenset({
    "AssertionError", "AttributeError", "BaseException", "EnvironmentError", "Exception", "IOError",
    "IndentationError", "IndexError", "KeyError", "KeyboardInterrupt", "MemoryError", "NameError",
    "NotImplementedError", "OSError", "OverflowError", "RuntimeError", "RuntimeWarning", "StopIteration",
    "TypeError", "UnboundLocalError", "ValueError", "ZeroDivisionError",
})


def _is_builtin(name: str, scope) -> bool:
    """``name`` is Python's builtin here (no enclosing scope binds it)."""
    if name not in _BUILTINS:
        return False
    while scope is not None:
        if name in scope.bindings:
            return False
        scope = scope.parent
    return True


def _is_torch(qualified: str) -> bool:
    return qualified == "torch" or qualified.startswith("torch.")


class _OneLineRaises(cst.CSTTransformer):
    """``raise ValueError("... %d" %\n    (len(x.shape), k))`` -> the same exception on one line.
    MindSpore 2.10's graph compiler reads the source text of a raise it evaluates in Python and
    fails to parse one that spans lines ("GetPythonScriptIdAttrs failed ... invalid syntax",
    measured on DeepCTR-Torch's KMaxPooling; the one-line form compiles and raises).  The one
    line is ``ast.unparse`` of the expression: the same code, in Python's own spelling."""

    def __init__(self) -> None:
        self.joined = 0

    def leave_Raise(self, original: cst.Raise, updated: cst.Raise) -> cst.Raise:
        if updated.exc is None:
            return updated
        text = code_text(updated.exc)
        if "\n" not in text:
            return updated
        try:
            one_line = ast.unparse(ast.parse(f"({text})", mode="eval"))
            exc = cst.parse_expression(one_line)
        except (SyntaxError, ValueError, cst.ParserSyntaxError):
            return updated
        self.joined += 1
        return updated.with_changes(exc=exc)


def _self_attr(node: cst.BaseExpression) -> Optional[str]:
    """``x`` for ``self.x``."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


class _Stores(cst.CSTVisitor):
    """Calls ``store(target)`` for every assignment target (tuple targets unpacked)."""

    def store(self, target: cst.BaseExpression) -> None:
        raise NotImplementedError

    def _each(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._each(element.value)
        else:
            self.store(target)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._each(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._each(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._each(node.target)


class _Mutations(_Stores):
    """Attributes of ``self`` a class changes outside ``__init__``."""

    def __init__(self) -> None:
        self.assigned: set[str] = set()
        self.in_place: set[str] = set()
        self.registered: set[str] = set()  # buffers and Parameters (graph inputs, not constants)
        self._method: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._method.append(node.name.value)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._method.pop()

    def _outside_init(self) -> bool:
        return bool(self._method) and self._method[0] != "__init__"

    def store(self, target: cst.BaseExpression) -> None:
        name = _self_attr(target)
        if name and self._outside_init():
            self.assigned.add(name)

    def visit_Assign(self, node: cst.Assign) -> None:
        func = node.value.func if isinstance(node.value, cst.Call) else None
        if func is not None and isinstance(func, (cst.Name, cst.Attribute)):
            called = func.value if isinstance(func, cst.Name) else func.attr.value
            if called == "Parameter":
                for target in node.targets:
                    name = _self_attr(target.target)
                    if name:
                        self.registered.add(name)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        method = func.attr.value
        if method in ("register_buffer", "register_parameter") and _self_attr(func) and node.args:
            first = node.args[0].value
            if isinstance(first, cst.SimpleString):
                self.registered.add(first.evaluated_value)
            return
        if method.endswith("_") and not method.startswith("_") and self._outside_init():
            receiver = func.value
            if isinstance(receiver, cst.Attribute) and receiver.attr.value == "data":
                receiver = receiver.value
            name = _self_attr(receiver)
            if name:
                self.in_place.add(name)


class _Checker(_Stores):
    """Finds the first reason a function body might not compile (or not behave) as a graph."""

    def __init__(self, owner: "GraphMode", info: Optional[ClassInfo], frozen: frozenset, seen: set,
                 scope) -> None:
        self.owner = owner
        self.scope = scope
        self.info = info
        self.frozen = frozen
        self.seen = seen
        self.reason: Optional[str] = None
        self.raised: set[int] = set()
        self.holders: dict[str, str] = {}  # local name -> ParameterList/ParameterDict it is bound to

    def _fail(self, why: str) -> bool:
        if self.reason is None:
            self.reason = why
        return False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.reason is not None:
            return False
        rejected = _REJECTED_NODES.get(type(node))
        if rejected is not None:
            return self._fail(f"uses {rejected}")
        if isinstance(node, cst.With):
            if any(item.asname is not None or dropped_context(self.owner.ctx, item.item) is None for item in node.items):
                return self._fail("uses with")  # only no_grad()/inference_mode()/autocast() blocks go (no_grad.py)
        if isinstance(node, cst.Raise):
            exc = node.exc.func if isinstance(node.exc, cst.Call) else node.exc
            name = exc.value if isinstance(exc, cst.Name) else None
            if (node.cause is not None or name not in _GRAPH_EXCEPTIONS or self.scope is None
                    or not _is_builtin(name, self.scope)):
                what = code_text(exc) if exc is not None else "again"
                return self._fail(f"raises {what}, which graph mode cannot (only Python's standard exceptions)")
            self.raised.add(id(node.exc))  # building the exception is not a call to check
        return super().on_visit(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        kind = self._parameter_container(node.value)
        if kind:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.holders[target.target.value] = kind

    def visit_Subscript(self, node: cst.Subscript) -> None:
        self._unrewritten(node.value, ("ParameterList", "ParameterDict"))

    def visit_For(self, node: cst.For) -> None:
        self._unrewritten(node.iter, ("ParameterList",))  # a ParameterDict's iteration gives its keys

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._unrewritten(node.iter, ("ParameterList",))

    def _parameter_container(self, expr: cst.BaseExpression) -> Optional[str]:
        t = self.owner.ctx.type_of(expr)
        return "ParameterList" if is_parameter_list(t) else "ParameterDict" if is_parameter_dict(t) else None

    def _unrewritten(self, value: cst.BaseExpression, kinds: tuple) -> None:
        """A name bound to a ParameterList/ParameterDict somewhere in the function, read where its
        type is not known to be one (``vars = self.vars`` under ``if vars is None``, MAML's
        learner): parameter_list.py could not write ``.at``/``.values()``, and a compiled graph
        takes what a Cell's ``__getitem__``/``__iter__`` returns as constants (zero gradients,
        measured)."""
        if (isinstance(value, cst.Name) and self.holders.get(value.value) in kinds
                and self._parameter_container(value) is None):
            self._fail(f"reads the items of {value.value}, which may be a {self.holders[value.value]}: a compiled "
                       "graph takes a Cell's items as constants (their gradients would be zero)")

    def store(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Attribute):
            self._fail(f"assigns the attribute {code_text(target)}")
        elif isinstance(target, cst.Subscript):
            self._fail(f"assigns an item of {code_text(target.value)}")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = _self_attr(node)
        if name and name in self.frozen:
            self._fail(f"reads self.{name}, which changes after __init__ (a graph would keep its first value)")

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self.raised:
            return
        called = node.func
        while isinstance(called, cst.Attribute):
            called = called.value
        # a missing import on a branch torch never takes (cnn-text-classification's `Variable`);
        # not judged in a file with a star import (NameResolver.is_unbound)
        if isinstance(called, cst.Name) and self.owner.ctx.names.is_unbound(called):
            self._fail(f"calls {code_text(node.func)}, but nothing in the file defines {called.value} (graph mode "
                       "resolves every name when it compiles, on a branch never taken too)")
            return
        why = self.owner.call_problem(node, self.info, self.seen, self.scope)
        if why:
            self._fail(why)


def _is_dict(node: cst.BaseExpression, scope) -> bool:
    if isinstance(node, (cst.Dict, cst.DictComp)):
        return True
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict"
            and scope is not None and _is_builtin("dict", scope))


def _dict_output(fdef: cst.FunctionDef, scope) -> Optional[str]:
    """Why ``forward`` must stay in PyNative because it returns a dict, or None."""
    returns: list = []
    dict_names: set = set()

    class _Find(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is fdef  # a nested function's returns are not forward's

        def visit_Return(self, node: cst.Return) -> None:
            if node.value is not None:
                returns.append(node.value)

        def visit_Assign(self, node: cst.Assign) -> None:
            if _is_dict(node.value, scope):
                dict_names.update(t.target.value for t in node.targets if isinstance(t.target, cst.Name))

    fdef.visit(_Find())
    for value in returns:
        if _is_dict(value, scope) or (isinstance(value, cst.Name) and value.value in dict_names):
            return ("returns a dict: MindSpore 2.10 fails to differentiate a compiled construct whose output is a "
                    "dict when its graph holds a BatchNorm/LayerNorm/GroupNorm (measured); return a tuple to "
                    "compile it")
    return None


@register
class GraphMode(Transform):
    name = "graph_mode"
    order = 200  # after module_to_cell has renamed forward
    examples = (
        Example(
            name="a pure forward is compiled",
            before="""\
import torch
import torch.nn as nn


def scaled(x, k):
    return x * k


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])
        self.act = nn.ReLU()

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return scaled(torch.cat([x, x], dim=-1), 2)
""",
            after="""\
from _torch_compat import ModuleList, jit_construct
from mindspore import nn, ops


def scaled(x, k):
    return x * k


class MLP(nn.Cell):
    def __init__(self, sizes):
        super().__init__()
        self.layers = ModuleList([nn.Dense(a, b) for a, b in zip(sizes, sizes[1:])])
        self.act = nn.ReLU()

    @jit_construct
    def construct(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return scaled(ops.cat([x, x], axis=-1), 2)
""",
        ),
        Example(
            name="a compiled construct's list comprehensions become loops",
            before="""\
import torch
import torch.nn as nn


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.heads = nn.ModuleList([nn.Linear(4, 2) for _ in range(3)])

    def forward(self, x):
        outs = [head(x) for head in self.heads]
        return torch.stack([o * o for o in outs if o is not None], dim=0)
""",
            after="""\
from _torch_compat import ModuleList, jit_construct
from mindspore import nn, ops


class Heads(nn.Cell):
    def __init__(self):
        super().__init__()
        self.heads = ModuleList([nn.Dense(4, 2) for _ in range(3)])

    @jit_construct
    def construct(self, x):
        outs = []
        for head in self.heads:
            outs.append(head(x))
        _items0 = []
        for o in outs:
            if o is not None:
                _items0.append(o * o)
        return ops.stack(_items0, axis=0)
""",
        ),
        Example(
            name="a host sync keeps PyNative",
            before="""\
import torch.nn as nn


class Logged(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        y = self.fc(x)
        print(y.sum().item())
        return y
""",
            after="""\
from mindspore import nn


class Logged(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(2, 2)

    def construct(self, x):
        y = self.fc(x)
        print(y.sum().item())
        return y
""",
        ),
        Example(
            name="state changed after __init__ keeps PyNative",
            before="""\
import torch.nn as nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 1.0

    def grow(self):
        self.scale = self.scale * 2

    def forward(self, x):
        return x * self.scale
""",
            after="""\
from mindspore import nn


class Counter(nn.Cell):
    def __init__(self):
        super().__init__()
        self.scale = 1.0

    def grow(self):
        self.scale = self.scale * 2

    def construct(self, x):
        return x * self.scale
""",
        ),
        Example(
            name="a sub-module whose forward cannot compile keeps its parent PyNative",
            before="""\
import numpy as np
import torch.nn as nn


class Noisy(nn.Module):
    def forward(self, x):
        return x + np.random.rand()


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Noisy()

    def forward(self, x):
        return self.inner(x) * 2
""",
            after="""\
import numpy as np
from mindspore import nn


class Noisy(nn.Cell):
    def construct(self, x):
        return x + np.random.rand()


class Outer(nn.Cell):
    def __init__(self):
        super().__init__()
        self.inner = Noisy()

    def construct(self, x):
        return self.inner(x) * 2
""",
        ),
        Example(
            name="a forward returning a dict stays in PyNative (MindSpore 2.10 cannot differentiate it)",
            before="""\
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        h = self.norm(x)
        return {"logits": self.head(h), "hidden": h}
""",
            after="""\
from mindspore import nn


class Encoder(nn.Cell):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm((8,), epsilon=1e-05)
        self.head = nn.Dense(8, 2)

    def construct(self, x):
        h = self.norm(x)
        return {"logits": self.head(h), "hidden": h}
""",
        ),
    )

    def __init__(self, ctx):
        super().__init__(ctx)
        self._starts: dict[int, int] = {}  # id(forward) -> number of sites before it
        self._mutations: dict[str, _Mutations] = {}
        self._verdicts: dict[str, Optional[str]] = {}  # class name -> reason it cannot compile (None: it can)
        self._callees: dict[str, set] = {}  # class name -> its own pure methods its forward calls
        self._jitted: set[str] = set()  # classes whose construct got mindspore.jit

    # -- traversal
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value == "forward":
            self._starts[id(node)] = len(self.ctx.sites)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef):
        start = self._starts.pop(id(original), None)
        if start is None or not self.ctx.jit:
            return updated
        info = self.ctx.types.class_of(original)
        if info is None or not self.ctx.types.is_module_class(info):
            return updated
        reason = self.class_problem(info, set())
        forward = self._method(info, "forward")
        if reason is None and forward is not None:
            reason = _dict_output(forward, self.ctx.types.scopes.get(id(forward)))
        if reason is None:
            left = [s for s in self.ctx.sites[start:] if s.kind in NEEDS_PERSON]
            if left:
                reason = f"{len(left)} torch site(s) in forward were not converted"
        if reason is not None:
            self.ctx.report_graph(original.name, info.name, reason)
            return updated
        updated, loops, generators, joined = self._loops(original, updated)
        notes = []
        if generators:
            notes.append(f"{generators} generator expression(s) read as lists")
        if loops:
            notes.append(f"{loops} list comprehension(s) written as loops (faster to compile)")
        if joined:
            notes.append(f"{joined} multi-line raise statement(s) written on one line "
                         "(MindSpore's graph compiler fails to parse them)")
        note = "; ".join(notes)
        self.ctx.report_graph(original.name, info.name, None, note)
        self._jitted.add(info.name)
        decorator = cst.Decorator(decorator=self.ctx.helper("jit_construct"))
        return updated.with_changes(decorators=[decorator, *updated.decorators])

    def _kept_decorators(self, fdef: cst.FunctionDef) -> list:
        """The decorators the conversion keeps (no_grad.py drops ``@torch.no_grad()`` and
        ``@autocast()``, which change nothing a graph computes)."""
        return [d for d in fdef.decorators if dropped_context(self.ctx, d.decorator) is None]

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef):
        """The class's own pure methods that its compiled construct calls are compiled into
        its graph too: their comprehensions become loops as well (same rules, same reason)."""
        name = original.name.value
        callees = self._callees.get(name, set()) if name in self._jitted else set()
        if not callees or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        info = self.ctx.types.class_of(original)
        methods = info.methods if info is not None else {}
        body, total = [], 0
        for stmt in updated.body.body:
            name = stmt.name.value if isinstance(stmt, cst.FunctionDef) else None
            if name in callees and name != "construct" and name in methods:
                stmt, loops, generators, joined = self._loops(methods[name], stmt)
                total += loops + generators + joined
            body.append(stmt)
        return updated.with_changes(body=updated.body.with_changes(body=body)) if total else updated

    def _loops(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> tuple[cst.FunctionDef, int, int, int]:
        """``loops_for_comprehensions`` on ``updated``, with the consumers that are Python's
        builtins in ``original``'s scope (none when the scope is not known), and its ``raise``
        statements' exceptions written on one line (``_OneLineRaises``): the function, and how
        many loops, generators and raises were rewritten."""
        scope = self.ctx.types.scopes.get(id(original))
        builtins = frozenset(name for name in CONSUMERS if scope is not None and _is_builtin(name, scope))
        updated, loops, generators = loops_for_comprehensions(updated, consumers=builtins)
        joiner = _OneLineRaises()
        return updated.visit(joiner), loops, generators, joiner.joined

    # -- the check
    def class_problem(self, info: ClassInfo, seen: set) -> Optional[str]:
        """Why ``info``'s forward might not run as a graph, or None."""
        if info.name in self._verdicts:
            return self._verdicts[info.name]
        if info.name in seen:
            return None  # recursion: judged by the outer call
        seen.add(info.name)
        forward = self._method(info, "forward")
        if forward is None:
            reason = None  # inherits torch's (or a checked base's) forward
        elif self._kept_decorators(forward):
            reason = "forward is decorated"
        else:
            reason = self.body_problem(forward, info, seen)
        self._verdicts[info.name] = reason
        return reason

    def _method(self, info: ClassInfo, name: str) -> Optional[cst.FunctionDef]:
        while info is not None:
            if name in info.methods:
                return info.methods[name]
            info = self.ctx.types._local_base(info)
        return None

    def _frozen(self, info: ClassInfo) -> frozenset:
        names = set()
        while info is not None:
            if info.name not in self._mutations:
                found = _Mutations()
                info.node.visit(found)
                self._mutations[info.name] = found
            found = self._mutations[info.name]
            names |= found.assigned | (found.in_place - found.registered)
            info = self.ctx.types._local_base(info)
        return frozenset(names)

    def body_problem(self, fdef: cst.FunctionDef, info: Optional[ClassInfo], seen: set) -> Optional[str]:
        scope = self.ctx.types.scopes.get(id(fdef))
        checker = _Checker(self, info, self._frozen(info) if info else frozenset(), seen, scope)
        fdef.body.visit(checker)
        if checker.reason is None:
            return None
        where = f"{info.name}.{fdef.name.value}" if info else fdef.name.value
        return checker.reason if fdef.name.value == "forward" and info else f"{where} {checker.reason}"

    def call_problem(self, call: cst.Call, info: Optional[ClassInfo], seen: set, scope) -> Optional[str]:
        func = call.func
        code = code_text(func)
        held = self._object_argument(call)
        if held is not None:
            return f"calls {code}() with {held}, a Python object (the helper's) graph mode does not take"
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _HOST_METHODS and getattr(self.ctx.type_of(func.value), "kind", None) != "module":
                return f"calls .{method}() (leaves the graph)"  # (self.item(i): a sub-module named `item`)
            if method.endswith("_") and not method.startswith("_"):
                return f"calls the in-place .{method}()"
            attr = _self_attr(func)
            if attr is None:
                if isinstance(func.value, cst.Call) and code_text(func.value.func) == "super":
                    if method != "forward":
                        return f"calls super().{method}()"
                    base = self.ctx.types._local_base(info) if info is not None else None
                    why = self.class_problem(base, seen) if base is not None else None
                    return f"calls super().forward(), and {base.name}'s forward {why}" if why else None
                if isinstance(func.value, cst.Name) and func.value.value in self.ctx.types.classes:
                    return self._class_member_problem(func, self.ctx.types.classes[func.value.value], seen)
                return self._module_function(func)
            if info is not None:
                method_def = self._method(info, attr)
                if method_def is not None:
                    if self._kept_decorators(method_def):
                        return f"calls the decorated method self.{attr}()"
                    key = (info.name, attr)
                    if key in seen:
                        return None
                    seen.add(key)
                    why = self.body_problem(method_def, info, seen)
                    if why is None and attr in info.methods:  # the class's own method, pure: it is
                        self._callees.setdefault(info.name, set()).add(attr)  # compiled with construct
                    return why
            return self._submodule_problem(func, attr, seen)
        if isinstance(func, cst.Name):
            name = func.value
            fdef = self.ctx.types.functions.get(name)
            if fdef is not None:
                if self._kept_decorators(fdef):
                    return f"calls the decorated function {name}()"
                if name in seen:
                    return None
                seen.add(name)
                return self.body_problem(fdef, None, seen)
            if name in self.ctx.types.classes:
                return f"builds {name}() inside forward"
            qualified = self.ctx.qualified_names(func)
            why = self._object_builder(func, qualified)
            if why is not None:
                return why
            if any(_is_torch(q) for q in qualified) or qualified & _PURE_MATH:
                return None
            if _is_builtin(name, scope):
                return None if name in _PURE_BUILTINS else f"calls {name}()"
            if not qualified:
                return None  # a local variable (a tensor or a sub-module held in a local)
            return f"calls {code}(), which graph mode may not compile"
        return None

    def _class_member_problem(self, func: cst.Attribute, info: ClassInfo, seen: set) -> Optional[str]:
        """``Cls.member(...)`` on a class of this file: a custom autograd Function's ``apply``
        runs in PyNative only (MindSpore 2.10 fails to compile it, measured), a static method is
        checked as a function is, anything else (a class method, a constructor) is refused."""
        name, method = info.name, func.attr.value
        if self.ctx.types.is_autograd_function_class(info):
            return f"applies the custom autograd Function {name}, which MindSpore runs in PyNative only"
        fdef = self._method(info, method)
        decorators = [code_text(d.decorator) for d in fdef.decorators] if fdef is not None else None
        if decorators != ["staticmethod"]:
            return f"calls {code_text(func)}(), which graph mode may not compile"
        key = (name, method)
        if key in seen:
            return None
        seen.add(key)
        return self.body_problem(fdef, None, seen)

    def _module_function(self, func: cst.Attribute) -> Optional[str]:
        """``torch.cat`` is fine, ``np.random.rand`` is not; ``x.view`` (a local receiver) is."""
        qualified = self.ctx.qualified_names(func)
        if not qualified:
            return None
        why = self._object_builder(func, qualified)
        if why is not None:
            return why
        if any(_is_torch(q) for q in qualified) or qualified & _PURE_MATH:
            return None
        return f"calls {code_text(func)}(), which graph mode may not compile"

    def _object_argument(self, call: cst.Call) -> Optional[str]:
        """The first argument known to hold what a ``returns: object`` entry builds (a sparse
        tensor kept in ``self.adj``, a PackedSequence passed along), as code; None otherwise."""
        for arg in call.args:
            if object_rule(self.ctx.type_of(arg.value), self.ctx.spec) is not None:
                return code_text(arg.value)
        return None

    def _object_builder(self, func: cst.BaseExpression, qualified: set) -> Optional[str]:
        """A torch call whose conversion builds a helper object (``returns: object`` in the
        table: a PackedSequence, a GradScaler, a sparse tensor) or takes one (``_OBJECT_TAKERS``:
        the sparse product), which a compiled graph cannot hold."""
        for name in sorted(qualified):
            rule = self.ctx.spec.get(name) if _is_torch(name) else None
            if rule is not None and rule.returns == "object":
                return f"calls {code_text(func)}(), whose conversion is a Python object graph mode does not take"
            if name in _OBJECT_TAKERS:
                return f"calls {code_text(func)}(), which takes the helper's sparse tensor, a Python object graph mode does not take"
        return None

    def _submodule_problem(self, func: cst.Attribute, attr: str, seen: set) -> Optional[str]:
        t = self.ctx.type_of(func)
        if t is None or t.kind not in ("module",):
            return f"calls self.{attr}, whose type is not known to be a module"
        cls = t.cls or ""
        if cls.startswith("torch."):
            return None
        if cls.startswith("local:"):
            other = self.ctx.types.local_class(t)
            if other is None:
                return f"calls self.{attr}, whose class is not found"
            why = self.class_problem(other, seen)
            return f"calls self.{attr}, a {other.name} whose forward {why}" if why else None
        return f"calls self.{attr}, a {cls.split(':')[-1]} defined in another file (not checked)"
