"""List comprehensions in a compiled ``construct`` written as plain ``for`` loops.

MindSpore 2.10 compiles a list comprehension inside ``mindspore.jit`` much more slowly
than the same loop written out: measured on a CPU, a construct building two lists of 8
layer outputs compiled in 0.50 s with comprehensions and 0.29 s with loops, and MAMO's
per-user gradient clipping (two comprehensions over 17 gradients) in 0.94 s against
0.50 s.  The compiled graph is the same size and runs as fast either way; only the
compile (once per instance and input shapes) gets shorter.

``[ELT for T in ITER if COND]`` becomes

    acc = []
    for T in ITER:
        if COND:
            acc.append(ELT)

placed just before the statement that held it, and the comprehension is replaced by
``acc``.  The rewrite is plain Python with the same meaning, applied only where that is
provable:

- the comprehension sits in an assignment, a ``return`` or an expression statement, not
  inside a lambda, another comprehension or generator, a conditional expression or a
  short-circuiting ``and``/``or`` (where it might not be evaluated at all);
- its loop variables are used nowhere else in the function and are not its parameters
  (a loop variable outlives the loop; a comprehension's does not);
- no walrus (``:=``) and no ``await`` inside it;
- nor elsewhere in its statement (an enclosing comprehension, itself written as a loop,
  may bind the same name);
- ``acc`` is the assigned name when the statement is ``name = [...]`` and ``name`` does
  not occur inside the comprehension, else a fresh name the function does not use.

Moving the comprehension before the rest of its statement changes when it is evaluated
relative to the statement's other sub-expressions; that is only done in constructs the
graph-mode check has already found free of side effects.

A generator expression handed to a builtin that consumes it whole (``sum``, ``tuple``,
``list``, ``min``, ``max``, ``sorted``: ``CONSUMERS``, where the name is Python's builtin:
the caller says which are) first becomes a list comprehension, ``sum(x * x for x in xs)``
-> ``sum([x * x for x in xs])``: the same values, computed before the consumer instead of
one by one, which in a side-effect-free construct is the same; then it is written as a
loop like any other.  ``any``/``all`` stop early and are not in the list; other
generators are left as they are (MindSpore 2.10 compiles them, just more slowly).
"""

from __future__ import annotations

from typing import Optional, Sequence

import libcst as cst

from migrate.codemod import code_text

#: builtins that consume an iterable whole: a generator passed to them may be a list
CONSUMERS = frozenset({"sum", "tuple", "list", "min", "max", "sorted"})

_BLOCKING = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.IfExp, cst.BooleanOperation)


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def _clauses(comp) -> list[cst.CompFor]:
    clauses, clause = [], comp.for_in
    while clause is not None:
        clauses.append(clause)
        clause = clause.inner_for_in
    return clauses


def _walk_names(node: cst.CSTNode):
    """Every identifier under node (not attribute names or keyword names)."""
    if isinstance(node, cst.Name):
        yield node
        return
    if isinstance(node, cst.Attribute):
        yield from _walk_names(node.value)
        return
    if isinstance(node, cst.Arg):
        yield from _walk_names(node.value)
        return
    for child in node.children:
        yield from _walk_names(child)


def _free_uses(node: cst.CSTNode, bound: frozenset, out: dict) -> None:
    """Count, per name, the identifiers under node that are not a comprehension's own loop
    variables (a comprehension's first iterable is read in the enclosing scope)."""
    if isinstance(node, cst.Name):
        if node.value not in bound:
            out[node.value] = out.get(node.value, 0) + 1
        return
    if isinstance(node, cst.Attribute):
        _free_uses(node.value, bound, out)
        return
    if isinstance(node, cst.Arg):
        _free_uses(node.value, bound, out)
        return
    if isinstance(node, _COMPREHENSIONS):
        clauses = _clauses(node)
        _free_uses(clauses[0].iter, bound, out)
        inner = set(bound)
        for i, clause in enumerate(clauses):
            inner |= _names(clause.target)
            if i:
                _free_uses(clause.iter, frozenset(inner), out)
            for test in clause.ifs:
                _free_uses(test.test, frozenset(inner), out)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                _free_uses(getattr(node, part), frozenset(inner), out)
        return
    for child in node.children:
        _free_uses(child, bound, out)


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in _walk_names(node)}


def _counts(node: cst.CSTNode) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in _walk_names(node):
        counts[name.value] = counts.get(name.value, 0) + 1
    return counts


class _Find(cst.CSTVisitor):
    """The outermost list comprehensions of a statement that may be hoisted."""

    def __init__(self) -> None:
        self.found: list[cst.ListComp] = []
        self._blocked = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.ListComp) and not self._blocked:
            self.found.append(node)
            return False
        if isinstance(node, _BLOCKING):
            self._blocked += 1
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if isinstance(original_node, _BLOCKING) and not isinstance(original_node, cst.ListComp):
            self._blocked -= 1
        elif isinstance(original_node, cst.ListComp) and self._blocked:
            self._blocked -= 1


class _Replace(cst.CSTTransformer):
    def __init__(self, mapping: dict[int, cst.BaseExpression]) -> None:
        self.mapping = mapping

    def on_leave(self, original_node, updated_node):
        return self.mapping.get(id(original_node), updated_node)


def _has(node: cst.CSTNode, kinds: tuple) -> bool:
    """Whether any node under ``node`` (itself included) is one of ``kinds``."""
    return isinstance(node, kinds) or any(_has(child, kinds) for child in node.children)


