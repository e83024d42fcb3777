"""The engine: apply api_map rules and structural transforms to one module.

One libcst traversal does everything (table rules, transforms, type queries,
markers), in this order for each node: transforms' ``visit_`` hooks, children,
the engine's own rule for the node, transforms' ``leave_`` hooks, and for
statements the markers/insertions.  Imports are edited afterwards with
libcst's ``RemoveImportsVisitor`` (torch imports left unused) and
``AddImportsVisitor`` (MindSpore and helper imports).

Emitted names go through placeholders (``__migrate_3__``) until the end, when
the file's remaining names are known: then each becomes its canonical alias
(``nn``, ``ops``, ``mindspore``) or, if that name is still taken (say by an
unconverted ``torch.nn``), another one (``ms_nn``).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterable, Optional, Sequence, Union

import libcst as cst
from libcst import MaybeSentinel
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import MetadataWrapper, ScopeProvider

from migrate import helpers
from migrate.names import ImportedNames, NameResolver, dotted
from migrate.positions import positions_of
from migrate.project import ProjectIndex, module_name
from migrate.spec import HELPER_PREFIX, OWNER_CLASSES, Rule, Spec
from migrate.transforms import Transform, Unconvertible, registry
from migrate.typeinfer import BOTTOM, TENSOR, T, TypeInfo, owners_of

MARKER = "MIGRATE"
MARKER_RE = re.compile(r"^#\s*MIGRATE\((\w+)\):\s*(\S+)")
HELPER_MODULE = "_torch_compat"

#: MindSpore modules emitted through a short alias, in MindSpore's own style.
_SHORT_MODULES = {
    "mindspore.nn": ("mindspore", "nn", "nn"),
    "mindspore.ops": ("mindspore", "ops", "ops"),
    "mindspore.mint": ("mindspore", "mint", "mint"),
    "mindspore.dataset": ("mindspore.dataset", None, "ds"),
}

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_NO_WS = cst.SimpleWhitespace("")


# --------------------------------------------------------------------------
# results


#: the kinds of Site a person has to look at
NEEDS_PERSON = ("uncertain", "unsupported")


@dataclass
class Site:
    """One torch API use: converted, or needing a person (uncertain/unsupported)."""

    kind: str  # converted | uncertain | unsupported; graph | pynative (a Cell's construct, see graph_mode)
    rule: str  # torch name, e.g. torch.nn.Linear or torch.Tensor.view
    reason: str  # why not converted / the semantic note of a converted rule
    line: int = 0
    col: int = 0
    node: Optional[cst.CSTNode] = field(default=None, repr=False, compare=False)

    def as_dict(self, path: str) -> dict:
        return {"path": path, "line": self.line, "col": self.col, "kind": self.kind, "rule": self.rule, "reason": self.reason}


@dataclass
class Outcome:
    """What converting one file produced."""

    code: str
    changed: bool
    sites: list
    helpers: set


@dataclass
class CallSite:
    """What a transform's ``rewrite`` gets for an api_map entry naming it."""

    rule: Rule
    original: cst.BaseExpression  # the original Call (or reference) node
    updated: cst.BaseExpression  # the same node with children already converted
    receiver: Optional[cst.BaseExpression] = None  # converted receiver of a method/attribute
    receiver_type: Optional[T] = None
    is_call: bool = True

    @property
    def args(self) -> Sequence[cst.Arg]:
        return self.updated.args if isinstance(self.updated, cst.Call) else ()

    @property
    def original_args(self) -> Sequence[cst.Arg]:
        return self.original.args if isinstance(self.original, cst.Call) else ()


#: first parameters of torch.Tensor methods that a string may fill (``x.norm('fro')``)
_STRING_FIRST_ARGS = frozenset({"p", "memory_format", "dtype", "device", "names"})


def _not_torchs(rule: Rule, call: cst.Call) -> bool:
    """A call on a receiver of unknown type that cannot be the tensor method ``rule`` maps: its
    first positional argument is a string literal where torch's takes none (``key.split('.')``,
    ``s.index('x')``), or it is ``.split()`` without arguments (torch's needs a size)."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if not call.args and rule.member == "split":
        return True
    if not positional or not rule.args:
        return False
    first = positional[0].value
    if isinstance(first, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return rule.args[0].lstrip("*") not in _STRING_FIRST_ARGS
    return False


# --------------------------------------------------------------------------
# value transforms named by `values:` in api_map.yaml


def code_text(node: cst.CSTNode) -> str:
    """The source text of ``node`` (no module context: leading whitespace as the node has it)."""
    return cst.Module(body=[]).code_for_node(node)


def _tuple_of(args: Sequence[cst.Arg], strict: bool) -> cst.BaseExpression:
    if len(args) == 1 and not args[0].star:
        value = args[0].value
        if isinstance(value, cst.Tuple):
            return value
        if isinstance(value, cst.List):  # a list literal: MindSpore's tile/shape arguments want a tuple
            return _tuple_literal(value)
        if isinstance(value, cst.Integer) or (
            isinstance(value, cst.UnaryOperation) and isinstance(value.expression, cst.Integer)
        ):
            return cst.Tuple([cst.Element(value)])
        if strict:
            raise Unconvertible("uncertain", f"cannot tell whether `{code_text(value)}` is an int or a sequence")
        return value
    elements = [cst.StarredElement(a.value) if a.star == "*" else cst.Element(a.value) for a in args]
    return cst.Tuple(elements)


def _one_minus(args: Sequence[cst.Arg], strict: bool) -> cst.BaseExpression:
    value = args[0].value
    if isinstance(value, (cst.Float, cst.Integer)):
        number = 1 - float(ast.literal_eval(value.value))
        return cst.Float(repr(round(number, 12)))
    if isinstance(value, cst.Name) and value.value == "None":
        raise Unconvertible("unsupported", "momentum=None (cumulative average) has no MindSpore equivalent")
    return cst.BinaryOperation(cst.Integer("1"), cst.Subtract(), value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))


def _as_1tuple(args: Sequence[cst.Arg], strict: bool) -> cst.BaseExpression:
    value = args[0].value
    if isinstance(value, (cst.Tuple, cst.List)):
        if len(value.elements) == 1:
            return value
        raise Unconvertible(
            "unsupported",
            "MindSpore's LayerNorm takes begin_norm_axis for the input rank; a multi-axis normalized_shape needs it by hand",
        )
    return cst.Tuple([cst.Element(value)])


def _tuple_literal(value: cst.List) -> cst.Tuple:
    return cst.Tuple([e.with_changes(comma=MaybeSentinel.DEFAULT) for e in value.elements])


def _list_as_tuple(args: Sequence[cst.Arg], strict: bool) -> cst.BaseExpression:
    value = args[0].value  # same elements; a tuple compiles ~3x faster inside mindspore.jit
    return _tuple_literal(value) if isinstance(value, cst.List) else value


def _as_bool(args: Sequence[cst.Arg], strict: bool) -> cst.BaseExpression:
    """``bias=True``/``False`` pass; anything else becomes ``bool(value)``: torch takes any truthy
    value for a flag (``nn.Linear(n, n, activation)`` has a bias), MindSpore's validators a bool."""
    value = args[0].value
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return value
    return cst.Call(func=cst.Name("bool"), args=[cst.Arg(value.with_changes(lpar=[], rpar=[]))])


VALUE_TRANSFORMS: dict[str, Callable[[Sequence[cst.Arg], bool], cst.BaseExpression]] = {
    "tuple": lambda a, s: _tuple_of(a, True),
    "list_as_tuple": _list_as_tuple,
    "tuple_or_int": lambda a, s: _tuple_of(a, False),
    "one_minus": _one_minus,
    "as_1tuple": _as_1tuple,
    "as_bool": _as_bool,
}


# --------------------------------------------------------------------------
# argument mapping


@dataclass
class _Item:
    name: str  # target name
    value: Union[cst.Arg, list]  # Arg, or list of Args for varargs
    positional: bool


def _bind(rule: Rule, args: Sequence[cst.Arg]) -> tuple[dict, list]:
    """Match call arguments to torch parameter names (api_map `args`)."""
    bound: dict[str, Union[cst.Arg, list]] = {}
    order: list[str] = []
    names = rule.args or ()
    star_index = next((i for i, n in enumerate(names) if n.startswith("*")), None)
    var = names[star_index][1:] if star_index is not None else None
    plain = {n.lstrip("*") for n in names}
    pos = 0
    for arg in args:
        if arg.star == "**":
            raise Unconvertible("unsupported", "**kwargs cannot be checked against the torch signature", True)
        if arg.keyword is None:
            if var is not None and pos >= star_index:
                if var not in bound:
                    bound[var] = []
                    order.append(var)
                bound[var].append(arg)
                continue
            if arg.star == "*":
                raise Unconvertible("unsupported", "*args cannot be matched to the torch signature", True)
            if pos >= len(names):
                raise Unconvertible("unsupported", f"more positional arguments than torch's signature ({len(names)})")
            bound[names[pos]] = arg
            order.append(names[pos])
            pos += 1
            continue
        key = arg.keyword.value
        if key in _NONE_DEFAULTS and key not in plain and _is_none(arg):
            continue  # torch.sum(x, out=None): the default, whether or not the entry lists it
        alias = _NUMPY_ALIASES.get(key)
        if key not in plain and alias in plain and _parses_numpy_aliases(rule.key):
            key = alias  # torch.sum(x, axis=1) is torch.sum(x, dim=1)
        if key not in plain:
            raise Unconvertible("unsupported", f"argument `{key}=` has no mapping")
        if key in bound:
            raise Unconvertible("unsupported", f"argument `{key}` given twice")
        bound[key] = [arg] if key == var else arg
        order.append(key)
    for name in _NONE_DEFAULTS & set(bound):
        if _is_none(bound[name]):
            del bound[name]  # out=None, dtype=None: torch's default, the same as leaving it out
            order.remove(name)
    return bound, order


#: the numpy spellings torch's argument parser takes for its own parameter names, on every
#: function and tensor method it parses (torch/csrc/utils/python_arg_parser.cpp)
_NUMPY_ALIASES = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input", "x1": "input", "x2": "other"}


def _torch_keyword(rule: Rule, key: str) -> str:
    """A keyword of a call under its torch name, on an entry without ``args``: ``axis=``/
    ``keepdims=`` as ``dim=``/``keepdim=``, unless the entry renames them itself.  (Not the
    aliases of ``input``/``other``: without ``args`` the tool cannot tell them from a parameter
    torch names ``x`` itself, as ``torch.trapezoid``'s.)"""
    if key in ("axis", "keepdims") and key not in rule.kwargs and _parses_numpy_aliases(rule.key):
        return _NUMPY_ALIASES[key]
    return key


