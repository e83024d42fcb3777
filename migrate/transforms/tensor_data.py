"""``.data``: reads use the tensor itself, writes go through ``assign_data``.

MindSpore has no separate ``.data`` view of a tensor: ``p.data`` reads become
``p``, ``p.data = t`` and ``p.data.copy_(t)`` become ``assign_data(p, t)`` (``p.data = t`` where
nothing types ``p``: ``assign_data_of(p, t)``, which writes a tensor in place and sets any other
object's attribute; ``Tensor.data``'s own setter swaps a Parameter's storage, and a compiled
construct kept reading the old one), and
the initializers ``p.data.zero_()``/``p.data.fill_(v)`` (no CPU kernels in 2.10) — and the
same on a module's Parameter or buffer without ``.data`` (``m.bias.zero_()``, ``bn.running_var.fill_(1)``) —
and on a torch factory's new tensor (``torch.empty(n, d).normal_(0, 0.1)``) they become that value,
become ``assign_data(p, ops.zeros_like(p))``/``assign_data(p, ops.full_like(p, v))``, and
``p.data.normal_(m, s)``/``p.data.uniform_(a, b)`` become ``assign_data(p, m + s *
ops.randn_like(p))``/``assign_data(p, a + (b - a) * ops.rand_like(p))`` (the same
distributions, drawn from MindSpore's random stream; compound arguments are parenthesised).
A tensor held by a name or attribute (``label.fill_(1)``) is written in place the same way.
In-place forms of out-of-place members (the table's ``inplace_of``: ``x.clamp_(0, 1)``,
``h.masked_fill_(m, 0)``) become the table's conversion of the out-of-place call written into
the receiver (``assign_data(x, x.clamp(0, 1))``), and ``x.bernoulli_(p)`` becomes
``assign_data(x, ops.bernoulli(x, p=p))``.  A chain of them (``buf.mul_(m).add_(g)``) writes
each step into the chain's first receiver, ``assign_data(buf, assign_data(buf, buf * m) + g)``
(torch's in-place methods return their receiver).  An item of a name or attribute
(``h[1].add_(2)``, ``w[i].normal_()``) is written the same way: basic indexing gives a view in
MindSpore as in torch, and ``assign_data`` writes a view into its base.  On a new tensor
nothing else holds (a factory's, or a product, an exp, arithmetic: ``eps.mul(std).add_(mu)``)
the update is the out-of-place value.  On another computed receiver (a view,
``x.view(-1).exp_()``), or an item taken with a call in its index, they are unsupported: a copy
would be written.

``assign_data`` (in the emitted ``_torch_compat``) writes into the parameter's
own storage.  ``Parameter.set_data`` would swap the storage instead, and a
construct compiled with ``mindspore.jit`` keeps reading the old one: measured in
MindSpore 2.10, a jitted Cell returned its first weights after every set_data.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import FunctionScope

from migrate.codemod import bound_arguments, map_arguments
from migrate.transforms import Example, Transform, Unconvertible, register
from migrate.typeinfer import TENSOR


def _data_base(node: cst.BaseExpression):
    """``p`` for ``p.data``, else None."""
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        return node.value
    return None


@register
class TensorData(Transform):
    name = "tensor_data"
    examples = (
        Example(
            name="init loop over parameters",
            before="""\
import torch.nn as nn

model = nn.Linear(3, 3)
for p in model.parameters():
    p.data.zero_()
model.weight.data.fill_(0.5)
model.bias.data = model.bias.data * 2
""",
            after="""\
from _torch_compat import assign_data, module_parameters
from mindspore import nn, ops

model = nn.Dense(3, 3)
for p in module_parameters(model):
    assign_data(p, ops.zeros_like(p))
assign_data(model.weight, ops.full_like(model.weight, 0.5))
assign_data(model.bias, model.bias * 2)
""",
        ),
        Example(
            name="copy_ through .data",
            before="""\
import torch


def load(p: torch.nn.Parameter, value: torch.Tensor):
    p.data.copy_(value)
""",
            after="""\
import mindspore
from _torch_compat import assign_data


def load(p: mindspore.Parameter, value: mindspore.Tensor):
    assign_data(p, value)
""",
        ),
        Example(
            name="a read on a receiver of unknown type stays (MindSpore tensors have .data too)",
            before="""\
import torch


def f(args):
    return args.data
""",
        ),
        Example(
            name="a model nothing types: its parameters() are tensors (WGAN's weight clipping)",
            before="""\