class _Function:
    """One function body being rewritten (name counts and fresh names)."""

    def __init__(self, fdef: cst.FunctionDef, taken: set[str]) -> None:
        self.free: dict[str, int] = {}
        _free_uses(fdef, frozenset(), self.free)
        self.params = _names(fdef.params)
        self.taken = set(taken) | _names(fdef)
        self.rewritten = 0

    def fresh(self) -> str:
        n = 0
        while f"_items{n}" in self.taken:
            n += 1
        name = f"_items{n}"
        self.taken.add(name)
        return name

    def eligible(self, comp: cst.ListComp, statement: cst.CSTNode) -> bool:
        if comp.for_in.asynchronous is not None or _has(comp, (cst.NamedExpr, cst.Await, cst.Yield, cst.Lambda)):
            return False
        inside, around = _counts(comp), _counts(statement)
        for clause in _clauses(comp):
            for name in _names(clause.target):
                if name in self.params or self.free.get(name, 0) or around.get(name, 0) != inside.get(name, 0):
                    return False  # the name means something else outside the comprehension
        return True

    def loop(self, comp: cst.ListComp, acc: str) -> list[cst.BaseStatement]:
        """``acc = []`` and the loop filling it."""
        lines, depth = [f"{acc} = []"], 0
        for clause in _clauses(comp):
            lines.append("    " * depth + f"for {code_text(clause.target)} in {code_text(clause.iter)}:")
            depth += 1
            for test in clause.ifs:
                lines.append("    " * depth + f"if {code_text(test.test)}:")
                depth += 1
        lines.append("    " * depth + f"{acc}.append({code_text(comp.elt)})")
        module = cst.parse_module("\n".join(lines) + "\n")
        return list(module.body)

    def statement(self, stmt: cst.BaseStatement) -> list[cst.BaseStatement]:
        if isinstance(stmt, cst.SimpleStatementLine):
            return self.simple(stmt)
        return [self.compound(stmt)]

    def simple(self, line: cst.SimpleStatementLine) -> list[cst.BaseStatement]:
        if len(line.body) != 1 or not isinstance(line.body[0], (cst.Assign, cst.Return, cst.Expr)):
            return [line]
        small = line.body[0]
        finder = _Find()
        small.visit(finder)
        comps = [c for c in finder.found if self.eligible(c, small)]
        if not comps:
            return [line]
        before: list[cst.BaseStatement] = []
        mapping: dict[int, cst.BaseExpression] = {}
        whole = (isinstance(small, cst.Assign) and len(small.targets) == 1
                 and isinstance(small.targets[0].target, cst.Name) and small.value is comps[0])
        for comp in comps:
            acc = None
            if whole:
                target = small.targets[0].target.value
                if target not in _names(comp):
                    acc = target
            acc = acc or self.fresh()
            loop = self.loop(comp, acc)
            for new in loop:  # comprehensions nested in the element become loops too
                before.extend(self.statement(new))
            mapping[id(comp)] = cst.Name(acc)
            self.rewritten += 1
        before[0] = before[0].with_changes(leading_lines=line.leading_lines)
        if whole and mapping[id(comps[0])].value == small.targets[0].target.value:
            before[0] = before[0].with_changes(trailing_whitespace=line.trailing_whitespace)
            return before
        rest = line.with_changes(body=[small.visit(_Replace(mapping))], leading_lines=())
        return before + [rest]

    def compound(self, stmt: cst.BaseStatement) -> cst.BaseStatement:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            return stmt  # a scope of its own
        changes = {}
        for field in ("body", "orelse"):
            block = getattr(stmt, field, None)
            if isinstance(block, cst.IndentedBlock):
                changes[field] = block.with_changes(body=self.block(block.body))
            elif isinstance(block, (cst.Else, cst.If)):
                changes[field] = self.compound(block)
        return stmt.with_changes(**changes) if changes else stmt

    def block(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        for stmt in body:
            out.extend(self.statement(stmt))
        return out


def consumed_generator(call: cst.Call, consumers: frozenset = CONSUMERS) -> Optional[cst.GeneratorExp]:
    """The generator expression ``call`` hands to one of ``consumers`` (names that are
    Python's consuming builtins there) as its first argument."""
    if (isinstance(call.func, cst.Name) and call.func.value in consumers and call.args
            and call.args[0].keyword is None and not call.args[0].star
            and isinstance(call.args[0].value, cst.GeneratorExp)
            and call.args[0].value.for_in.asynchronous is None):
        return call.args[0].value
    return None


class _GeneratorsToLists(cst.CSTTransformer):
    def __init__(self, consumers: frozenset) -> None:
        self.consumers = consumers
        self.count = 0

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        generator = consumed_generator(updated, self.consumers)
        if generator is None:
            return updated
        self.count += 1
        listed = cst.ListComp(elt=generator.elt, for_in=generator.for_in)
        return updated.with_changes(args=[updated.args[0].with_changes(value=listed), *updated.args[1:]])


def loops_for_comprehensions(fdef: cst.FunctionDef, taken: set[str] = frozenset(),
                             consumers: frozenset = frozenset()) -> tuple[cst.FunctionDef, int, int]:
    """``fdef`` with its generators handed to ``consumers`` read as lists and its hoistable
    list comprehensions written as loops; how many of each (loops, generators).
    ``consumers``: the names of ``CONSUMERS`` that are Python's builtins in ``fdef`` (none by
    default: a name bound in the module or the function is not the builtin).
    ``taken``: names a fresh accumulator must not use besides the function's own."""
    if not isinstance(fdef.body, cst.IndentedBlock):
        return fdef, 0, 0
    generators = _GeneratorsToLists(frozenset(consumers) & CONSUMERS)
    listed = fdef.visit(generators)
    function = _Function(listed, taken)
    body = function.block(listed.body.body)
    if not function.rewritten and not generators.count:
        return fdef, 0, 0
    return listed.with_changes(body=listed.body.with_changes(body=body)), function.rewritten, generators.count