def _parses_numpy_aliases(name: str) -> bool:
    """torch.sum, torch.Tensor.sum: parsed by torch's argument parser (torch.nn.functional's
    Python functions are not)."""
    return name.startswith("torch.Tensor.") or (name.startswith("torch.") and name.count(".") == 1)


#: torch parameters whose default is None wherever torch has them: passing None is leaving them out
_NONE_DEFAULTS = frozenset({"out", "dtype", "generator", "layout", "device"})


def _is_none(arg) -> bool:
    return isinstance(arg, cst.Arg) and isinstance(arg.value, cst.Name) and arg.value.value == "None"


def bound_arguments(rule: Rule, args: Sequence[cst.Arg]) -> dict:
    """A call's argument values by torch parameter name (the entry's ``args``), once its
    ``unsupported_args``/``required_args`` hold; raises Unconvertible otherwise. For transforms
    that read arguments themselves."""
    bound, _ = _bind(rule, args)
    _check_conditions(rule, bound)
    return {name: [a.value for a in arg] if isinstance(arg, list) else arg.value for name, arg in bound.items()}


def _refuses(rule: Rule, cond, value: cst.BaseExpression) -> bool:
    """Does an ``unsupported_args`` condition refuse this argument value?  A value the codemod cannot
    read (``sparse=flag``) where the conversion drops the argument is uncertain: dropping it assumes
    it is not the refused value.  Where the argument is kept, the target receives it and decides."""
    if cond.value is None:
        return True
    try:
        given = ast.literal_eval(code_text(value).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if cond.name in rule.drop:
            raise Unconvertible("uncertain", f"cannot tell whether `{cond.name}={code_text(value).strip()}` is "
                                             f"`{cond.value}` ({cond.reason}); the conversion drops it", True) from None
        return False
    return given == ast.literal_eval(cond.value)


def _check_conditions(rule: Rule, bound: dict) -> None:
    for cond in rule.unsupported_args:
        if cond.name not in bound:
            continue
        if cond.without is not None and cond.without in bound:
            continue
        given = bound[cond.name]
        given = given[0] if isinstance(given, list) else given
        if _refuses(rule, cond, given.value):
            raise Unconvertible("unsupported", f"`{cond.describe()}`: {cond.reason}")
    for name, reason in rule.required_args.items():
        if name not in bound:
            raise Unconvertible("unsupported", f"no `{name}`: {reason}")


def object_rule(t: Optional[T], spec) -> Optional[Rule]:
    """The entry whose conversion built the helper object a value of type ``t`` holds (``returns:
    object``: a SparseTensor, a PackedSequence, a GradScaler), or None."""
    if t is None or t.kind != "object" or not t.cls or not t.cls.startswith("torch."):
        return None
    rule = spec.get(t.cls)
    return rule if rule is not None and rule.returns == "object" else None


@functools.lru_cache(maxsize=None)
def _torch_members(dotted: str) -> Optional[frozenset]:
    """``dir()`` of the torch class ``dotted`` names (``torch.Tensor``, ``torch.optim.Adam``), or
    None where it cannot be imported (torch is imported only when a member the table does not
    know is met)."""
    module, _, name = dotted.rpartition(".")
    try:
        return frozenset(dir(getattr(importlib.import_module(module), name)))
    except (ImportError, AttributeError):  # a module needing a package not installed (tensorboard)
        return None


def _dispatchable(rule: Rule, call: cst.Call) -> bool:
    """A tensor method the table converts to a helper function that takes torch's arguments
    unchanged — no argument edits in the entry, none of its unsupported arguments in ``call``,
    and the helper's parameters after the tensor are the entry's ``args`` in order — so that where
    the receiver's type is unknown the helper can be chosen at run time, with the call's own
    arguments (``untyped_method``)."""
    if rule.owner != "torch.Tensor" or not (rule.target or "").startswith(HELPER_PREFIX) or rule.untyped:
        return False
    if (rule.kwargs or rule.drop or rule.values or rule.defaults or rule.required_args
            or rule.transform or rule.target_without or rule.runtime_kwargs or rule.inplace_of or rule.target_args):
        return False
    if rule.unsupported_args:
        positional = sum(1 for a in call.args if a.keyword is None)
        passed = {a.keyword.value for a in call.args if a.keyword is not None} | set((rule.args or ())[:positional])
        if any(a.star for a in call.args) or passed & {condition.name for condition in rule.unsupported_args}:
            return False
    params = helpers.function_params(HELPER_PREFIX.rstrip("."), rule.target[len(HELPER_PREFIX):])
    args = tuple(rule.args or ())
    return params is not None and params[1:1 + len(args)] == args


@functools.lru_cache(maxsize=None)
def _other_members() -> frozenset:
    """Members of the other things a receiver of unknown type often is (Python's containers and
    text, numpy arrays, pandas' Series and DataFrames)."""
    import numpy
    import pandas

    names: set = set()
    for kind in (dict, list, tuple, set, str, bytes, numpy.ndarray, pandas.Series, pandas.DataFrame):
        names |= set(dir(kind))
    return frozenset(names)


def torch_only_tensor_member(name: str) -> bool:
    """``name`` is a member of torch's tensors and of none of the other things an untyped receiver
    often is (``to_sparse``, ``index_fill_``; not ``values``, ``copy`` or ``apply``, nor a method
    of the helper's objects: a SparseTensor's ``indices``)."""
    members = _torch_members("torch.Tensor")
    return (members is not None and name in members and not name.startswith("_") and name not in _other_members()
            and name not in helpers.method_names(HELPER_PREFIX.rstrip(".")))


def foreign_to_torch_tensors(name: str) -> bool:
    """``name`` is no member of torch's tensors: an attribute the program sets on them itself
    (MAML's ``weight.fast``), which a MindSpore tensor takes as well, so there is nothing of torch's
    to convert or report."""
    members = _torch_members("torch.Tensor")
    return members is not None and name not in members


def is_sparse_object(t: Optional[T], spec) -> bool:
    """A value built by an entry that converts to the helper's SparseTensor
    (``torch.sparse_coo_tensor``, ``torch.sparse.FloatTensor``, ``x.to_sparse()``, ...)."""
    rule = object_rule(t, spec)
    target = (rule.target or "") if rule is not None else ""
    return target.startswith(f"{HELPER_PREFIX}sparse_") or target == f"{HELPER_PREFIX}to_sparse"


#: torch's products that take a sparse first argument (torch.sparse.mm's conversion then)
_SPARSE_PRODUCTS = frozenset({"torch.mm", "torch.matmul"})


def _without_variant(rule: Rule, args: Sequence[cst.Arg]) -> Rule:
    """``rule`` itself, or, where the call does not pass an argument the rule's
    ``target_without`` names, the rule with that argument's own target (F.softmax(x) without
    dim: a helper with torch's implicit dim)."""
    if not rule.target_without or any(a.star for a in args):
        return rule
    try:
        bound, _ = _bind(rule, args)
    except Unconvertible:
        return rule
    for name, target in rule.target_without.items():
        if name not in bound:
            required = {k: v for k, v in rule.required_args.items() if k != name}
            return dataclasses.replace(rule, target=target, required_args=MappingProxyType(required), target_without=MappingProxyType({}))
    return rule


def _as_keyword(arg: cst.Arg, name: str) -> cst.Arg:
    if arg.keyword is not None:
        return arg.with_changes(keyword=cst.Name(name))
    return arg.with_changes(
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=_NO_WS, whitespace_after=_NO_WS),
        star="",
    )


def _as_positional(arg: cst.Arg) -> cst.Arg:
    if arg.keyword is None:
        return arg
    return arg.with_changes(keyword=None, equal=MaybeSentinel.DEFAULT)


_LEGACY_LITERALS = {"True": True, "False": False, "None": None}


def _legacy_reduction(rule: Rule, args: Sequence[cst.Arg]) -> Optional[list]:
    """A loss called with torch's deprecated ``size_average=``/``reduce=`` (literal True, False or
    None): the arguments with both replaced by the ``reduction`` torch computes from them
    (``torch.nn._reduction.legacy_get_string``: a given ``reduction`` is overridden), the arguments
    after the first removed one as keywords.  None where it does not apply (another entry, neither
    argument given, a value that is not a literal: those stay unsupported)."""
    names = rule.args or ()
    if not {"size_average", "reduce", "reduction"} <= set(names):
        return None
    try:
        bound, _ = _bind(rule, args)
    except Unconvertible:
        return None
    if "size_average" not in bound and "reduce" not in bound:
        return None
    given = {}
    for name in ("size_average", "reduce"):
        arg = bound.get(name)
        if arg is None:
            given[name] = None
        elif isinstance(arg, cst.Arg) and isinstance(arg.value, cst.Name) and arg.value.value in _LEGACY_LITERALS:
            given[name] = _LEGACY_LITERALS[arg.value.value]
        else:
            return None
    size_average = True if given["size_average"] is None else given["size_average"]
    reduce = True if given["reduce"] is None else given["reduce"]
    reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
    name_of = {id(a): n for n, a in bound.items() if isinstance(a, cst.Arg)}
    out, as_keywords = [], False
    for arg in args:
        name = name_of.get(id(arg))
        if name in ("size_average", "reduce", "reduction"):
            as_keywords = as_keywords or arg.keyword is None
            continue
        if as_keywords and arg.keyword is None and name is not None:
            arg = cst.Arg(arg.value, keyword=cst.Name(name), equal=cst.AssignEqual(_NO_WS, _NO_WS))
        out.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    out.append(cst.Arg(cst.SimpleString(f'"{reduction}"'), keyword=cst.Name("reduction"),
                       equal=cst.AssignEqual(_NO_WS, _NO_WS)))
    return out


def map_arguments(
    rule: Rule,
    args: Sequence[cst.Arg],
    default_expr: Callable[[str], cst.BaseExpression],
    receiver: Optional[cst.BaseExpression] = None,
) -> list[cst.Arg]:
    """Rewrite a call's arguments per the rule; raise Unconvertible when it cannot."""
    if rule.args is None:
        out = [] if receiver is None else [cst.Arg(receiver)]
        given = {_torch_keyword(rule, a.keyword.value) for a in args if a.keyword is not None}
        for arg in args:
            key = _torch_keyword(rule, arg.keyword.value) if arg.keyword is not None else None
            if arg.keyword is not None and key != arg.keyword.value:
                arg = _as_keyword(arg, key)  # x.mean(keepdims=True) is x.mean(keepdim=True)
            for cond in rule.unsupported_args:
                if key == cond.name and cond.without not in given and _refuses(rule, cond, arg.value):
                    raise Unconvertible("unsupported", f"`{cond.describe()}`: {cond.reason}")
            if key in rule.drop:
                continue
            out.append(_as_keyword(arg, rule.kwargs[key]) if key in rule.kwargs else arg)
        present = {a.keyword.value for a in out if a.keyword is not None}
        for name, expr in rule.defaults.items():
            if name not in present:
                out.append(cst.Arg(default_expr(expr), keyword=cst.Name(name), equal=cst.AssignEqual(_NO_WS, _NO_WS)))
        return _trailing_comma_like(out, args)

    return _trailing_comma_like(_map_bound(rule, args, default_expr, receiver), args)