import torch


def clip_critic(critic, c):
    for p in critic.parameters():
        p.data.clamp_(-c, c)
    for name, p in critic.named_parameters():
        if "bias" in name:
            p.data.zero_()
""",
            after="""\
from _torch_compat import assign_data, named_parameters_of, parameters_of
from mindspore import ops


def clip_critic(critic, c):
    for p in parameters_of(critic):
        assign_data(p, p.clamp(-c, c))
    for name, p in named_parameters_of(critic):
        if "bias" in name:
            assign_data(p, ops.zeros_like(p))
""",
        ),
        Example(
            name="from torch import nn, Tensor",
            before="""\
from torch import Tensor, nn

layer = nn.Linear(2, 2)


def scale(t: Tensor):
    layer.weight.data = t * layer.weight.data
""",
            after="""\
import mindspore
from _torch_compat import assign_data
from mindspore import nn

layer = nn.Dense(2, 2)


def scale(t: mindspore.Tensor):
    assign_data(layer.weight, t * layer.weight)
""",
        ),
    )

    def __init__(self, ctx):
        super().__init__(ctx)
        self._assigns: dict[int, str] = {}  # id of a `p.data = t` statement -> the helper that writes it
        #: id -> (an in-place write this transform emitted, the tensor it writes): the receivers of
        #: chains (the node is held so that its id cannot be reused by a node made later)
        self._writes: dict[int, tuple[cst.Call, cst.BaseExpression]] = {}
        #: in-place statements on a local name nothing else holds (``_rebindable``), which become
        #: ``x = <value>``: ids of their calls, and id of the statement -> (its outermost call, x)
        self._rebind_calls: set[int] = set()
        self._rebind_statements: dict[int, tuple[cst.Call, str]] = {}
        self._rebound: set[int] = set()  # ids of the calls rewritten as values for a rebinding
        self._functions: dict[int, "_FunctionFacts"] = {}  # id of a FunctionDef -> what it holds

    # p.data = t
    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        base = _data_base(target)
        if base is None:
            return
        kind = self.ctx.type_of(base)
        if kind == TENSOR:
            self.ctx.claim(target)
            self._assigns[id(node)] = "assign_data"
        elif kind is None and not (isinstance(base, cst.Name) and base.value == "self"):
            # `weight.data = ...` where nothing types `weight` (an unannotated model's layer): a
            # MindSpore tensor is written in place at run time, any other object gets its attribute
            self.ctx.claim(target)
            self._assigns[id(node)] = "assign_data_of"

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign):
        helper = self._assigns.get(id(original))
        if helper is None:
            return updated
        base = updated.targets[0].target.value
        note = ("assignment writes in place (assign_data)" if helper == "assign_data" else
                "the receiver's type is decided at run time: a tensor is written in place (assign_data_of)")
        self.ctx.converted(original.targets[0].target, "torch.Tensor.data", note)
        call = cst.Call(func=self.ctx.helper(helper), args=[cst.Arg(base), cst.Arg(updated.value)])
        return cst.Expr(call)

    # x.index_add_(0, idx, m) as a statement, x a local name bound to a new tensor: x = index_add(x, ...)
    def visit_Expr(self, node: cst.Expr) -> None:
        chain = self._inplace_chain(node.value)
        if chain is None:
            return
        calls, name = chain
        if self._rebindable(name):
            self._rebind_calls.update(id(call) for call in calls)
            self._rebind_statements[id(node)] = (calls[0], name.value)

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr):
        entry = self._rebind_statements.get(id(original))
        if entry is None or id(entry[0]) not in self._rebound:
            return updated
        return cst.Assign(targets=[cst.AssignTarget(cst.Name(entry[1]))], value=updated.value)

    def _inplace_chain(self, node: cst.BaseExpression):
        """(the calls, outermost first, and the name) of ``x.a_(...).b_(...)``: in-place methods
        this transform writes (not ``copy_``: its value is another tensor) on a name that holds a
        tensor; else None."""
        calls = []
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            rule = self.ctx.spec.rules.get(f"torch.Tensor.{node.func.attr.value}")
            if (rule is None or rule.transform != self.name or not rule.key.endswith("_")
                    or rule.key == "torch.Tensor.copy_"):
                return None
            calls.append(node)
            node = node.func.value
        if not calls or not isinstance(node, cst.Name) or self.ctx.type_of(node) != TENSOR:
            return None
        return calls, node

    def _rebindable(self, name: cst.Name) -> bool:
        """Whether the in-place statements on the local ``name`` may rebind it to their value
        instead of writing into its tensor: every binding of the name in its function is
        ``name = <a new tensor>`` (``_fresh``: a factory's, arithmetic, ...), and every other read
        of it comes after its last in-place statement, outside any loop holding one, and in
        the function itself (not a nested function, lambda or comprehension).  Then nothing
        else can hold the tensor when it is written, so the new value is the same program —
        one MindSpore can differentiate and compile, where its autograd refuses an in-place
        write into a tensor a loss depends on (a message-passing sum ``out.index_add_(0, dst,
        m)`` into ``out = torch.zeros(n, d)``)."""
        scope = self.ctx.names.scope_of(name)
        if not isinstance(scope, FunctionScope) or not isinstance(scope.node, cst.FunctionDef):
            return False
        facts = self._functions.get(id(scope.node))
        if facts is None:
            facts = self._functions[id(scope.node)] = _FunctionFacts.of(scope.node, self._inplace_chain)
        statements = facts.inplace.get(name.value)
        assignments = list(scope.assignments[name.value])
        if not statements or not assignments:
            return False
        last = max(end for _, end, _ in statements)
        receivers = {receiver for _, _, receiver in statements}
        for assignment in assignments:
            value = facts.assigned.get(id(assignment.node))
            if assignment.scope is not scope or value is None or not self._fresh(value):
                return False
            for access in assignment.references:
                node = access.node
                if access.scope is not scope or id(node) not in facts.order:
                    return False
                if id(node) in receivers:
                    continue
                at = facts.order[id(node)]
                if any(start <= at <= end for start, end, _ in statements):
                    continue  # read inside an in-place statement (x.add_(x)): before the rebinding
                if at < last or any(facts.holds_statement(loop, statements) for loop in facts.loops.get(id(node), ())):
                    return False
        return True

    def rewrite(self, site):
        key = site.rule.key
        if key == "torch.Tensor.data":
            if site.is_call:
                raise Unconvertible("unsupported", ".data is not callable")
            return site.receiver
        original_receiver = site.original.func.value
        fresh = key != "torch.Tensor.copy_" and self._fresh(original_receiver)
        if id(site.original) in self._rebind_calls:
            fresh = True  # a statement on a local name nothing else holds: the name is rebound to the value
            self._rebound.add(id(site.original))
        if key in _ARITHMETIC:
            return self._arithmetic(key, site, original_receiver, fresh)
        base = _data_base(original_receiver)
        if base is None and (fresh or (key != "torch.Tensor.copy_" and (
                self._module_tensor(original_receiver) or _plain_reference(original_receiver)
                or _indexed_reference(original_receiver)))):
            # m.weight.zero_(): a Parameter or buffer, written in place like m.weight.data; a tensor
            # held by a name or attribute (label.fill_(1)), or an item of one (w[i].normal_()):
            # written in place too (assign_data's copy_, or item assignment for a view)
            base = original_receiver
        chained = None if base is not None else self._chained(site)
        if base is None and chained is None:
            if key == "torch.Tensor.copy_":
                return site.updated  # Tensor.copy_ mutates in MindSpore 2.10 too
            raise Unconvertible("unsupported", f"{key.rpartition('.')[2]} on a computed tensor that may share its storage (a view), or an item taken with a call: it has no CPU "
                                                  "kernel in MindSpore 2.10, and writing a copy would not reach the original")
        target = site.receiver  # already converted from `p.data` to `p` (a chain: the inner write, which returns it)
        if key == "torch.Tensor.copy_":
            if len(site.args) != 1 or site.args[0].keyword is not None:
                raise Unconvertible("unsupported", "copy_ with extra arguments")
            value = site.args[0].value
        elif key == "torch.Tensor.zero_":
            value = cst.Call(func=self.ctx.name_for("mindspore.ops.zeros_like"), args=[cst.Arg(target)])
        elif key == "torch.Tensor.fill_":
            if len(site.args) != 1:
                raise Unconvertible("unsupported", "fill_ takes one value")
            value = cst.Call(
                func=self.ctx.name_for("mindspore.ops.full_like"),
                args=[cst.Arg(target), cst.Arg(site.args[0].value)],
            )
        elif key in ("torch.Tensor.normal_", "torch.Tensor.uniform_"):
            value = self._random(key, site, target)
        elif key == "torch.Tensor.bernoulli_":
            value = self._bernoulli(site, target)
        elif site.rule.inplace_of:
            value = self._out_of_place(site, target)
        else:
            raise Unconvertible("unsupported", f"{key} is not handled by tensor_data")
        if fresh:
            return value  # nothing else holds the new tensor: the value itself is the result
        return self._write(chained or target, value)

    def _write(self, target: cst.BaseExpression, value: cst.BaseExpression) -> cst.Call:
        """``assign_data(target, value)``, remembered as a write of ``target``."""
        call = cst.Call(func=self.ctx.helper("assign_data"), args=[cst.Arg(target), cst.Arg(value)])
        self._writes[id(call)] = (call, target)
        return call

    def _chained(self, site):
        """``buf`` for ``buf.mul_(m).add_(g)``: torch's in-place methods return their receiver, so
        the outer write goes to the tensor the inner one wrote, whose converted form
        ``assign_data(buf, buf * m)`` (a write this transform emitted) returns it after writing
        (evaluated first, as an argument)."""
        write = self._writes.get(id(site.receiver))
        return write[1] if write is not None and write[0] is site.receiver else None

    def _fresh(self, node: cst.BaseExpression) -> bool:
        """A new tensor nothing else references, so an in-place update of it can be its value
        instead: a torch factory's (``torch.empty(n, d).normal_(0, 0.1)``), a legacy typed
        constructor's, tensor arithmetic (``(a * b).add_(c)``), or a method or function that
        always returns a new tensor (``eps.mul(std).add_(mu)``, ``_NEW_TENSOR_METHODS``)."""
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)):
            return self.ctx.type_of(node) == TENSOR  # (a * b).add_(c): arithmetic makes a new tensor
        if not isinstance(node, cst.Call):
            return False
        if getattr(self.ctx.type_of(node.func), "kind", None) == "tensor_type":
            return True  # Tensor(n, 1) with Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
        name = self.ctx.torch_name(node.func)
        if name in _FACTORIES or name in _NEW_TENSOR_FUNCTIONS:
            return True
        # eps.mul(std).add_(mu): a method that always returns a new tensor (never its receiver or a view)
        return (isinstance(node.func, cst.Attribute) and node.func.attr.value in _NEW_TENSOR_METHODS
                and self.ctx.type_of(node.func.value) == TENSOR)

    def _arithmetic(self, key: str, site, original_receiver: cst.BaseExpression,
                    fresh: bool = False) -> cst.BaseExpression:
        """``x.mul_(y)`` -> ``assign_data(x, x * y)``: MindSpore 2.10's ``Tensor.mul_`` & co. on a
        CPU return a new tensor and leave ``x`` as it was (measured), so left as they are they
        would silently drop the update.  ``assign_data`` writes in place (a Parameter by
        ``ops.assign``, another tensor by ``copy_``), so other references to ``x`` see the change
        as in torch.  Inside a computation MindSpore differentiates, its autograd refuses the
        write (its Mul/Div keep their inputs for the backward pass): a loud error, tested."""
        name = key.rpartition(".")[2]
        chained = None
        if (not fresh and _data_base(original_receiver) is None and not _plain_reference(original_receiver)
                and not _indexed_reference(original_receiver)):
            chained = self._chained(site)
            if chained is None:
                raise Unconvertible("unsupported", f"{name} on a computed tensor that may share its storage (a view), or an item taken with a call: MindSpore 2.10's {name} does "
                                    "not write in place, and assigning to a copy would not reach the original")
        target = site.receiver
        values: dict = {}
        positional = [a for a in site.args if a.keyword is None]
        keywords = {a.keyword.value: a.value for a in site.args if a.keyword is not None}
        if any(a.star for a in site.args) or set(keywords) - {"other", "alpha"}:
            raise Unconvertible("unsupported", f"{name} with {', '.join(sorted(set(keywords) - {'other', 'alpha'})) or '*args'}")
        if len(positional) == 2 and name in ("add_", "sub_") and not keywords:
            values["alpha"], values["other"] = positional[0].value, positional[1].value  # the old add_(value, other)
        elif len(positional) <= 1:
            if positional:
                values["other"] = positional[0].value
            values.update(keywords)
        else:
            raise Unconvertible("unsupported", f"{name} with {len(positional)} positional arguments")
        if "other" not in values or ("alpha" in values and name not in ("add_", "sub_")):
            raise Unconvertible("unsupported", f"{name}: arguments not understood")
        other = _grouped(values["other"])
        if "alpha" in values:
            other = cst.BinaryOperation(_grouped(values["alpha"]), cst.Multiply(), other)
        operator = {"add_": cst.Add(), "sub_": cst.Subtract(), "mul_": cst.Multiply(), "div_": cst.Divide()}[name]
        value = cst.BinaryOperation(_grouped(target), operator, other)
        if fresh:
            return value
        return self._write(chained or target, value)

    def _out_of_place(self, site, target: cst.BaseExpression) -> cst.BaseExpression:
        """``x.floor_()``: the table's conversion of ``x.floor()`` (the rule ``inplace_of`` names),
        whose value is then written into ``x``."""
        rule = self.ctx.spec.rules[site.rule.inplace_of]
        if rule.target_is_method:
            func = cst.Attribute(value=target, attr=cst.Name(rule.target.rpartition(".")[2]))
            args = map_arguments(rule, site.args, self.ctx.parse_expression)
        else:
            func = self.ctx.name_for(rule.target)
            args = map_arguments(rule, site.args, self.ctx.parse_expression, target)
        return cst.Call(func=func, args=args)

    def _bernoulli(self, site, target: cst.BaseExpression) -> cst.BaseExpression:
        """``x.bernoulli_(p)``: x filled with Bernoulli(p) draws (default 0.5), ``ops.bernoulli(x, p)``
        (x gives the shape and dtype; the same distribution, another random stream)."""
        values = bound_arguments(site.rule, site.args)  # the table's args: p and generator
        args = [cst.Arg(target)]
        if "p" in values:
            args.append(cst.Arg(values["p"], keyword=cst.Name("p"),
                                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
        return cst.Call(func=self.ctx.name_for("mindspore.ops.bernoulli"), args=args)

    def _module_tensor(self, node: cst.BaseExpression) -> bool:
        """``m.weight``, ``m.running_mean``, ... of a module: a Parameter or a buffer."""
        if not isinstance(node, cst.Attribute):
            return False
        value, owner = self.ctx.type_of(node), self.ctx.type_of(node.value)
        return value is not None and value.kind == "tensor" and owner is not None and owner.kind == "module"

    def _random(self, key: str, site, target: cst.BaseExpression) -> cst.BaseExpression:
        """``mean + std * randn_like(p)`` for normal_, ``a + (b - a) * rand_like(p)`` for uniform_
        (torch's defaults 0, 1 and 0, 1; the same distribution, not the same random stream)."""
        names = site.rule.args[:2]  # (mean, std) or (from, to); the generator is refused by the table
        values = bound_arguments(site.rule, site.args)
        low = _grouped(values.get(names[0], cst.Integer("0")))
        scale = _grouped(values.get(names[1], cst.Integer("1")))
        if key.endswith("uniform_"):
            draw = cst.Call(func=self.ctx.name_for("mindspore.ops.rand_like"), args=[cst.Arg(target)])
            scale = _grouped(cst.BinaryOperation(scale, cst.Subtract(), low))
        else:
            draw = cst.Call(func=self.ctx.name_for("mindspore.ops.randn_like"), args=[cst.Arg(target)])
        return cst.BinaryOperation(low, cst.Add(), cst.BinaryOperation(scale, cst.Multiply(), draw))


#: torch functions that return a new tensor of their own (an in-place op on it touches nothing else)
_FACTORIES = frozenset({
    "torch.empty", "torch.zeros", "torch.ones", "torch.full", "torch.rand", "torch.randn", "torch.randint",
    "torch.empty_like", "torch.zeros_like", "torch.ones_like", "torch.full_like", "torch.rand_like",
    "torch.randn_like", "torch.tensor", "torch.arange", "torch.linspace", "torch.eye",
    "torch.Tensor", "torch.FloatTensor", "torch.DoubleTensor", "torch.LongTensor", "torch.IntTensor",
})

#: tensor methods and torch functions whose result is always a new tensor, never their input or a
#: view of it (unlike view/reshape/transpose/detach/float/to/contiguous, which may return either):
#: an in-place update of their result (``eps.mul(std).add_(mu)``) touches nothing else
_NEW_TENSOR_METHODS = frozenset({
    "add", "sub", "mul", "div", "true_divide", "pow", "exp", "log", "sqrt", "rsqrt", "abs", "neg", "reciprocal",
    "square", "sigmoid", "tanh", "relu", "clamp", "clip", "floor", "ceil", "round", "sin", "cos", "matmul", "mm",
    "bmm", "clone", "sum", "mean", "softmax", "log_softmax", "masked_fill", "cumsum", "new", "new_zeros",
    "new_ones", "new_full", "new_empty", "new_tensor", "index_add", "scatter", "scatter_add",
})
_NEW_TENSOR_FUNCTIONS = frozenset(
    f"torch.{n}" for n in _NEW_TENSOR_METHODS - {"clone", "new", "new_zeros", "new_ones", "new_full", "new_empty",
                                                 "new_tensor"}) | frozenset({
    "torch.cat", "torch.stack", "torch.where", "torch.nn.functional.relu", "torch.nn.functional.sigmoid",
    "torch.nn.functional.softmax", "torch.nn.functional.log_softmax", "torch.nn.functional.linear",
    "torch.clone",
})

#: in-place arithmetic: MindSpore 2.10's methods of these names do not write in place on a CPU
_ARITHMETIC = frozenset({"torch.Tensor.add_", "torch.Tensor.sub_", "torch.Tensor.mul_", "torch.Tensor.div_"})


def _plain_reference(node: cst.BaseExpression) -> bool:
    """``x``, ``self.x``, ``m.fc.weight``: a name or a chain of attributes of one."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


class _HasCall(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Call(self, node: cst.Call) -> bool:
        self.found = True
        return False


def _indexed_reference(node: cst.BaseExpression) -> bool:
    """``h[1]``, ``self.kernels[i]``, ``p[0][:, 1:3]``: items of a plain reference, by indices
    without calls (the write evaluates the receiver twice).  Basic indexing gives a view in
    MindSpore 2.10 as in torch, and ``assign_data`` writes a view into its base (measured: ints,
    negative ints, slices with steps, None, Ellipsis, chains); advanced indexing gives a copy in
    both, which neither writes back."""
    if not isinstance(node, cst.Subscript):
        return False
    while isinstance(node, cst.Subscript):
        finder = _HasCall()
        for element in node.slice:
            element.visit(finder)
        if finder.found:
            return False
        node = node.value
    return _plain_reference(node)


def _grouped(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``expr`` in parentheses unless it is atomic (a name, number, attribute, call, item)."""
    if isinstance(expr, (cst.Name, cst.Integer, cst.Float, cst.Attribute, cst.Call, cst.Subscript)) or expr.lpar:
        return expr
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.expression, (cst.Integer, cst.Float)):
        return expr  # -0.1
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class _FunctionFacts(cst.CSTVisitor):
    """What ``TensorData._rebindable`` reads of one function: every node's place in source order,
    the loops around each name, the value of each ``name = value`` binding (by its target) and
    the in-place statements on each name (their span in that order and their receiver)."""

    def __init__(self, chain) -> None:
        self._chain = chain
        self.order: dict[int, int] = {}
        self.loops: dict[int, tuple] = {}  # id of a Name -> the loops around it, [start, end] each
        self.assigned: dict[int, cst.BaseExpression] = {}
        self.inplace: dict[str, list[tuple[int, int, int]]] = {}  # name -> [(start, end, id of its receiver)]
        self._open: list[list[int]] = []  # the loops being walked: [start, end]
        self._spans: list[tuple[cst.CSTNode, list]] = []

    @classmethod
    def of(cls, fdef: cst.FunctionDef, chain) -> "_FunctionFacts":
        facts = cls(chain)
        fdef.visit(facts)
        return facts

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.order[id(node)] = len(self.order)
        if isinstance(node, cst.Name):
            self.loops[id(node)] = tuple(self._open)  # the loops' ends are filled in when they are left
        elif isinstance(node, (cst.For, cst.While)):
            self._open.append([len(self.order) - 1, None])
        elif isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self.assigned[id(node.targets[0].target)] = node.value
        elif isinstance(node, cst.Expr):
            chain = self._chain(node.value)
            if chain is not None:
                span = [len(self.order) - 1, None, id(chain[1])]
                self._spans.append((node, span))
                self.inplace.setdefault(chain[1].value, []).append(span)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        end = len(self.order) - 1
        if isinstance(original_node, (cst.For, cst.While)):
            self._open.pop()[1] = end
        elif self._spans and self._spans[-1][0] is original_node:
            self._spans.pop()[1][1] = end

    def holds_statement(self, loop, statements) -> bool:
        """Whether ``loop`` ([start, end] in source order) holds one of ``statements``."""
        return any(loop[0] <= start <= loop[1] for start, _, _ in statements)