def _simple(node: cst.BaseExpression) -> bool:
    """No side effects, so evaluating it earlier or later changes nothing."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(node, cst.Attribute):
        return _simple(node.value)
    if isinstance(node, cst.UnaryOperation):
        return _simple(node.expression)
    return False


def _reorder_positional(items: list, slots: Sequence[str]) -> list:
    """Positional arguments that fill the target's first slots in another order
    (F.embedding(ids, table) -> ops.gather(table, ids, 0)) are put in its order."""
    positional = [i for i in items if i.positional]
    k = len(positional)
    if k < 2 or k > len(slots) or any(isinstance(i.value, list) or not _simple(i.value.value) for i in positional):
        return items
    wanted = list(slots[:k])
    if sorted(i.name for i in positional) != sorted(wanted) or [i.name for i in positional] == wanted:
        return items
    by_name = {i.name: i for i in positional}
    return [by_name[n] for n in wanted] + [i for i in items if not i.positional]


def _trailing_comma_like(out: list[cst.Arg], original: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Keep the call's own trailing-comma style after arguments moved or were dropped, and its
    layout where arguments were added: one argument per line stays so, and the line break before
    the closing parenthesis stays before it."""
    if not out:
        return out
    closing = original[-1].whitespace_after_arg if original else None
    if closing is not None and not (isinstance(closing, cst.SimpleWhitespace) and closing.value == ""):
        moved = [i for i, a in enumerate(out[:-1]) if a.whitespace_after_arg is closing]
        if moved:
            for i in moved:
                out[i] = out[i].with_changes(whitespace_after_arg=cst.SimpleWhitespace(""))
            out[-1] = out[-1].with_changes(whitespace_after_arg=closing)
    line_comma = next((a.comma for a in original if isinstance(a.comma, cst.Comma)
                       and isinstance(a.comma.whitespace_after, cst.ParenthesizedWhitespace)), None)
    last_comma = original[-1].comma if original else None
    if line_comma is not None:
        out = [a.with_changes(comma=line_comma)
               if i < len(out) - 1 and (not isinstance(a.comma, cst.Comma) or a.comma is last_comma) else a
               for i, a in enumerate(out)]
    had_trailing = bool(original) and isinstance(original[-1].comma, cst.Comma)
    last = out[-1]
    if had_trailing and not isinstance(last.comma, cst.Comma):
        out[-1] = last.with_changes(comma=original[-1].comma)
    elif not had_trailing and isinstance(last.comma, cst.Comma):
        out[-1] = last.with_changes(comma=MaybeSentinel.DEFAULT)
    return out


def _map_bound(rule, args, default_expr, receiver) -> list[cst.Arg]:
    passed = []
    if rule.runtime_kwargs:  # `**options` goes to the helper as it is: it checks torch's names at run time
        passed = [a.with_changes(comma=MaybeSentinel.DEFAULT) for a in args if a.star == "**"]
        args = [a for a in args if a.star != "**"]
    out = _map_bound_args(rule, args, default_expr, receiver)
    if passed:
        out = [*out, *passed]
    return out


def _map_bound_args(rule, args, default_expr, receiver) -> list[cst.Arg]:
    bound, order = _bind(rule, args)
    _check_conditions(rule, bound)
    items: list[_Item] = []
    empty_shape = False
    for name in order:
        if name in rule.drop:
            continue
        value = bound[name]
        positional = (value[0] if isinstance(value, list) else value).keyword is None
        transform = rule.values.get(name)
        if transform is not None:
            values = value if isinstance(value, list) else [value]
            new = VALUE_TRANSFORMS[transform](values, True)
            empty_shape |= transform == "tuple_or_int" and isinstance(new, cst.Tuple) and not new.elements
            template = values[0]
            value = cst.Arg(new, keyword=template.keyword, equal=template.equal if template.keyword else MaybeSentinel.DEFAULT)
        items.append(_Item(rule.kwargs.get(name, name), value, positional))
    if empty_shape and "dtype" not in bound and "dtype" in (rule.target_args or ()):
        # a 0-d shape (`torch.ones([])`, CLIP's logit_scale): MindSpore 2.10's CPU kernels of
        # ops.ones/ops.zeros refuse it without a dtype ("Unsupported data type"); torch's default
        # dtype is float32
        items.append(_Item("dtype", cst.Arg(default_expr("mindspore.float32")), False))

    if rule.target_args is not None:
        slots = list(rule.target_args)
        explicit = True
    else:
        slots = [("*" if n.startswith("*") else "") + rule.kwargs.get(n.lstrip("*"), n.lstrip("*")) for n in rule.args]
        explicit = False
    out: list[cst.Arg] = []
    slot = 0
    if receiver is not None:
        out.append(cst.Arg(receiver))
        if explicit:
            slot = 1
    items = _reorder_positional(items, slots[slot:]) if explicit else items
    keywords_started = False
    for item in items:
        placed = False
        if item.positional and not keywords_started and slot < len(slots):
            want = slots[slot]
            if want.startswith("*") and want[1:] == item.name:
                values = item.value if isinstance(item.value, list) else [item.value]
                out.extend(_as_positional(v) for v in values)
                slot = len(slots)
                placed = True
            elif want == item.name:
                out.append(_as_positional(item.value if not isinstance(item.value, list) else item.value[0]))
                slot += 1
                placed = True
        if placed:
            continue
        keywords_started = True
        if isinstance(item.value, list):
            if len(item.value) != 1 or item.value[0].star:
                raise Unconvertible("unsupported", f"api_map gives no target slot for *{item.name}")
            item.value = item.value[0]
        out.append(_as_keyword(item.value, item.name))
    present = {a.keyword.value for a in out if a.keyword is not None}
    present |= {s for s in slots[:slot]}
    for name, expr in rule.defaults.items():
        if name in present:
            continue
        if explicit and not keywords_started and slot < len(slots) and slots[slot] == name:
            out.append(cst.Arg(default_expr(expr)))
            slot += 1
        else:
            keywords_started = True
            out.append(cst.Arg(default_expr(expr), keyword=cst.Name(name), equal=cst.AssignEqual(_NO_WS, _NO_WS)))
    return out


def _adaptable(rule: Rule) -> bool:
    """Can ``torch_signature`` apply this entry's mapping at run time?  Not to `*varargs` entries
    (their value transforms gather the varargs) nor to attribute-style ones."""
    return rule.style == "call" and rule.target is not None and not any(a.startswith("*") for a in rule.args or ())


def signature_adapter(qn: str, rule: Rule) -> str:
    """The expression a torch class (or function) becomes where it is passed as a value
    (``norm_layer=nn.BatchNorm2d``): the helper ``torch_signature`` with the entry's mapping, applied
    at run time where the value is called (``norm_layer(dim)``), as ``map_arguments`` applies it to
    the calls it sees.  Dotted names in it are left to ``parse_expression`` to import."""
    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    def strings(names) -> str:
        return "(" + ", ".join(map(q, names)) + ("," if len(names) == 1 else "") + ")"

    def mapping(items, value=q) -> str:
        return "{" + ", ".join(f"{q(k)}: {value(v)}" for k, v in items) + "}"

    order = {name.lstrip("*"): i for i, name in enumerate(rule.args or ())}
    parts = [rule.target, q(qn)]
    if rule.args is not None:
        parts.append(strings(rule.args))
    fields = [
        ("kwargs", rule.kwargs and mapping(rule.kwargs.items())),
        ("drop", rule.drop and strings(sorted(rule.drop, key=lambda n: (order.get(n, len(order)), n)))),
        ("values", rule.values and mapping(rule.values.items())),
        ("defaults", rule.defaults and mapping(rule.defaults.items(), value=str)),
        ("refuse", rule.unsupported_args and mapping((c.describe(), c.reason) for c in rule.unsupported_args)),
        ("required", rule.required_args and mapping(rule.required_args.items())),
        ("without", rule.target_without and mapping(rule.target_without.items(), value=str)),
    ]
    parts += [f"{name}={text}" for name, text in fields if text]
    one_line = f"{HELPER_PREFIX}torch_signature({', '.join(parts)})"
    if len(one_line) <= 100:
        return one_line
    return f"{HELPER_PREFIX}torch_signature(\n" + "".join(f"    {p},\n" for p in parts) + ")"


def value_text(qn: str, rule: Rule) -> tuple[Optional[str], str]:
    """What the module-level torch name ``qn`` becomes where it is used as a value, outside
    annotations (``_reference``'s rules without the file's context): ``(expression, "")``, or
    ``(None, why not)``."""
    if rule.owner is not None:
        return None, "a member of a class"
    if rule.transform:
        return None, "converted by a rewrite where it is called, which a value cannot take"
    if rule.target is None:
        return None, rule.note or "no MindSpore equivalent"
    if rule.type_target is not None and not _adapted_value(rule):
        if rule.value_target is not None:
            return rule.value_target, ""
        return (None, rule.type_note) if rule.type_note else (rule.type_target, "")
    if _pure_rename(rule):
        return rule.target, ""
    if not _adaptable(rule):
        return None, "used as a value, so its argument mapping cannot be applied"
    return signature_adapter(qn, rule), ""


def _adapted_value(rule: Rule) -> bool:
    """A class whose ``type_target`` only stands for it in types (``nn.Embedding``: the helper's
    subclass where ``padding_idx`` is given, MindSpore's class in annotations and isinstance) is,
    held as a value, a class taking torch's arguments (``torch_signature`` over its target), as a
    class without a ``type_target`` is."""
    return (rule.value_target is None and not rule.type_note and rule.target.rpartition(".")[2][:1].isupper()
            and not _pure_rename(rule) and _adaptable(rule))


def _inside_helper(text: str) -> str:
    """``text`` (dotted names) as code inside the helper module itself: ``_torch_compat.X`` is X."""
    class Strip(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            if isinstance(updated.value, cst.Name) and updated.value.value == HELPER_MODULE:
                return updated.attr
            return updated

    return cst.parse_module(text).visit(Strip()).code


def torch_names_source(spec: Spec) -> str:
    """The table's module-level entries as ``_torch_compat._TORCH_NAMES`` entries (torch name ->
    a function returning its value), for the helper ``torch_getattr``: appended to the helper
    module where converted code calls it."""
    lines = ["", "", "# -- written by python -m migrate from its table (api_map.yaml and --map files), for",
             "# torch_getattr: each torch name -> what it converts to as a value", "_TORCH_NAMES.update({"]
    for qn in sorted(spec.rules):
        rule = spec.rules[qn]
        if rule.owner is not None:
            continue
        text, why = value_text(qn, rule)
        if text is None:
            lines.append(f"    {json.dumps(qn)}: _no_value({json.dumps(qn)}, {json.dumps(' '.join(why.split()))}),")
            continue
        body = _inside_helper(text).strip()
        if "\n" in body:
            body = "\n        ".join(body.splitlines())
        lines.append(f"    {json.dumps(qn)}: lambda: {body},")
    lines.append("})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# per-file context given to transforms


@dataclass
class _Frame:
    original: cst.CSTNode
    markers: list = field(default_factory=list)
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    remove: bool = False
    torch_import: bool = False  # a top-level statement holding a torch import


class FileContext:
    """Everything a rule or transform may ask about / do to the current file."""

    def __init__(self, spec: Spec, path: str, module: cst.Module, names: NameResolver, types: TypeInfo,
                 imported: dict, helper_level: int, jit: bool = True):
        self.spec = spec
        self.jit = jit  # may graph_mode add @mindspore.jit
        self.path = path
        self.module = module
        self.names = names
        self.types = types
        self.sites: list[Site] = []
        self.helpers: set[str] = set()
        self.helper_level = helper_level  # 0: absolute import; n: `from .{n-1 dots}_torch_compat import`
        self._claimed: set[int] = set()
        self.stores: set[int] = set()  # ids of assignment/del/for targets (the engine fills it as it visits)
        self._frames: list[_Frame] = []
        self._requests: dict[tuple, str] = {}  # (module, obj, preferred, relative) -> placeholder
        self._existing: dict[str, str] = {}
        for local, fulls in imported.items():
            if len(fulls) == 1:
                full = next(iter(fulls))
                if full == "mindspore" or full.startswith("mindspore."):
                    self._existing.setdefault(full, local)
        self.changed = False
        #: id -> module-level statement holding torch imports (held: see MigrateTransformer._to_remove)
        self.torch_import_statements: dict[int, cst.CSTNode] = {}
        #: id() of original statements that the conversion removes (``x = x.to(device)``)
        self.removed_statements: set[int] = set()
        #: id() of an original statement -> how many statements it became (a dropped
        #: ``with torch.no_grad():`` its body's, one with insertions more; removed ones 0)
        self.statement_sizes: dict[int, int] = {}

    # -- names and types
    def torch_name(self, node: cst.BaseExpression) -> Optional[str]:
        return self.names.torch_name(node)

    def qualified_names(self, node: cst.BaseExpression) -> frozenset:
        return self.names.qualified(node)

    def type_of(self, expr: cst.BaseExpression) -> Optional[T]:
        return self.types.type_of(expr)

    # -- emitting names
    def _placeholder(self, module: str, obj: Optional[str], preferred: str, relative: int = 0) -> str:
        key = (module, obj, preferred, relative)
        if key not in self._requests:
            self._requests[key] = f"__migrate_{len(self._requests)}__"
        return self._requests[key]

    def name_for(self, target: str) -> cst.BaseExpression:
        """An expression naming ``target`` (``mindspore.nn.Dense`` -> ``nn.Dense``), imports scheduled."""
        if target.startswith(HELPER_PREFIX):
            parts = target[len(HELPER_PREFIX):].split(".")
            return _chain(self.helper(parts[0]), parts[1:])
        parts = target.split(".")
        cut = next((i for i in range(1, len(parts)) if parts[i][:1].isupper()), len(parts) - 1)
        module, obj, rest = ".".join(parts[:cut]), parts[cut], parts[cut + 1:]
        if module in _SHORT_MODULES:
            imp_module, imp_obj, preferred = _SHORT_MODULES[module]
            head = self._local(imp_module, imp_obj, preferred)
            return _chain(head, [obj, *rest])
        if module == "mindspore":
            return _chain(self._local("mindspore", None, "mindspore"), [obj, *rest])
        return _chain(self._local(module, obj, obj), rest)

    def _local(self, module: str, obj: Optional[str], preferred: str, relative: int = 0) -> cst.Name:
        full = f"{module}.{obj}" if obj else module
        if not relative and full in self._existing:
            return cst.Name(self._existing[full])
        return cst.Name(self._placeholder(module, obj, preferred, relative))

    def helper(self, name: str) -> cst.Name:
        """Use ``name`` from the emitted helper module ``_torch_compat``."""
        self.helpers.add(name)
        return self._local(HELPER_MODULE, name, name, self.helper_level)

    def helper_names(self, *names: str) -> frozenset:
        """What the code written so far calls the helpers ``names`` (their placeholders), for
        recognising calls the rewrites emitted; asks for nothing new."""
        wanted = {f"{HELPER_MODULE}.{n}" for n in names}
        emitted = {placeholder for (module, obj, _, _), placeholder in self._requests.items()
                   if f"{module}.{obj}" in wanted}
        return frozenset(emitted | {local for full, local in self._existing.items() if full in wanted})

    def untyped_call(self, rule: Rule, receiver: cst.BaseExpression, args: Sequence[cst.Arg]) -> tuple[cst.Call, str]:
        """``helper(receiver, *args)`` with the entry's ``untyped`` helper, which decides at run time
        what the tool could not tell (a receiver's or an argument's type), and its name."""
        name = rule.untyped[len(HELPER_PREFIX):]
        return cst.Call(func=self.helper(name), args=[cst.Arg(receiver), *args]), f"_torch_compat.{name}"

    def parse_expression(self, text: str) -> cst.BaseExpression:
        """Parse ``text``; dotted ``mindspore.*``/``_torch_compat.*`` names in it are emitted."""
        return cst.parse_expression(text).visit(_EmitNames(self))

    def is_store(self, node: cst.CSTNode) -> bool:
        """Is ``node`` (an original node) written, not read: an assignment, ``del`` or loop target?"""
        return id(node) in self.stores

    # -- reporting
    def converted(self, node: cst.CSTNode, rule: str, note: Optional[str] = None) -> None:
        self.changed = True
        self.sites.append(Site("converted", rule, note or "", node=node))

    def uncertain(self, node: cst.CSTNode, rule: str, reason: str) -> None:
        self._needs_person("uncertain", node, rule, reason)

    def unsupported(self, node: cst.CSTNode, rule: str, reason: str) -> None:
        self._needs_person("unsupported", node, rule, reason)

    def report_graph(self, node: cst.CSTNode, cls: str, reason: Optional[str], note: str = "") -> None:
        """Record whether ``cls``'s construct is compiled with mindspore.jit (reason None;
        ``note`` says what else was done to it) or left in PyNative (and why); not a torch
        site, so it counts in no rate."""
        if reason is None:
            self.changed = True
            what = f"{cls}.construct is compiled as a graph" + (f"; {note}" if note else "")
            self.sites.append(Site("graph", "mindspore.jit", what, node=node))
        else:
            self.sites.append(Site("pynative", "mindspore.jit", f"{cls}.construct stays in PyNative: {reason}", node=node))

    def report_step(self, node: cst.CSTNode, reason: Optional[str]) -> None:
        """Record whether the training step at ``node`` (a backward()) is compiled as one graph
        (``compiled_value_and_grad``; reason None) or differentiated in PyNative, and why."""
        if reason is None:
            self.sites.append(Site("graph", "mindspore.jit", "the training step (forward and backward) is compiled "
                                   "as a graph, with PyNative as the fallback", node=node))
        else:
            self.sites.append(Site("pynative", "mindspore.jit", f"the training step stays in PyNative: {reason}",
                                   node=node))

    def _needs_person(self, kind: str, node: cst.CSTNode, rule: str, reason: str) -> None:
        reason = " ".join(reason.split())
        self.sites.append(Site(kind, rule, reason, node=node))
        if self._frames:
            self._frames[-1].markers.append((kind, rule, reason))

    # -- statements
    def claim(self, node: cst.CSTNode) -> None:
        """Keep the table rules away from ``node`` (a transform handles it)."""
        self._claimed.add(id(node))

    def is_claimed(self, node: cst.CSTNode) -> bool:
        return id(node) in self._claimed

    def insert_before(self, statements: Iterable[cst.BaseStatement]) -> None:
        self._frames[-1].before.extend(statements)

    def insert_after(self, statements: Iterable[cst.BaseStatement]) -> None:
        self._frames[-1].after.extend(statements)

    def remove_statement(self) -> None:
        self._frames[-1].remove = True

    @property
    def statement(self) -> Optional[cst.CSTNode]:
        """The original statement being converted."""
        return self._frames[-1].original if self._frames else None


def _chain(head: cst.BaseExpression, attrs: Sequence[str]) -> cst.BaseExpression:
    for attr in attrs:
        head = cst.Attribute(value=head, attr=cst.Name(attr))
    return head


class _EmitNames(cst.CSTTransformer):
    def __init__(self, ctx: FileContext):
        self.ctx = ctx

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return False

    def leave_Attribute(self, original, updated):
        name = dotted(updated)
        if name and (name.startswith("mindspore.") or name.startswith(HELPER_PREFIX)):
            return self.ctx.name_for(name)
        return updated

    def leave_Name(self, original, updated):
        if updated.value == "mindspore":
            return self.ctx._local("mindspore", None, "mindspore")
        return updated


def _type_test_classes(call: cst.Call) -> Optional[cst.BaseExpression]:
    """The class argument of ``isinstance(x, classes)``/``issubclass(c, classes)``, else None."""
    if isinstance(call.func, cst.Name) and call.func.value in ("isinstance", "issubclass") and len(call.args) == 2:
        return call.args[1].value
    return None


class _ClassArgNames(cst.CSTVisitor):
    """The Name nodes passed as isinstance/issubclass's class argument, and the tuple or
    list assignments to a single name."""

    def __init__(self) -> None:
        self.class_args: set[int] = set()
        self.assigns: list[tuple[cst.Name, Sequence[cst.BaseElement]]] = []

    def visit_Call(self, node: cst.Call) -> None:
        classes = _type_test_classes(node)
        if isinstance(classes, cst.Name):
            self.class_args.add(id(classes))

    def visit_Assign(self, node: cst.Assign) -> None:
        if (len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)
                and isinstance(node.value, (cst.Tuple, cst.List))):
            self.assigns.append((node.targets[0].target, node.value.elements))


def _class_tuple_elements(module: cst.Module, names: NameResolver) -> set[int]:
    """ids of the elements of ``classes = (nn.Linear, nn.Embedding)`` where ``classes`` is the
    only binding of that name in its scope and every use of it is isinstance's or issubclass's
    class argument: those references are types (nn.Linear -> nn.Dense), not calls to map."""
    finder = _ClassArgNames()
    module.visit(finder)
    out: set[int] = set()
    for target, elements in finder.assigns:
        scope = names.scope_of(target)
        if scope is None:
            continue
        bindings = list(scope.assignments[target.value])
        if len(bindings) != 1 or getattr(bindings[0], "node", None) is not target:
            continue
        uses = [access.node for access in bindings[0].references]
        if uses and all(id(use) in finder.class_args for use in uses):
            out |= {id(e.value) for e in elements if not isinstance(e, cst.StarredElement)}
    return out


# --------------------------------------------------------------------------
# the transformer


class MigrateTransformer(cst.CSTTransformer):
    """Applies api_map rules and dispatches transform hooks in one traversal."""

    def __init__(self, ctx: FileContext, transforms: Sequence[Transform]):
        super().__init__()
        self.ctx = ctx
        self.spec = ctx.spec
        self.types = ctx.types
        self.transforms = {t.name: t for t in transforms}
        self._visit_hooks: dict[str, list] = {}
        self._leave_hooks: dict[str, list] = {}
        for t in transforms:
            for attr in dir(type(t)):
                if attr.startswith("visit_") and attr != "visit_":
                    self._visit_hooks.setdefault(attr[6:], []).append(getattr(t, attr))
                elif attr.startswith("leave_"):
                    self._leave_hooks.setdefault(attr[6:], []).append(getattr(t, attr))
        self._skip: set[int] = set()  # names that are not references (attribute members, keywords, defs)
        self._inner: set[int] = set()  # prefixes of attribute chains (`torch.nn` in `torch.nn.Linear`)
        self._call_funcs: set[int] = set()
        self._store: set[int] = set()
        ctx.stores = self._store
        #: id -> statement to drop when its block is left; the node is held so that its id cannot
        #: be reused by a node made later (which would then be dropped instead)
        self._to_remove: dict[int, cst.CSTNode] = {}
        self._annotation_depth = 0
        self._type_refs: set[int] = set()  # isinstance/issubclass class arguments, base classes
        self._base_refs: set[int] = set()  # base classes

    # -- dispatch
    def on_visit(self, node: cst.CSTNode) -> bool:
        kind = type(node).__name__
        if isinstance(node, _STATEMENTS):
            self.ctx._frames.append(_Frame(node))
        self.types.enter(node)
        own = getattr(self, "_visit_" + kind, None)
        if own is not None and own(node) is False:
            return False
        for hook in self._visit_hooks.get(kind, ()):
            hook(node)
        return True

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        kind = type(original).__name__
        result = updated
        own = getattr(self, "_leave_" + kind, None)
        if own is not None:
            result = own(original, result)
        for hook in self._leave_hooks.get(kind, ()):
            if not isinstance(result, type(original)):
                break
            result = hook(original, result)
        self.types.leave(original)
        if isinstance(original, _STATEMENTS):
            frame = self.ctx._frames.pop()
            result = self._finish_statement(original, result, frame)
        return result

    # -- bookkeeping visits
    def _visit_Import(self, node: cst.Import) -> bool:
        if any(a.evaluated_name == "torch" or a.evaluated_name.startswith("torch.") for a in node.names):
            self._flag_torch_import()
        return False

    def _visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        module = dotted(node.module) if node.module is not None and not node.relative else None
        if module and (module == "torch" or module.startswith("torch.")):
            self._flag_torch_import()
        return False

    def _flag_torch_import(self) -> None:
        """Module-level imports (also inside top-level try/if) may be removed later;
        imports local to a function or class are left alone."""
        frames = self.ctx._frames
        if not any(isinstance(f.original, (cst.FunctionDef, cst.ClassDef)) for f in frames):
            frames[0].torch_import = True

    def _visit_Attribute(self, node: cst.Attribute) -> None:
        self._inner.add(id(node.value))
        self._skip.add(id(node.attr))

    def _visit_Call(self, node: cst.Call) -> None:
        self._call_funcs.add(id(node.func))
        classes = _type_test_classes(node)
        if classes is not None:
            for el in [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]:
                self._type_refs.add(id(el))

    def _visit_Module(self, node: cst.Module) -> None:
        self._type_refs |= _class_tuple_elements(node, self.ctx.names)

    def _visit_Annotation(self, node) -> None:
        self._annotation_depth += 1

    def _leave_Annotation(self, original, updated):
        self._annotation_depth -= 1
        return updated

    def _visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._skip.add(id(node.keyword))

    def _visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._skip.add(id(node.name))

    def _visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._skip.add(id(node.name))
        for base in node.bases:  # a base class is used as a type
            if base.keyword is None:
                self._type_refs.add(id(base.value))
                self._base_refs.add(id(base.value))

    def _visit_Param(self, node: cst.Param) -> None:
        self._skip.add(id(node.name))

    def _visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._mark_store(node.target)

    def _visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_store(node.target)

    def _visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_store(node.target)

    def _visit_For(self, node: cst.For) -> None:
        self._mark_store(node.target)

    def _visit_CompFor(self, node: cst.CompFor) -> None:
        self._mark_store(node.target)

    def _visit_AsName(self, node: cst.AsName) -> None:
        self._mark_store(node.name)

    def _visit_Del(self, node: cst.Del) -> None:
        self._mark_store(node.target)

    def _visit_Global(self, node) -> bool:
        return False

    def _visit_Nonlocal(self, node) -> bool:
        return False

    def _mark_store(self, target: cst.BaseExpression) -> None:
        self._store.add(id(target))
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._mark_store(el.value)
        elif isinstance(target, cst.StarredElement):
            self._mark_store(target.value)

    # -- references
    def _leave_Name(self, original: cst.Name, updated: cst.Name):
        key = id(original)
        if key in self._skip or key in self._inner or key in self._call_funcs or key in self._store or self.ctx.is_claimed(original):
            return updated
        qn = self.ctx.torch_name(original)
        if qn is None:
            return updated
        return self._reference(qn, original, updated)

    def _leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
        key = id(original)
        if key in self._skip or key in self._call_funcs or self.ctx.is_claimed(original):
            return updated
        store = key in self._store
        if self.ctx.names.might_be_imported(original):
            if key in self._inner:
                return updated  # a prefix of a longer qualified name
            qn = self.ctx.torch_name(original)
            if qn is not None:
                if store:
                    if qn.startswith("torch.backends.") and self._only_target(original):
                        # cuDNN/CUDA switches (deterministic, benchmark, allow_tf32): no MindSpore meaning
                        self.ctx.converted(original, qn, "a torch backend switch; removed (MindSpore has no "
                                                         "such switch; mindspore.set_deterministic for determinism)")
                        self.ctx.remove_statement()
                        return updated
                    self.ctx.unsupported(original, qn, "assigning to torch's module state has no MindSpore equivalent")
                    return updated
                return self._reference(qn, original, updated)
        if store:
            return updated
        return self._member_reference(original, updated)

    def _only_target(self, target: cst.BaseExpression) -> bool:
        """Is ``target`` the whole of its statement's only assignment (``a.b = True``)?"""
        stmt = self.ctx.statement
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return False
        assign = stmt.body[0]
        return (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and assign.targets[0].target is target
                and isinstance(assign.value, (cst.Name, cst.Integer)))

    def _reference(self, qn: str, original, updated):
        rule = self.spec.get(qn)
        if rule is None:
            if qn == "torch":
                self.ctx.unsupported(original, "torch", "the torch module used as a value")
            else:
                self.ctx.unsupported(original, qn, "no mapping in api_map.yaml")
            return updated
        if rule.owner is not None:
            self.ctx.unsupported(original, qn, "an unbound member (the receiver is not known); call it on an instance")
            return updated
        site = CallSite(rule, original, updated, is_call=False)
        if rule.transform:
            return self._run_transform(site)
        if rule.target is None:
            self.ctx.unsupported(original, qn, rule.note or "no MindSpore equivalent")
            return updated
        as_type = self._annotation_depth > 0 or id(original) in self._type_refs
        typed = self._annotation_depth > 0 or id(original) in self._base_refs  # an annotation, a base class
        if rule.type_target is not None and (typed or as_type or not _adapted_value(rule)):
            # the class itself: a type, a base, a value (type(x) is C)
            if rule.type_note and not typed and (rule.value_target is None or id(original) in self._type_refs):
                self.ctx.uncertain(original, qn, rule.type_note)
                return updated
            self.ctx.converted(original, qn, rule.note)
            return self.ctx.name_for(rule.type_target if typed or rule.value_target is None else rule.value_target)
        if not _pure_rename(rule) and not (as_type and rule.member[:1].isupper()):
            if not _adaptable(rule):
                self.ctx.unsupported(original, qn, "used as a value, so its argument mapping cannot be applied")
                return updated
            self.ctx.converted(original, qn, "used as a value: a class taking torch's arguments (helper "
                                             "torch_signature applies this entry's mapping where it is called; "
                                             "refused values raise NotImplementedError)")
            return self.ctx.parse_expression(signature_adapter(qn, rule))
        self.ctx.converted(original, qn, rule.note)
        return self.ctx.name_for(rule.target)

    def _member_reference(self, original: cst.Attribute, updated: cst.Attribute):
        attr = original.attr.value
        renamed = self.spec.renamed_attributes.get(attr)
        rtype = self._one_class(original, original.value, attr, quiet=bool(renamed))
        if rtype is BOTTOM:
            if renamed:  # modules of several classes that spell it differently
                return self._layer_attr(original, updated, attr, renamed)
            return updated
        candidates = owners_of(rtype)
        if not candidates:
            # An attribute read on a receiver of unknown type is left alone and not
            # reported: member names are generic (.data, .grad, .shape) and MindSpore
            # tensors keep them readable -- except a layer attribute MindSpore renames for
            # some class (m.weight is BatchNorm's gamma): that one is looked up at run time.
            if rtype is None and renamed and isinstance(original.value, (cst.Name, cst.Attribute)):
                return self._layer_attr(original, updated, attr, renamed)
            return updated
        for owner in candidates:
            rule = self.spec.get(f"{owner}.{attr}")
            if rule is None:
                continue
            if rule.style != "attribute":
                return updated  # a method referenced without calling it
            site = CallSite(rule, original, updated, receiver=updated.value, receiver_type=rtype, is_call=False)
            if rule.transform:
                return self._run_transform(site)
            if rule.target is None:
                self.ctx.unsupported(original, rule.key, rule.note or "no MindSpore equivalent")
                return updated
            self.ctx.converted(original, rule.key, rule.note)
            return updated.with_changes(attr=cst.Name(rule.target.rpartition(".")[2]))
        if rtype is not None and rtype.kind == "tensor" and not foreign_to_torch_tensors(attr):
            self.ctx.unsupported(original, f"torch.Tensor.{attr}", "no mapping in api_map.yaml")
        return updated

    def _next_of_converted(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """``next(model.parameters())``: torch's generator is a list in MindSpore
        (``trainable_params()``), which ``next`` rejects; a converted argument is wrapped in
        ``iter(...)`` (an iterator is its own ``iter``)."""
        if not original.args or original.args[0].keyword is not None or original.args[0].star:
            return updated
        before, after = original.args[0].value, updated.args[0].value
        if (not isinstance(before, cst.Call) or code_text(before) == code_text(after)
                or (isinstance(before.func, cst.Name) and before.func.value == "iter")
                or not self.ctx.types.is_builtin(original.func)):
            return updated
        wrapped = cst.Call(func=cst.Name("iter"), args=[cst.Arg(after)])
        return updated.with_changes(args=[updated.args[0].with_changes(value=wrapped), *updated.args[1:]])

    def _generic_rule(self, member: str) -> Optional[Rule]:
        """The first generic owner's rule for ``member`` that would change code."""
        rules = [r for r in (self.spec.get(f"{o}.{member}") for o in OWNER_CLASSES) if r is not None]
        return next((r for r in rules if not r.is_identity), rules[0] if rules else None)

    def _owner_words(self, member: str) -> str:
        words = [_owner_word(self.spec.get(f"{o}.{member}")) for o in OWNER_CLASSES if self.spec.get(f"{o}.{member}")]
        return " or ".join(words)

    # -- calls
    def _leave_Call(self, original: cst.Call, updated: cst.Call):
        if self.ctx.is_claimed(original) or self.ctx.is_claimed(original.func):
            return updated
        func = original.func
        if isinstance(func, cst.Name) and func.value == "next":
            return self._next_of_converted(original, updated)
        qn = self.ctx.torch_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if qn is not None:
            rule = self.spec.get(qn)
            if rule is None:
                self.ctx.unsupported(original, qn, "no mapping in api_map.yaml")
                return updated
            if rule.owner is not None and rule.style != "static":
                self.ctx.unsupported(original, qn, "an unbound member called with an explicit receiver; call it on the instance")
                return updated
            return self._apply(CallSite(rule, original, updated))  # a function, or a class-level one
        if not isinstance(func, cst.Attribute):
            return updated
        method = func.attr.value
        owners = self.spec.member_owners.get(method)
        rtype = self._one_class(original, func.value, method)
        if rtype is BOTTOM:
            return updated
        candidates = owners_of(rtype)
        if not candidates:
            if rtype is None and owners:
                rule = self._generic_rule(method)
                used = {a.keyword.value for a in original.args if a.keyword is not None}
                if rule is not None and rule.untyped:
                    return self._untyped(rule, original, updated)
                if rule is not None and _not_torchs(rule, original):
                    return updated  # `key.split('.')`, `line.split()`: str's, never a tensor's
                if rule is not None and not rule.is_identity_for(used):
                    if _dispatchable(rule, original):
                        return self._untyped_method(rule, original, updated)
                    self.ctx.uncertain(
                        original, rule.key,
                        f"receiver type unknown: is `{code_text(func.value).strip()}` a torch {self._owner_words(method)}?",
                    )
            elif rtype is None and torch_only_tensor_member(method) and not self.ctx.names.qualified(func) \
                    and not self._project_defines(method):
                # adj.to_sparse() on a receiver of unknown type: a tensor method of torch's alone
                # with no entry; left as it is it fails on a MindSpore tensor
                self.ctx.uncertain(original, f"torch.Tensor.{method}",
                                   f"no mapping in api_map.yaml; is `{code_text(func.value).strip()}` a torch tensor?")
            self._unmapped_object_member(original, rtype, method)
            return updated
        assert isinstance(updated.func, cst.Attribute)
        for owner in candidates:
            rule = self.spec.get(f"{owner}.{method}")
            if rule is not None and rule.style == "static":
                self.ctx.unsupported(original, rule.key, "a class-level function called on an instance; call it on the class")
                return updated
            if rule is not None:
                return self._apply(CallSite(rule, original, updated, receiver=updated.func.value, receiver_type=rtype))
        self._unmapped_object_member(original, rtype, method)
        if rtype.kind == "tensor" and not foreign_to_torch_tensors(method):
            self.ctx.unsupported(original, f"torch.Tensor.{method}", "no mapping in api_map.yaml")
        elif rtype.kind == "module" and method in TORCH_MODULE_METHODS and not self._project_defines(method):
            # nn.Module's own API on a known module (a Cell has other names): left as it is it fails
            self.ctx.unsupported(original, f"torch.nn.Module.{method}", "no mapping in api_map.yaml")
        return updated

    def _unmapped_object_member(self, original: cst.Call, rtype: Optional[T], method: str) -> None:
        """A method of torch's that the table has no entry for, called on an instance of a torch
        class the table converts to a helper class that lacks it too (``opt.add_param_group``,
        ``writer.add_histogram``): left as it is, it raises AttributeError at run time."""
        if rtype is None or rtype.kind not in ("object", "optimizer") or not (rtype.cls or "").startswith("torch."):
            return
        members = _torch_members(rtype.cls)
        rule = self.spec.get(rtype.cls)
        target = rule.target if rule is not None else None
        if members is None or method not in members or not (target or "").startswith(HELPER_PREFIX):
            return
        helper = target[len(HELPER_PREFIX):]
        provided = helpers.class_members(HELPER_PREFIX.rstrip("."), helper)
        if provided is not None and method not in provided:
            self.ctx.unsupported(original, f"{rtype.cls}.{method}", f"no mapping in api_map.yaml (the helper's {helper} has none)")

    def _untyped_method(self, rule: Rule, original: cst.Call, updated: cst.Call) -> cst.Call:
        """``x.unique()`` on an ``x`` of unknown type -> ``untyped_method(x, "unique", unique)``: a
        MindSpore tensor goes through the entry's helper (which takes torch's arguments as they
        are, see ``_dispatchable``), any other object (a pandas Series) runs its own method."""
        assert isinstance(updated.func, cst.Attribute)
        helper = self.ctx.helper(rule.target[len(HELPER_PREFIX):])
        args = [cst.Arg(updated.func.value), cst.Arg(cst.SimpleString(f'"{rule.member}"')), cst.Arg(helper),
                *updated.args]
        self.ctx.converted(original, rule.key, "receiver of unknown type: _torch_compat.untyped_method decides at run time")
        return cst.Call(func=self.ctx.helper("untyped_method"), args=args)

    def _untyped(self, rule: Rule, original: cst.Call, updated: cst.Call) -> cst.Call:
        """``x.to(device)`` on an ``x`` of unknown type -> ``to(x, device)``: the entry's
        ``untyped`` helper decides at run time (a MindSpore tensor or Cell gets torch's meaning,
        any other object its own method)."""
        assert isinstance(updated.func, cst.Attribute)
        call, helper = self.ctx.untyped_call(rule, updated.func.value, updated.args)
        self.ctx.converted(original, rule.key, f"receiver of unknown type: {helper} decides at run time")
        return call

    def _layer_attr(self, original: cst.Attribute, updated: cst.Attribute, attr: str, renamed) -> cst.Call:
        """``layer_attr(m, "weight")``: a layer attribute MindSpore spells otherwise in some classes,
        read where the receiver's class is not known, is looked up at run time by the helper
        (tested to agree with the table's renames)."""
        spelled = ", ".join(f"{cls} `{new}`" for cls, new in sorted(renamed.items()))
        self.ctx.converted(original, f"torch.nn.Module.{attr}",
                           f"the class of `{code_text(original.value).strip()}` is not known here, and MindSpore "
                           f"spells `.{attr}` otherwise in some layers ({spelled}): looked up at run time "
                           "(_torch_compat.layer_attr)")
        return cst.Call(func=self.ctx.helper("layer_attr"),
                        args=[cst.Arg(updated.value), cst.Arg(cst.SimpleString(f'"{attr}"'))])

    def _one_class(self, site: cst.CSTNode, receiver: cst.BaseExpression, member: str,
                   quiet: bool = False) -> Optional[T]:
        """The receiver's type; for modules of several classes (``isinstance(m, (nn.Linear,
        nn.Embedding))``) the first one's when all of them map ``member`` alike, else
        ``BOTTOM`` with the site reported uncertain (Linear's ``weight`` is Embedding's
        ``embedding_table``: no one spelling is right for both) unless ``quiet``."""
        rtype = self.ctx.type_of(receiver)
        if rtype is None and isinstance(receiver, cst.Attribute) and receiver.attr.value in ("data", "grad") \
                and member.endswith("_") and torch_only_tensor_member(member):
            # `model.logit_scale.data.clamp_(0, 4.6)`, `model.fc.bias.grad.mul_(0.5)` on a model
            # nothing types: `.data` or `.grad` followed by an in-place method only torch's tensors
            # have is a tensor's data or gradient
            return TENSOR
        if rtype is None or rtype.kind != "module" or not rtype.items:
            return rtype
        spellings = {}
        for item in rtype.items:
            rule = next((r for r in (self.spec.get(f"{o}.{member}") for o in owners_of(item)) if r is not None), None)
            spellings[item.cls.rpartition(".")[2]] = None if rule is None else (rule.target, rule.transform, rule.style)
        if len(set(spellings.values())) == 1:
            return rtype.items[0]
        if quiet:
            return BOTTOM
        self.ctx.uncertain(site, f"torch.nn.Module.{member}",
                           f"`{code_text(receiver).strip()}` is one of {', '.join(spellings)} here, and MindSpore "
                           f"spells `.{member}` differently among them; split the isinstance test by class")
        return BOTTOM

    def _sparse_variant(self, rule: Rule, site: CallSite) -> Rule:
        """``torch.mm(a, b)``/``torch.matmul(a, b)`` where ``a`` is known to be a sparse tensor
        (built by an entry whose conversion is the helper's SparseTensor): torch.sparse.mm's rule
        (MindSpore's matmul does not take the helper's object)."""
        if rule.key not in _SPARSE_PRODUCTS or not isinstance(site.original, cst.Call):
            return rule
        first = next((a.value for a in site.original.args if a.keyword is None and not a.star), None)
        sparse = self.ctx.spec.get("torch.sparse.mm")
        if first is None or sparse is None or not is_sparse_object(self.ctx.type_of(first), self.ctx.spec):
            return rule
        return sparse

    def _project_defines(self, method: str) -> bool:
        """Does a class of this file or of SRC define a method of this name (which a call on one of
        its instances would reach instead of torch's)?"""
        if any(method in info.methods for info in self.ctx.types.classes.values()):
            return True
        project = self.ctx.types.project
        return project is not None and method in project.method_names

    def _apply(self, site: CallSite):
        rule = site.rule = self._sparse_variant(_without_variant(site.rule, site.updated.args), site)
        if rule.transform:
            return self._run_transform(site)
        if rule.target is None:
            self.ctx.unsupported(site.original, rule.key, rule.note or "no MindSpore equivalent")
            return site.updated
        legacy = _legacy_reduction(rule, site.updated.args)
        if legacy is not None:
            site.updated = site.updated.with_changes(args=legacy)
        try:
            new = self._rewrite_call(site)
        except Unconvertible as exc:
            if exc.at_run_time and site.receiver is None and _adaptable(rule) and rule.member[:1].isupper():
                # nn.Conv2d(c, d, **options): the class with torch's signature decides when it runs
                self.ctx.converted(site.original, rule.key, f"{exc.reason}: the entry's mapping is applied where "
                                                            "it runs (helper torch_signature)")
                return site.updated.with_changes(func=self.ctx.parse_expression(signature_adapter(rule.key, rule)))
            self._report(exc, site)
            return site.updated
        self.ctx.converted(site.original, rule.key, rule.note)
        return new

    def _rewrite_call(self, site: CallSite) -> cst.BaseExpression:
        rule, updated = site.rule, site.updated
        method_target = site.receiver is not None and rule.target_is_method
        if rule.style == "attribute":
            if updated.args:
                raise Unconvertible("unsupported", f"{rule.key} with arguments has no mapping")
            return cst.Attribute(value=site.receiver, attr=cst.Name(rule.target.rpartition(".")[2]))
        receiver_arg = site.receiver if (site.receiver is not None and not method_target) else None
        args = map_arguments(rule, updated.args, self.ctx.parse_expression, receiver_arg)
        if method_target:
            func = updated.func.with_changes(attr=cst.Name(rule.target.rpartition(".")[2]))
        else:
            func = self.ctx.name_for(rule.target)
        return updated.with_changes(func=func, args=args)

    def _run_transform(self, site: CallSite):
        transform = self.transforms.get(site.rule.transform)
        if transform is None:
            self.ctx.unsupported(site.original, site.rule.key, f"transform {site.rule.transform!r} is not available")
            return site.updated
        try:
            new = transform.rewrite(site)
        except Unconvertible as exc:
            self._report(exc, site)
            return site.updated
        if new is None:
            return site.updated
        note = site.rule.note
        if isinstance(new, tuple):  # (node, the reason this site converted as it did)
            new, note = new
        self.ctx.converted(site.original, site.rule.key, note)
        return new

    def _report(self, exc: Unconvertible, site: CallSite) -> None:
        if exc.kind == "uncertain":
            self.ctx.uncertain(site.original, site.rule.key, exc.reason)
        else:
            self.ctx.unsupported(site.original, site.rule.key, exc.reason)

    # -- statements
    def _leave_SimpleStatementLine(self, original, updated):
        return self._drop_noops(original, updated)

    def _leave_SimpleStatementSuite(self, original, updated):
        result = self._drop_noops(original, updated)
        if isinstance(result, cst.SimpleStatementSuite) and not result.body:
            return result.with_changes(body=[cst.Pass()])
        return result

    def _drop_noops(self, original, updated):
        if len(original.body) != len(updated.body):
            return updated
        keep = [new for old, new in zip(original.body, updated.body) if not _became_noop(old, new)]
        if len(keep) == len(updated.body):
            return updated
        if not keep:
            if isinstance(updated, cst.SimpleStatementLine):
                self.ctx._frames[-1].remove = True
                return updated
            return updated.with_changes(body=[])
        keep[-1] = keep[-1].with_changes(semicolon=MaybeSentinel.DEFAULT)
        return updated.with_changes(body=keep)

    def _finish_statement(self, original, result, frame: _Frame):
        result = self._finish_statement_inner(original, result, frame)
        if id(original) in self.ctx.removed_statements:
            self.ctx.statement_sizes[id(original)] = 0
        elif isinstance(result, cst.FlattenSentinel):
            self.ctx.statement_sizes[id(original)] = len(result.nodes)
        elif isinstance(result, cst.RemovalSentinel):
            self.ctx.statement_sizes[id(original)] = 0
        if frame.torch_import and not self.ctx._frames:
            nodes = result.nodes if isinstance(result, cst.FlattenSentinel) else [result]
            self.ctx.torch_import_statements.update((id(n), n) for n in nodes)
        return result

    def _finish_statement_inner(self, original, result, frame: _Frame):
        if frame.markers:
            if isinstance(result, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                result = _add_markers(result, frame.markers)
            elif isinstance(result, cst.FlattenSentinel) and result.nodes:
                nodes = list(result.nodes)
                nodes[0] = _add_markers(nodes[0], frame.markers)
                result = cst.FlattenSentinel(nodes)
        if frame.remove and not frame.before and not frame.after:
            if isinstance(result, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                self._to_remove[id(result)] = result
                self.ctx.removed_statements.add(id(original))
                self.ctx.changed = True
            return result
        if frame.before or frame.after:
            self.ctx.changed = True
            middle = [] if frame.remove else [result]
            items = [*frame.before, *middle, *frame.after]
            if frame.remove and items and isinstance(result, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                items[0] = items[0].with_changes(leading_lines=[*result.leading_lines, *items[0].leading_lines])
            return cst.FlattenSentinel(items)
        return result

    def _leave_IndentedBlock(self, original, updated):
        body, footer = self._remove_marked(updated.body)
        if not body:
            body = [cst.SimpleStatementLine([cst.Pass()], leading_lines=footer)]
            footer = []
        return updated.with_changes(body=body, footer=[*footer, *updated.footer])

    def _leave_Module(self, original, updated):
        body, footer = self._remove_marked(updated.body)
        return updated.with_changes(body=body, footer=[*footer, *updated.footer])

    def _remove_marked(self, statements):
        if not self._to_remove:
            return list(statements), []
        out, carry = [], []
        for stmt in statements:
            if id(stmt) in self._to_remove:
                carry.extend(line for line in stmt.leading_lines if line.comment is not None)
                continue
            if carry:
                stmt = stmt.with_changes(leading_lines=[*carry, *stmt.leading_lines])
                carry = []
            out.append(stmt)
        return out, carry


def _owner_word(rule: Rule) -> str:
    return {"torch.Tensor": "tensor", "torch.nn.Module": "module", "torch.optim.Optimizer": "optimizer"}.get(rule.owner or "", "object")


#: torch.nn.Module's public methods (torch 2.13; tests/test_migrate_module_api.py checks the list):
#: one of them called on a known module with no table entry is reported, not left to fail
TORCH_MODULE_METHODS = frozenset("""
add_module apply bfloat16 buffers children compile cpu cuda double eval extra_repr float forward
get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict modules mtia
named_buffers named_children named_modules named_parameters parameters register_backward_hook
register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook
requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train type xpu zero_grad
""".split())


def _pure_rename(rule: Rule) -> bool:
    return (
        rule.style == "call"
        and not rule.kwargs and not rule.drop and not rule.defaults and not rule.values
        and not rule.required_args and not rule.unsupported_args and rule.target_args is None
    )


def _became_noop(old: cst.BaseSmallStatement, new: cst.BaseSmallStatement) -> bool:
    """``model.cuda()`` that became ``model``, or ``x = x.to(dev)`` that became ``x = x``."""
    if isinstance(new, cst.Expr) and isinstance(old, cst.Expr):
        return isinstance(new.value, (cst.Name, cst.Attribute)) and isinstance(old.value, cst.Call)
    if isinstance(new, cst.Assign) and isinstance(old, cst.Assign) and len(new.targets) == 1:
        if isinstance(old.value, cst.Tuple) and isinstance(new.value, cst.Tuple):  # x, y = x.to(d), y.to(d)
            olds, news = [e.value for e in old.value.elements], [e.value for e in new.value.elements]
            target = new.targets[0].target
            return (
                isinstance(target, cst.Tuple) and len(target.elements) == len(news) == len(olds)
                and all(isinstance(e, cst.Element) for e in (*old.value.elements, *new.value.elements, *target.elements))
                and any(isinstance(o, cst.Call) for o in olds)
                and all(isinstance(n, (cst.Name, cst.Attribute)) for n in news)
                and [code_text(t.value).strip() for t in target.elements] == [code_text(n).strip() for n in news]
            )
        return (
            isinstance(old.value, cst.Call)
            and isinstance(new.value, (cst.Name, cst.Attribute))
            and code_text(new.targets[0].target).strip() == code_text(new.value).strip()
        )
    return False


def _add_markers(stmt, markers) -> cst.CSTNode:
    existing = {
        m.group(2)
        for line in stmt.leading_lines
        if line.comment is not None and (m := MARKER_RE.match(line.comment.value))
    }
    lines = list(stmt.leading_lines)
    seen = set()
    for kind, rule, reason in markers:
        if rule in existing or (kind, rule, reason) in seen:
            continue
        seen.add((kind, rule, reason))
        lines.append(cst.EmptyLine(indent=True, comment=cst.Comment(f"# {MARKER}({kind}): {rule} — {reason}")))
    return stmt.with_changes(leading_lines=lines)


# --------------------------------------------------------------------------
# imports and aliases after the traversal


class _NamesInUse(cst.CSTVisitor):
    """Names a new import could clash with: every Name except attribute members,
    keyword labels and names bound by import statements (listed separately)."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.imported: dict[str, list] = {}

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.used.add(node.value)

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            local = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
            self.imported.setdefault(local, []).append(node)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                self.imported.setdefault(alias.evaluated_alias or alias.evaluated_name, []).append(node)
        return False


def _torch_import_names(imports) -> list[tuple[str, Optional[str], Optional[str], str]]:
    """(module, obj, asname, local) for each torch import alias of the original file."""
    out = []
    for node in imports:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = alias.evaluated_name
                if full == "torch" or full.startswith("torch."):
                    local = alias.evaluated_alias or full.split(".")[0]
                    out.append((full, None, alias.evaluated_alias, local))
        elif isinstance(node, cst.ImportFrom) and not node.relative and node.module is not None:
            module = dotted(node.module) or ""
            if (module == "torch" or module.startswith("torch.")) and not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    out.append((module, alias.evaluated_name, alias.evaluated_alias, alias.evaluated_alias or alias.evaluated_name))
    return out


def _finish_imports(ctx: FileContext, tree: cst.Module, torch_imports) -> tuple[cst.Module, dict]:
    """Remove torch imports nothing uses any more, add the emitted ones.

    Both libcst visitors run on small modules made of the statements that
    matter (the top-level statements holding torch imports; the leading import
    block), not on the whole file: a name is only scheduled for removal when it
    appears nowhere in the converted file, so no other statement can need it,
    and AddImportsVisitor only ever looks at the leading import block."""
    names = _NamesInUse()
    tree.visit(names)
    context = CodemodContext()
    removable = [t for t in torch_imports if t[3] not in names.used]
    body = list(tree.body)
    if removable:
        for module, obj, asname, _local in removable:
            RemoveImportsVisitor.remove_unused_import(context, module, obj, asname)
        flagged = [stmt for stmt in body if id(stmt) in ctx.torch_import_statements]
        mini = tree.with_changes(body=flagged)
        wrapper = MetadataWrapper(mini, unsafe_skip_copy=True)
        result = wrapper.visit(RemoveImportsVisitor(dataclasses.replace(context, wrapper=wrapper)))
        edited = dict(_match_statements(flagged, result.body))
        new_body, carry = [], []
        for stmt in body:
            if id(stmt) in ctx.torch_import_statements:
                new = edited.get(id(stmt))
                if new is None:
                    carry.extend(line for line in stmt.leading_lines if line.comment is not None)
                    continue
                stmt = new
            if carry:
                stmt = stmt.with_changes(leading_lines=[*carry, *stmt.leading_lines])
                carry = []
            new_body.append(stmt)
        body = new_body
        tree = tree.with_changes(body=body, footer=[*carry, *tree.footer]) if carry else tree.with_changes(body=body)
    remaining = _NamesInUse()
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine) and any(isinstance(b, (cst.Import, cst.ImportFrom)) for b in stmt.body):
            stmt.visit(remaining)
    gone = {t[3] for t in removable} - set(remaining.imported)
    taken = names.used | (set(names.imported) - gone)
    aliases: dict[str, str] = {}
    chosen: set[str] = set()
    for (module, obj, preferred, relative), placeholder in ctx._requests.items():
        if placeholder not in names.used:
            continue
        fallback = "ms" if preferred == "mindspore" else f"ms_{preferred}"
        candidates = [preferred, fallback] + [f"{fallback}{i}" for i in range(2, 100)]
        alias = next(c for c in candidates if c not in taken and c not in chosen)
        chosen.add(alias)
        aliases[placeholder] = alias
        AddImportsVisitor.add_needed_import(context, module, obj, asname=placeholder, relative=relative)
    if aliases:
        # AddImportsVisitor reads the leading import block and the leading lines of
        # the statement after it; a stub stands in for that statement (it may be a
        # thousand-line class the visitor would otherwise walk).
        k = _import_block_end(body)
        stub = [cst.SimpleStatementLine([cst.Pass()], leading_lines=body[k].leading_lines)] if k < len(body) else []
        head = tree.with_changes(body=[*body[:k], *stub]).visit(AddImportsVisitor(context))
        new_head = list(head.body)
        if stub:
            new_head[-1] = body[k].with_changes(leading_lines=new_head[-1].leading_lines)
        tree = tree.with_changes(body=[*new_head, *body[k + 1:]])
    return tree, aliases


def _match_statements(before, after):
    """Pair each statement given to RemoveImportsVisitor with what became of it
    (it keeps the order and drops statements whose imports all went)."""
    j = 0
    for stmt in before:
        if j < len(after) and _same_kind(stmt, after[j]):
            yield id(stmt), after[j]
            j += 1


def _same_kind(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, cst.SimpleStatementLine):
        return [type(x) for x in a.body if not isinstance(x, (cst.Import, cst.ImportFrom))] == [
            type(x) for x in b.body if not isinstance(x, (cst.Import, cst.ImportFrom))
        ] and bool(b.body)
    return True


def _import_block_end(body) -> int:
    """Index of the first statement after the leading docstring and import block."""
    i = 0
    if body and isinstance(body[0], cst.SimpleStatementLine) and len(body[0].body) == 1:
        first = body[0].body[0]
        if isinstance(first, cst.Expr) and isinstance(first.value, (cst.SimpleString, cst.ConcatenatedString)):
            i = 1
    while i < len(body):
        stmt = body[i]
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom)):
            i += 1
            continue
        break
    return i


_ALIAS_IN_IMPORT = re.compile(r"([\w.]+) as (__migrate_\d+__)\b")
_PLACEHOLDER = re.compile(r"__migrate_\d+__")


def _apply_aliases(code: str, aliases: dict) -> str:
    if not aliases:
        return code

    def in_import(m: re.Match) -> str:
        name, alias = m.group(1), aliases.get(m.group(2), m.group(2))
        return name if name == alias else f"{name} as {alias}"

    code = _ALIAS_IN_IMPORT.sub(in_import, code)
    return _PLACEHOLDER.sub(lambda m: aliases.get(m.group(0), m.group(0)), code)


# --------------------------------------------------------------------------
# entry point


def _imports_project_module(bound: dict, project: Optional[ProjectIndex], mod_name: str, is_package: bool) -> bool:
    """Without torch imports, a file still needs converting if it uses a project nn.Module."""
    if project is None or not project.module_classes:
        return False
    return any(
        project.is_module_class(project.resolve(full, mod_name, is_package))
        for fulls in bound.values() for full in fulls
    )


def _star_names(imports, project: Optional[ProjectIndex], mod_name: str, is_package: bool) -> dict:
    """{name: qualified} bound by this file's ``from <project module> import *`` statements
    (in order: a later star import wins, as in Python)."""
    if project is None:
        return {}
    names: dict = {}
    for node in imports:
        if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
            module = ("." * len(node.relative)) + (dotted(node.module) if node.module is not None else "")
            names.update(project.star_names(project.resolve(module, mod_name, is_package)))
    return names


@dataclass(eq=False)
class Parsed:
    """One file parsed, with what does not depend on inferred types: kept by the runner so
    that the call-site pass and the conversion parse each file once."""

    code: str
    module: cst.Module
    imported: ImportedNames
    torch_imports: object
    mod_name: str
    is_package: bool
    star: dict
    needed: bool  # imports torch (directly or through a star import) or a project nn.Module, or a torch-importing module imports it
    names: Optional[NameResolver] = None  # with libcst's scopes, resolved on first use
    scopes: object = None
    types: Optional[TypeInfo] = None  # the last inference built, reused while its parameter facts hold

    def resolve(self, spec: Optional[Spec] = None) -> "Parsed":
        """libcst's scopes and the name resolver; with ``spec``, names of torch's implementation
        modules resolve to the spelling ``spec`` knows (``names.canonical_torch_name``)."""
        if self.names is None:
            self.scopes = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(ScopeProvider)
            self.names = NameResolver(self.scopes, self.imported.bound, self.star, any_star=self.imported.star)
        if spec is not None and getattr(self.names.known, "__self__", None) is not spec:
            self.names = NameResolver(self.scopes, self.imported.bound, self.star, known=spec.has,
                                      any_star=self.imported.star)
        return self


def parse(code: str, path: str = "<string>", project: Optional[ProjectIndex] = None) -> Parsed:
    """Raises ``cst.ParserSyntaxError``."""
    module = cst.parse_module(code)  # raises ParserSyntaxError
    imported = ImportedNames().collect(module)
    torch_imports = _torch_import_names(imported.imports)
    mod_name, is_package = module_name(path) if path.endswith(".py") else ("", False)
    star = _star_names(imported.imports, project, mod_name, is_package)
    star_torch = any(q == "torch" or q.startswith("torch.") for q in star.values())
    needed = bool(torch_imports or star_torch or _imports_project_module(imported.bound, project, mod_name, is_package)
                  or (project is not None and mod_name in project.tensor_neighbours))
    return Parsed(code, module, imported, torch_imports, mod_name, is_package, star, needed)


def identifiers(code: str) -> frozenset:
    """Every word of ``code`` that could be a name (a superset of the names it uses)."""
    return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


@dataclass
class Analysis:
    """One parsed file with its name resolution and type inference."""

    parsed: Parsed
    types: TypeInfo

    @property
    def module(self) -> cst.Module:
        return self.parsed.module

    @property
    def names(self) -> NameResolver:
        return self.parsed.names

    @property
    def scopes(self):
        return self.parsed.scopes


def analyse(code: str, spec: Spec, path: str = "<string>", project: Optional[ProjectIndex] = None,
            every_file: bool = False, parsed: Optional[Parsed] = None) -> Optional[Analysis]:
    """Parse one file (unless ``parsed`` is its parse) and set up its names and types; None
    when it needs no conversion (it imports neither torch nor a project nn.Module) unless
    ``every_file``.  Raises ``cst.ParserSyntaxError``."""
    if parsed is None:
        parsed = parse(code, path, project)
    if not parsed.needed and not every_file:
        return None
    parsed.resolve(spec)
    types = parsed.types
    if types is None or types.spec is not spec or not types.holds_under(project):
        types = parsed.types = TypeInfo(parsed.module, parsed.names, spec, project, parsed.mod_name, parsed.is_package)
    else:  # the same types: later reads of facts go to the new round's project
        types.project = project
    return Analysis(parsed, types)


def convert_source(
    code: str,
    spec: Spec,
    path: str = "<string>",
    helper_level: int = 0,
    project: Optional[ProjectIndex] = None,
    jit: bool = True,
    parsed: Optional[Parsed] = None,
) -> Outcome:
    """Convert one file's source (``parsed``: its parse, when the caller has it).  Raises ``cst.ParserSyntaxError`` if it does not parse.

    ``helper_level`` says how the helper module is imported: 0 absolutely,
    n > 0 relatively with n dots (the file sits n-1 packages below DST's root
    package).  ``project`` tells which classes of the other files are modules;
    ``path`` (relative to SRC) places this file among them.  ``jit=False`` never adds
    ``@mindspore.jit`` (see transforms/graph_mode.py)."""
    analysis = analyse(code, spec, path, project, parsed=parsed)  # raises ParserSyntaxError
    if analysis is None:
        return Outcome(code, False, [], set())
    module, names, types = analysis.module, analysis.names, analysis.types
    imported, torch_imports = analysis.parsed.imported, analysis.parsed.torch_imports
    ctx = FileContext(spec, path, module, names, types, imported.bound, helper_level, jit)
    transforms = [cls(ctx) for cls in registry().values()]
    new = module.visit(MigrateTransformer(ctx, transforms))
    if ctx.sites:
        where = positions_of(module, [s.node for s in ctx.sites])
        for site in ctx.sites:
            site.line, site.col = where.get(id(site.node), (0, 0))
            site.node = None
        ctx.sites.sort(key=lambda s: (s.line, s.col))
    if not ctx.changed:
        out = new.code  # markers only
        return Outcome(out, out != code, ctx.sites, set())
    new, aliases = _finish_imports(ctx, new, torch_imports)
    out = _apply_aliases(new.code, aliases)
    if out.startswith(("\n", "\r")) and not code.startswith(("\n", "\r")):
        out = out.lstrip("\r\n")  # blank lines that followed a removed import
    helpers = {obj for (mod, obj, _p, _r), ph in ctx._requests.items() if mod == HELPER_MODULE and ph in aliases}
    return Outcome(out, out != code, ctx.sites, helpers)
