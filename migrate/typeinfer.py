"""Receiver types: is ``x`` in ``x.view(...)`` KNOWN to be a torch tensor?

A small, local, optimistic-but-honest inference.  A name has a type only when
every assignment that can reach the use agrees on it; anything else is
*unknown* (None), and the codemod reports the site as uncertain instead of
guessing from the method's spelling.  Sources of knowledge:

* annotations: ``x: torch.Tensor``, ``Tensor``, ``nn.Parameter``,
  ``Optional[Tensor]``, ``List[Tensor]``, ``nn.Module``, ``np.ndarray``;
* calls of api_map entries (their ``returns``), numpy functions (ndarray),
  classes defined in the file (nn.Module subclasses are modules);
* tensor-method results, arithmetic/indexing/comparison on tensors;
* ``self.x = ...`` in any method (joined over the class), ``register_buffer``;
* calling a module (``self.fc(x)``) gives a tensor;
* loop targets over tensor lists, ``enumerate``/``zip`` of them,
  ``named_parameters()``/``state_dict().items()`` pairs.

Flow: the latest assignment that dominates the use (same or enclosing block),
plus assignments between it and the use in nested blocks, plus assignments
after the use inside a loop that also contains the use.  Closures and
module-level names seen from functions join all assignments.
"""

from __future__ import annotations

import builtins
import sys
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import libcst as cst

from migrate.names import NameResolver, base_name
from migrate.project import ProjectIndex, is_torch_optimizer_class
from migrate.spec import Spec


@dataclass(frozen=True)
class T:
    """An inferred type.  ``cls`` names the class for modules/optimizers/objects
    (``torch.nn.Linear`` or ``local:Net``); ``items`` the parts of a tuple."""

    kind: str
    cls: Optional[str] = None
    items: tuple = ()


TENSOR = T("tensor")
TENSORS = T("tensors")
OTHER = T("other")
#: functions that return a copy of their argument, of its type (the standard library's otherwise
#: give OTHER, something that is never torch's)
_COPIES = frozenset({"copy.deepcopy", "copy.copy"})
NDARRAY = T("ndarray")
SHAPE = T("shape")
SCALAR = T("scalar")
DTYPE = T("dtype")
#: a legacy tensor type held as a value (``Tensor = torch.cuda.FloatTensor if cuda else
#: torch.FloatTensor``): calling it gives a new tensor, with no gradient behind it
TENSOR_TYPE = T("tensor_type")
DEVICE = T("device")
STATE_DICT = T("state_dict")
FILE = T("file")  # open(...): iterating it gives lines of text
TEXT = T("text")  # a str
LINES = T("lines")  # a list of str (f.readlines(), s.split())
PARAM_GROUPS = T("param_groups")  # an optimizer's param_groups: a list of PARAM_GROUP
PARAM_GROUP = T("param_group")  # one group's dict: "params" holds tensors, other keys settings
OPT_STATE = T("opt_state")  # an optimizer's state: a PARAM_STATE per parameter
PARAM_STATE = T("param_state")  # one parameter's state: tensors by name ("step" may be a number)
BOTTOM = T("bottom")  # "still being computed" inside a cycle: neutral in joins

_TENSOR_ANNOTATIONS = {
    "torch.Tensor", "torch.FloatTensor", "torch.LongTensor", "torch.IntTensor",
    "torch.BoolTensor", "torch.DoubleTensor", "torch.HalfTensor",
    "torch.nn.Parameter",  # torch.nn.parameter.Parameter resolves to it (names.REEXPORTED)
}
_CONTAINERS = {
    "typing.List", "typing.Sequence", "typing.Tuple", "typing.Iterable", "typing.Iterator",
    "collections.abc.Sequence", "collections.abc.Iterable", "collections.abc.Iterator",
    "builtins.list", "builtins.tuple", "List", "Sequence", "Tuple", "Iterable", "Iterator", "list", "tuple",
}
_OPTIONALS = {"typing.Optional", "Optional"}
_TENSOR_ATTRS = {"T": TENSOR, "mT": TENSOR, "H": TENSOR, "data": TENSOR, "grad": TENSOR, "real": TENSOR,
                 "imag": TENSOR, "shape": SHAPE, "dtype": DTYPE, "device": DEVICE, "ndim": SCALAR}
_BUILTIN_NAMES = frozenset(dir(builtins))
#: the standard library never hands out torch tensors
_STDLIB = frozenset(sys.stdlib_module_names) - {"__future__"}
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
             cst.FormattedString, cst.Dict, cst.Set, cst.DictComp, cst.SetComp, cst.GeneratorExp, cst.Lambda)
_RETURN_TYPES = {
    "tensor": TENSOR, "tensors": TENSORS, "named_tensors": T("tuples", items=(OTHER, TENSOR)),
    "modules": T("modules"), "named_modules": T("tuples", items=(OTHER, T("module", "torch.nn.Module"))),
    "ndarray": NDARRAY, "scalar": SCALAR, "shape": SHAPE, "dtype": DTYPE,
    "device": DEVICE, "state_dict": STATE_DICT, "none": OTHER, "other": OTHER,
    # a DataLoader: each item is a default-collated batch, whose items are tensors
    "loader": T("loader"),
}

def is_parameter_list(t: Optional[T]) -> bool:
    """A ``torch.nn.ParameterList``: its items (indexed or iterated) are Parameters."""
    return t is not None and t.kind == "module" and t.cls == "torch.nn.ParameterList"


def is_parameter_dict(t: Optional[T]) -> bool:
    """A ``torch.nn.ParameterDict``: its items (indexed) are Parameters, iterating it gives keys."""
    return t is not None and t.kind == "module" and t.cls == "torch.nn.ParameterDict"


#: torch functions whose first argument can only be a tensor (not a number, list or size)
_TENSOR_FIRST_ARG = frozenset(
    [f"torch.{n}" for n in (
        "mm", "bmm", "matmul", "mv", "dot", "exp", "log", "log1p", "sigmoid", "tanh", "relu", "softmax",
        "log_softmax", "sum", "mean", "std", "var", "prod", "abs", "sqrt", "rsqrt", "transpose", "permute",
        "reshape", "flatten", "squeeze", "unsqueeze", "norm", "clamp", "clip", "masked_fill", "gather",
        "index_select", "topk", "sort", "argsort", "argmax", "argmin", "chunk", "split", "narrow", "t",
        "cumsum", "cumprod", "flip", "roll", "tril", "triu", "diagonal", "erf", "floor", "ceil", "round",
        "sign", "logsumexp", "squeeze", "repeat_interleave", "numel", "nonzero", "isnan", "isinf",
        "zeros_like", "ones_like", "randn_like", "rand_like", "full_like", "empty_like")]
    + [f"torch.nn.functional.{n}" for n in (
        "relu", "relu6", "gelu", "elu", "selu", "celu", "leaky_relu", "silu", "mish", "softplus", "sigmoid",
        "tanh", "hardtanh", "softmax", "log_softmax", "dropout", "linear", "bilinear", "conv1d", "conv2d",
        "conv3d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
        "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "layer_norm",
        "batch_norm", "group_norm", "normalize", "pad", "embedding", "one_hot", "cross_entropy", "nll_loss",
        "mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
        "kl_div", "cosine_similarity", "pairwise_distance", "interpolate", "unfold", "fold", "glu")]
)
#: torch functions whose second argument can only be a tensor (the other operand, a loss's
#: target, a layer's weight)
_TENSOR_SECOND_ARG = frozenset(
    [f"torch.{n}" for n in (
        "mm", "bmm", "matmul", "mv", "dot", "inner", "outer", "kron", "cdist", "dist", "cosine_similarity",
        "masked_select", "take")]
    + [f"torch.nn.functional.{n}" for n in (
        "linear", "bilinear", "conv1d", "conv2d", "conv3d", "embedding", "cross_entropy", "nll_loss",
        "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss", "soft_margin_loss",
        "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss", "hinge_embedding_loss",
        "cosine_similarity", "pairwise_distance", "margin_ranking_loss", "cosine_embedding_loss",
        "triplet_margin_loss")]
)
#: methods torch's Module, Dataset, Sampler, DataLoader, Optimizer, LRScheduler and autograd
#: Function define (torch 2.13): torch itself may call a subclass's override of one of them
_TORCH_CALLS = frozenset("""
add_module add_param_group apply backward bfloat16 buffers call_super_init children compile cpu cuda
double eval extra_repr float forward get_buffer get_extra_state get_last_lr get_lr get_parameter
get_submodule half ipu jvp load_state_dict modules mtia named_buffers named_children named_modules
named_parameters parameters register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook register_hook
register_module register_parameter requires_grad_ set_extra_state set_submodule setup_context
share_memory state_dict step to to_empty train type vjp vmap xpu zero_grad _apply _call_impl
_load_from_state_dict _save_to_state_dict _named_members _get_name _slow_forward _get_iterator
_update_lr _initial_step _register_state_dict_hook _replicate_for_data_parallel
""".split())


def typable_method(node: cst.FunctionDef) -> bool:
    """Can calls SRC makes say what this method's parameters are (callsites.py)?  ``forward``
    is, through calls of the module itself (``self.block(x)``), where callsites.py can see
    every caller of that class's instances."""
    name = node.name.value
    return not (name.startswith("__") or (name in _TORCH_CALLS and name != "forward") or node.decorators)


_TYPE_CHECKS = ("isinstance", "type", "issubclass", "hasattr", "callable")
#: open() under other names: each gives a file whose lines are text
_OPEN = frozenset({"io.open", "codecs.open", "builtins.open"})
#: methods of str, bytes and files (no torch object has them): what they return is text
_TEXT_METHODS = frozenset({
    "strip", "lstrip", "rstrip", "readline", "readlines", "read", "lower", "upper", "replace", "format",
    "join", "decode", "encode", "splitlines", "startswith", "endswith", "zfill", "casefold", "title"})
#: tensor methods that give a tensor only when called on one (numpy's .view/.reshape/.squeeze
#: give arrays, other objects lack them): ``y.view(-1, 1)`` where torch takes only a tensor makes
#: ``y`` one, and so does ``y.data`` (a numpy array's .data is a memoryview)
_TENSOR_PRESERVING = frozenset({
    "view", "view_as", "reshape", "reshape_as", "squeeze", "unsqueeze", "float", "double", "long", "int",
    "half", "bool", "contiguous", "t", "transpose", "permute", "detach", "clone", "flatten", "to", "cuda",
    "cpu", "type_as", "expand", "expand_as", "repeat"})


def _tensor_source(node: cst.BaseExpression) -> Optional[cst.Name]:
    """``y`` for ``y``, ``y.data``, ``y.view(-1, 1)``, ``y.data.float().squeeze()``: the name
    whose tensor-ness the expression's needs; None for anything else."""
    while True:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _TENSOR_PRESERVING:
            node = node.func.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "data":
            node = node.value
        else:
            break
    return node if isinstance(node, cst.Name) else None


#: torch functions whose first argument is a sequence of tensors (each element can only be one)
_TENSOR_SEQUENCE_ARG = frozenset(f"torch.{n}" for n in (
    "cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack"))
#: torch.nn modules other than the losses whose second input can only be a tensor
_TENSOR_SECOND_INPUT_MODULES = frozenset({"Bilinear", "CosineSimilarity", "PairwiseDistance", "MultiheadAttention"})
#: torch functions and tensor methods whose result is a (values, indices) named tuple
PAIR_RESULTS = frozenset({"topk", "sort", "max", "min", "median", "mode", "kthvalue", "cummax", "cummin"})
#: torch.nn modules whose input need not be a tensor (containers, identity, RNNs taking
#: PackedSequence, wrappers): calling them says nothing about the argument
_ANY_INPUT_MODULES = frozenset({
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Identity",
    "RNN", "LSTM", "GRU", "RNNBase", "DataParallel", "DistributedDataParallel",
})

#: iterable wrappers whose items are the items of their first argument
_PASS_THROUGH_ITERABLES = frozenset({"tqdm.tqdm", "tqdm.auto.tqdm", "tqdm.std.tqdm", "tqdm.notebook.tqdm"})


@dataclass
class Scope:
    kind: str  # module | function | class | comprehension | lambda
    parent: Optional["Scope"]
    bindings: dict = field(default_factory=dict)  # name -> list[Binding]
    cls: Optional["ClassInfo"] = None  # for a method scope: the class it belongs to


@dataclass(frozen=True)
class Where:
    """Where a statement sits: order, enclosing blocks, enclosing loops."""

    pos: int
    blocks: tuple
    loops: frozenset
    scope: Scope


@dataclass(eq=False)
class Binding:
    """``value`` assigned to a name at ``where``; ``path`` indexes into tuple targets;
    ``how`` says how to read the type: value | element | annotation | fixed | aug | import | module |
    narrow (an ``isinstance`` test's classes, bound at the start of the block it guards)."""

    where: Where
    how: str
    value: object = None
    path: tuple = ()


#: torch's base class of custom autograd functions, under both of its names
_AUTOGRAD_FUNCTIONS = frozenset({"torch.autograd.Function", "torch.autograd.function.Function"})


@dataclass(eq=False)
class ClassInfo:
    name: str
    node: cst.ClassDef
    scope: Scope
    attrs: dict = field(default_factory=dict)  # attr -> list[Binding]
    methods: dict = field(default_factory=dict)  # name -> FunctionDef


def _isinstance_tests(test: cst.BaseExpression) -> list:
    """(name, class expression) of each ``isinstance(name, classes)`` that must hold when
    ``test`` is true: the test itself, or an operand of a chain of ``and``."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _isinstance_tests(test.left) + _isinstance_tests(test.right)
    if (isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "isinstance"
            and len(test.args) == 2 and not any(a.star or a.keyword for a in test.args)
            and isinstance(test.args[0].value, cst.Name)):
        return [(test.args[0].value.value, test.args[1].value)]
    return []


def _annotation(param: cst.Param):
    return param.annotation.annotation if param.annotation is not None else None


class _Collector(cst.CSTVisitor):
    """One pass over the original module: scopes, bindings, statement positions."""

    def __init__(self, infer: "TypeInfo") -> None:
        self.infer = infer
        self.scope = infer.module_scope
        self.blocks: list[int] = []
        self.loops: list[int] = []
        self.pos = 0
        self.cur: Optional[Where] = None
        self.classes: list[ClassInfo] = []
        self.func_stack: list[cst.FunctionDef] = []

    # -- positions
    def _stmt(self, node: cst.CSTNode) -> Where:
        self.pos += 1
        where = Where(self.pos, tuple(self.blocks), frozenset(self.loops), self.scope)
        self.infer.where[id(node)] = where
        self.cur = where
        return where

    def _bind(self, name: str, binding: Binding, scope: Optional[Scope] = None) -> None:
        (scope or self.scope).bindings.setdefault(name, []).append(binding)

    def _bind_target(self, target: cst.BaseExpression, how: str, value, where: Where, path: tuple = ()) -> None:
        if isinstance(target, cst.Name):
            self._bind(target.value, Binding(where, how, value, path))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, el in enumerate(target.elements):
                if isinstance(el, cst.StarredElement):
                    self._bind_target(el.value, "fixed", None, where)
                else:
                    self._bind_target(el.value, how, value, where, path + (i,))
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value, "fixed", None, where)
        elif isinstance(target, cst.Attribute):
            self._bind_self_attr(target, Binding(where, how, value, path))

    def _bind_self_attr(self, target: cst.Attribute, binding: Binding) -> None:
        cls = self.scope.cls
        if cls is None or not isinstance(target.value, cst.Name):
            return
        func = self.func_stack[-1] if self.func_stack else None
        if func is None or not func.params.params or func.params.params[0].name.value != target.value.value:
            return
        cls.attrs.setdefault(target.attr.value, []).append(binding)

    def visit_SimpleStatementLine(self, node) -> None:
        self._stmt(node)

    def visit_If(self, node: cst.If) -> None:
        where = self._stmt(node)
        # ``if isinstance(x, C):`` (alone or an operand of an ``and`` chain): x is a C in the body
        inside = Where(where.pos, where.blocks + (id(node.body),), where.loops, where.scope)
        for name, classes in _isinstance_tests(node.test):
            self._bind(name, Binding(inside, "narrow", classes))

    def visit_Try(self, node) -> None:
        self._stmt(node)

    def visit_TryStar(self, node) -> None:
        self._stmt(node)

    def visit_Match(self, node) -> None:
        self._stmt(node)

    def visit_IndentedBlock(self, node) -> None:
        self.blocks.append(id(node))

    def leave_IndentedBlock(self, node) -> None:
        self.blocks.pop()

    def visit_SimpleStatementSuite(self, node) -> None:
        self.blocks.append(id(node))

    def leave_SimpleStatementSuite(self, node) -> None:
        self.blocks.pop()

    def visit_While(self, node) -> None:
        self._stmt(node)
        self.loops.append(id(node))

    def leave_While(self, node) -> None:
        self.loops.pop()

    def visit_For(self, node: cst.For) -> None:
        where = self._stmt(node)
        self.loops.append(id(node))
        inside = Where(where.pos, where.blocks, frozenset(self.loops), where.scope)
        self._bind_target(node.target, "element", node.iter, inside)

    def leave_For(self, node) -> None:
        self.loops.pop()

    def visit_Return(self, node: cst.Return) -> None:
        if self.func_stack and self.cur is not None:
            self.infer.returns.setdefault(id(self.func_stack[-1]), []).append((node.value, self.cur))

    def visit_Yield(self, node: cst.Yield) -> None:
        if self.func_stack:  # a generator: calling it gives a generator, whatever it returns
            self.infer.generators.add(id(self.func_stack[-1]))

    def visit_With(self, node: cst.With) -> None:
        where = self._stmt(node)
        for item in node.items:
            if item.asname is None:
                continue
            value = item.item
            func = value.func if isinstance(value, cst.Call) else None
            if (isinstance(func, cst.Name) and func.value == "open") or (
                    isinstance(func, cst.Attribute) and func.attr.value == "open"):
                # `with open(p) as f`: a file's __enter__ returns the file (builtin or not: the value decides)
                self._bind_target(item.asname.name, "value", value, where)
            else:
                self._bind_target(item.asname.name, "fixed", None, where)

    # -- scopes
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        where = self._stmt(node)
        self._bind(node.name.value, Binding(where, "fixed", OTHER))
        owner = self.scope.cls if self.scope.kind == "class" else None
        called = self._called_as(node, owner)
        if owner is not None:
            owner.methods[node.name.value] = node
        elif self.scope.kind == "module":
            self.infer.functions[node.name.value] = node
        else:  # a nested function: its return annotation counts when the name is unambiguous
            self.infer.nested_functions.setdefault(node.name.value, []).append(node)
        self.scope = Scope("function", self.scope, cls=owner)
        self.infer.scopes[id(node)] = self.scope
        self.func_stack.append(node)
        start = Where(-1, (), frozenset(), self.scope)
        decorators = {getattr(d.decorator, "value", None) for d in node.decorators}
        params = list(node.params.posonly_params) + list(node.params.params)
        for i, param in enumerate(params):
            if i == 0 and owner is not None and "staticmethod" not in decorators:
                kind = "fixed" if "classmethod" in decorators else "self"
                self._bind(param.name.value, Binding(start, kind, OTHER if kind == "fixed" else owner))
                continue
            self._bind_param(param, start, called)
        for param in node.params.kwonly_params:
            self._bind_param(param, start, called)
        for star in (node.params.star_arg, node.params.star_kwarg):
            if isinstance(star, cst.Param):
                self._bind(star.name.value, Binding(start, "fixed", OTHER))

    def leave_FunctionDef(self, node) -> None:
        self.scope = self.scope.parent
        self.func_stack.pop()

    def _called_as(self, node: cst.FunctionDef, owner: Optional[ClassInfo]) -> Optional[str]:
        """The project-wide name calls reach this function by (``mod.f``, ``mod.C.__init__``),
        for module-level functions and module-level classes' ``__init__``; else None."""
        mod = self.infer.module_name
        called = None
        if self.scope.kind == "module":
            called = f"{mod}.{node.name.value}" if mod else node.name.value
        elif owner is not None and owner.scope.kind == "module" and (
                node.name.value == "__init__" or typable_method(node)):
            called = f"{mod}.{owner.name}.{node.name.value}" if mod else f"{owner.name}.{node.name.value}"
        if called is not None:
            self.infer.called_names.append(called)
        return called

    def _bind_param(self, param: cst.Param, start: Where, called: Optional[str]) -> None:
        """A parameter's type: its annotation, else what every call in the project passes it."""
        ann = _annotation(param)
        project = self.infer.project
        if ann is None and called is not None and project is not None:
            found = self.infer.fact("param", (called, param.name.value))
            if found is not None:
                self._bind(param.name.value, Binding(start, "fixed", found))
                return
        if ann is None:  # what the function does with it may still say (TypeInfo._param_from_uses)
            self._bind(param.name.value, Binding(start, "param", self.scope))
            return
        self._bind(param.name.value, Binding(start, "annotation", ann))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.scope = Scope("lambda", self.scope)
        self.infer.scopes[id(node)] = self.scope
        start = Where(-1, (), frozenset(), self.scope)
        for param in node.params.params:
            self._bind(param.name.value, Binding(start, "fixed", None))

    def leave_Lambda(self, node) -> None:
        self.scope = self.scope.parent

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        where = self._stmt(node)
        info = ClassInfo(node.name.value, node, self.scope)
        self._bind(node.name.value, Binding(where, "class", info))
        if self.scope.kind == "module":
            self.infer.classes[node.name.value] = info
        self.scope = Scope("class", self.scope, cls=info)
        self.infer.scopes[id(node)] = self.scope

    def leave_ClassDef(self, node) -> None:
        self.scope = self.scope.parent

    def _visit_comp(self, node) -> None:
        where = self.cur
        self.scope = Scope("comprehension", self.scope)
        self.infer.scopes[id(node)] = self.scope
        inner = Where(where.pos if where else 0, where.blocks if where else (), where.loops if where else frozenset(), self.scope)
        comp = node.for_in
        while comp is not None:
            self._bind_target(comp.target, "element", comp.iter, inner)
            comp = comp.inner_for_in

    def _leave_comp(self, node) -> None:
        self.scope = self.scope.parent

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comp
    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_comp

    # -- assignments
    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind_target(target.target, "value", node.value, self.cur)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        how, value = ("annotation", node.annotation.annotation)
        self._bind_target(node.target, how, value, self.cur)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self._bind(node.target.value, Binding(self.cur, "aug", node))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if self.cur is not None:
            self._bind_target(node.target, "value", node.value, self.cur)

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            local = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
            module = alias.evaluated_name if alias.evaluated_alias else alias.evaluated_name.split(".")[0]
            self._bind(local, Binding(self.cur, "module", module))
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                self._bind(alias.evaluated_alias or alias.evaluated_name, Binding(self.cur, "import"))
        return False

    def _function_scope(self) -> Optional[Scope]:
        scope = self.scope
        while scope is not None and scope.kind in ("comprehension", "lambda"):
            scope = scope.parent
        return scope if scope is not None and scope.kind == "function" else None

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        first = node.args[0] if node.args else None
        if (first is not None and first.keyword is None and not first.star
                and isinstance(first.value, (cst.Tuple, cst.List)) and self.cur is not None):
            scope = self._function_scope()  # torch.cat((x, h), dim=1): each element
            for element in first.value.elements if scope is not None else ():
                name = _tensor_source(element.value) if isinstance(element, cst.Element) else None
                if name is not None:
                    key = (id(scope), name.value)
                    self.infer.arg_uses.setdefault(key, []).append((node, self.cur, "element"))
        for position, arg in enumerate(node.args[:2]):
            if arg.keyword is not None or arg.star:
                break
            name = arg.value if isinstance(arg.value, cst.Name) else _tensor_source(arg.value)
            if name is None:
                continue
            scope = self._function_scope()
            if scope is not None and self.cur is not None:
                if name is not arg.value:  # y.view(-1, 1): what torch takes there says what y is
                    key = (id(scope), name.value)
                    if not (isinstance(func, cst.Name) and func.value in _TYPE_CHECKS):
                        self.infer.arg_uses.setdefault(key, []).append((node, self.cur, position))
                    continue
                key = (id(scope), arg.value.value)
                if isinstance(func, cst.Name) and func.value in _TYPE_CHECKS:
                    if position == 0:
                        self.infer.type_checked.add(key)
                else:
                    self.infer.arg_uses.setdefault(key, []).append((node, self.cur, position))
        # self.register_buffer("name", tensor) makes self.name a tensor
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in ("register_buffer", "register_parameter")
            and len(node.args) >= 2
            and isinstance(node.args[0].value, cst.SimpleString)
            and isinstance(func.value, cst.Name)
            and self.cur is not None
        ):
            target = cst.Attribute(value=func.value, attr=cst.Name(node.args[0].value.evaluated_value))
            self._bind_self_attr(target, Binding(self.cur, "fixed", TENSOR))


class TypeInfo:
    """Types of expressions of one module; the codemod moves ``enter``/``leave``
    along with its own traversal so queries know where they are."""

    def __init__(self, module: cst.Module, names: NameResolver, spec: Spec,
                 project: Optional[ProjectIndex] = None, module_name: str = "", is_package: bool = False):
        self.names = names
        self.spec = spec
        self.project = project
        self.module_name = module_name
        self.is_package = is_package
        self.module_scope = Scope("module", None)
        self.where: dict[int, Where] = {}
        self.scopes: dict[int, Scope] = {id(module): self.module_scope}
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        self.nested_functions: dict[str, list[cst.FunctionDef]] = {}
        #: (id(function scope), parameter) -> [(call, Where, 0, 1 or "element")] of calls taking it
        #: as first or second positional argument, or as an element of a literal first argument
        self.arg_uses: dict[tuple, list] = {}
        self.type_checked: set[tuple] = set()  # (id(function scope), name) passed to isinstance() & co.
        self.called_names: list[str] = []  # this file's functions that calls can give types (callsites.py)
        #: (kind, key) -> value of every inferred project fact this inference has read (see fact())
        self.consulted: dict[tuple, Optional[T]] = {}
        self.returns: dict[int, list] = {}  # id(FunctionDef) -> [(returned expression or None, Where)]
        self.generators: set[int] = set()  # id(FunctionDef) of functions that yield
        self._return_cache: dict[int, Optional[T]] = {}
        self._cache: dict[int, Optional[T]] = {}
        self._binding_cache: dict[int, Optional[T]] = {}
        self._in_progress: set[int] = set()
        self._bottoms = 0  # BOTTOMs handed out; results that saw one are not cached mid-cycle
        self._derives_cache: dict[str, bool] = {}
        module.visit(_Collector(self))
        self._stack: list[Where] = [Where(0, (), frozenset(), self.module_scope)]
        self._scope_stack: list[Scope] = [self.module_scope]

    def fact(self, kind: str, key) -> Optional[T]:
        """``project.fact(kind, key)``, logged: an inference whose logged facts all hold under
        another round's project computes the same types there (``holds_under``)."""
        value = self.project.fact(kind, key)
        self.consulted[(kind, key)] = value
        return value

    def holds_under(self, project: Optional[ProjectIndex]) -> bool:
        """Would an inference under ``project`` give the same types as this one?  Yes when the
        project differs at most in inferred facts this one never read."""
        if project is None or self.project is None:
            return project is self.project
        return self.project.same_base(project) and all(
            project.fact(kind, key) == value for (kind, key), value in self.consulted.items())

    # -- traversal hooks (called by the codemod)
    def enter(self, node: cst.CSTNode) -> None:
        where = self.where.get(id(node))
        if where is not None:
            self._stack.append(where)
        scope = self.scopes.get(id(node))
        if scope is not None and node is not None and not isinstance(node, cst.Module):
            self._scope_stack.append(scope)

    def leave(self, node: cst.CSTNode) -> None:
        if id(node) in self.where:
            self._stack.pop()
        if id(node) in self.scopes and not isinstance(node, cst.Module):
            self._scope_stack.pop()

    def _here(self) -> Where:
        where = self._stack[-1]
        scope = self._scope_stack[-1]
        if where.scope is scope:
            return where
        return Where(where.pos, where.blocks, where.loops, scope)

    # -- public queries
    def is_builtin(self, name: cst.Name) -> bool:
        """Is ``name`` Python's builtin of that name where it is read (not bound in scope)?"""
        return self._is_builtin(name, self._here())

    def type_of(self, expr: cst.BaseExpression) -> Optional[T]:
        """The inferred type of an original (pre-transform) expression, or None."""
        result = self._type(expr, self._here())
        return None if result is BOTTOM else result

    def attribute_types(self, info: ClassInfo) -> dict:
        """{attribute: type} of the known attributes ``self.x = ...`` of a class of this file."""
        found = {}
        for attr, bindings in info.attrs.items():
            t = self._join(self._binding_type(b) for b in bindings)
            if t is not None and t is not BOTTOM:
                found[attr] = t
        return found

    def type_at(self, expr: cst.BaseExpression, statement: cst.CSTNode) -> Optional[T]:
        """The type of ``expr`` evaluated where ``statement`` (a statement of the original
        module, e.g. a ``def`` for its defaults) sits; None when unknown."""
        where = self.where.get(id(statement))
        if where is None:
            return None
        result = self._type(expr, where)
        return None if result is BOTTOM else result

    def is_module_class(self, info: ClassInfo) -> bool:
        """A class defined in this file that (transitively) subclasses a torch nn class."""
        return self._derives(info, "module")

    def is_optimizer_class(self, info: ClassInfo) -> bool:
        """A class defined in this file that (transitively) subclasses a torch optimizer."""
        return self._derives(info, "optimizer")

    def local_class(self, t: Optional[T]) -> Optional[ClassInfo]:
        """The class of this file an instance type (``local:Net``) names, or None."""
        if t is None or not t.cls or not t.cls.startswith("local:"):
            return None
        return self.classes.get(t.cls[len("local:"):])

    def is_autograd_function_class(self, info: ClassInfo) -> bool:
        """A class defined in this file that (transitively) subclasses torch.autograd.Function."""
        return self._derives(info, "function")

    def _derives(self, info: ClassInfo, kind: str) -> bool:
        key = (kind, info.name)
        cached = self._derives_cache.get(key)
        if cached is not None:
            return cached
        self._derives_cache[key] = False  # cycle guard
        result = False
        for base in info.node.bases:
            if kind == "module":
                result = self.names.startswith(base.value, "torch.nn") or bool(self.project_class(base.value))
            elif kind == "function":
                result = bool(self.names.qualified(base.value) & _AUTOGRAD_FUNCTIONS)
            else:
                result = any(is_torch_optimizer_class(n) for n in self.names.qualified(base.value)) or bool(
                    self.project is not None and any(
                        self.project.is_optimizer_class(self.project.resolve(n, self.module_name, self.is_package))
                        for n in self.names.qualified(base.value)))
            if not result and isinstance(base.value, cst.Name) and base.value.value in self.classes:
                other = self.classes[base.value.value]
                result = other is not info and self._derives(other, kind)
            if result:
                break
        self._derives_cache[key] = result
        return result

    def project_class(self, node: cst.BaseExpression, modules_only: bool = True) -> Optional[str]:
        """``pkg.model.Net`` when ``node`` names an nn.Module subclass (or, with
        ``modules_only=False``, any class) of another project file."""
        if self.project is None:
            return None
        for name in self.names.qualified(node):
            full = self.project.resolve(name, self.module_name, self.is_package)
            if self.project.is_module_class(full) or (not modules_only and self.project.is_class(full)):
                return self.project.defined_as(full)  # a re-export (lib.Trainer) by its defining name
        return None

    def _foreign_type(self, node: cst.BaseExpression) -> Optional[T]:
        """An instance of a project class, or a value from the standard library."""
        full = self.project_class(node, modules_only=False)
        if full:
            kind = ("module" if self.project.is_module_class(full)
                    else "optimizer" if self.project.is_optimizer_class(full) else "object")
            return T(kind, f"project:{full}")
        if self.project is not None:  # a function of another file: what its returns give
            for name in self.names.qualified(node):
                function = self.project.defined_as(self.project.local(
                    self.project.resolve(name, self.module_name, self.is_package)))
                if function in self.project.functions:
                    return self.fact("return", function)
        for name in self.names.qualified(node):
            if name.split(".")[0] in _STDLIB:
                return OTHER
        return None

    def _star_library_object(self, name: cst.Name, where: Where) -> Optional[T]:
        """``np`` bound only by ``from utils import *`` where utils did ``import numpy as np``: an
        object of another library (not torch's, not SRC's), as a direct import of it would be."""
        qualified = self.names.star_name(name.value)
        if qualified is None or qualified == "torch" or qualified.startswith("torch."):
            return None
        if self._bound_in_scope(name, where):
            return None  # bound here after all (a later binding in a loop, a global)
        if self.project is not None:
            full = self.project.local(self.project.resolve(qualified, self.module_name, self.is_package))
            root = (full or qualified).split(".")[0]
            if root in {m.split(".")[0] for m in self.project.modules}:
                return None  # something of SRC's own: its types come from the project
        return OTHER

    def class_of(self, node) -> Optional[ClassInfo]:
        """The class a ClassDef defines, or the class a FunctionDef written directly in a
        class body is a method of (None for other functions)."""
        scope = self.scopes.get(id(node))
        return scope.cls if scope is not None else None

    # -- internals
    def _type(self, expr, where: Where) -> Optional[T]:
        key = id(expr)
        if key in self._cache:
            return self._cache[key]
        bottoms = self._bottoms
        result = self._compute(expr, where)
        if self._bottoms == bottoms or not self._in_progress:
            self._cache[key] = result
        return result

    def _compute(self, expr, where: Where) -> Optional[T]:
        if isinstance(expr, cst.Name):
            if expr.value in ("True", "False", "None"):
                return OTHER
            found = self._lookup(expr, where)
            return found if found is not None else self._star_library_object(expr, where)
        if isinstance(expr, cst.Attribute):
            return self._attribute(expr, where)
        if isinstance(expr, cst.Call):
            return self._call(expr, where)
        if isinstance(expr, cst.Subscript):
            inner = self._type(expr.value, where)
            if inner is None:
                return None
            if inner.kind in ("tensor", "tensors", "state_dict"):
                if inner.kind == "tensor" or len(expr.slice) == 1:
                    return TENSOR
            if inner.kind == "tuple" and len(expr.slice) == 1:
                idx = expr.slice[0].slice
                if isinstance(idx, cst.Index) and isinstance(idx.value, cst.Integer):
                    i = int(idx.value.value, 0)
                    return inner.items[i] if i < len(inner.items) else None
            if is_parameter_list(inner) or is_parameter_dict(inner):
                return TENSOR
            if inner.kind in ("modules", "module"):
                return T("module", "torch.nn.Module")  # an item of a ModuleList/Sequential
            if inner.kind == "param_groups":
                return PARAM_GROUP
            if inner.kind == "opt_state":
                return PARAM_STATE
            if inner.kind in ("param_group", "param_state") and len(expr.slice) == 1:
                key = expr.slice[0].slice
                if isinstance(key, cst.Index) and isinstance(key.value, cst.SimpleString):
                    key = key.value.evaluated_value
                    if inner.kind == "param_group":
                        return TENSORS if key == "params" else OTHER
                    return None if key == "step" else TENSOR
            if inner.kind == "shape":
                return SCALAR if isinstance(expr.slice[0].slice, cst.Index) else SHAPE
            if inner.kind == "ndarray":
                return NDARRAY
            return None
        if isinstance(expr, cst.BinaryOperation):
            return self._arith(self._type(expr.left, where), self._type(expr.right, where))
        if isinstance(expr, cst.UnaryOperation):
            inner = self._type(expr.expression, where)
            return inner if inner in (TENSOR, NDARRAY) else None
        if isinstance(expr, cst.Comparison):
            if any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in expr.comparisons):
                return OTHER
            kinds = [self._type(expr.left, where)] + [self._type(c.comparator, where) for c in expr.comparisons]
            if TENSOR in kinds and NDARRAY not in kinds:
                return TENSOR
            if NDARRAY in kinds and TENSOR not in kinds:
                return NDARRAY  # elementwise on a numpy array: a bool array (or numpy bool)
            return None
        if isinstance(expr, cst.IfExp):
            return self._join([self._type(expr.body, where), self._type(expr.orelse, where)])
        if isinstance(expr, cst.BooleanOperation):  # `opt or Adam(...)`: either operand
            return self._join([self._type(expr.left, where), self._type(expr.right, where)])
        if isinstance(expr, (cst.Tuple, cst.List)):
            if not expr.elements or any(isinstance(e, cst.StarredElement) for e in expr.elements):
                return OTHER
            parts = [self._type(e.value, where) for e in expr.elements]
            if all(p == TENSOR for p in parts):
                return TENSORS
            return T("tuple", items=tuple(parts)) if isinstance(expr, cst.Tuple) else T("list", items=tuple(parts))
        if isinstance(expr, cst.ListComp):
            scope = self.scopes.get(id(expr))
            if scope is not None:
                inner = Where(where.pos, where.blocks, where.loops, scope)
                elt = self._type(expr.elt, inner)
                if elt == TENSOR:
                    return TENSORS
                if (elt is not None and elt is not BOTTOM and elt.kind == "tuple" and elt.items
                        and all(i is not None and i is not BOTTOM for i in elt.items)):
                    return T("tuples", items=elt.items)  # [(name, x == k) for ...]: like dict.items()
            return OTHER
        if isinstance(expr, _LITERALS):
            return OTHER
        if isinstance(expr, cst.NamedExpr):
            return self._type(expr.value, where)
        return None

    @staticmethod
    def _arith(left: Optional[T], right: Optional[T]) -> Optional[T]:
        if BOTTOM in (left, right):  # one side still being computed (a cycle): the other decides
            other = right if left is BOTTOM else left
            return TENSOR if other == TENSOR else (BOTTOM if other is not None else None)
        if NDARRAY in (left, right):
            return NDARRAY if TENSOR not in (left, right) else None
        if TENSOR in (left, right):
            return TENSOR
        if left == SHAPE and right == SHAPE:
            return SHAPE
        return None

    @staticmethod
    def _join(types: Iterable[Optional[T]]) -> Optional[T]:
        seen = set()
        for t in types:
            if t is None:
                return None
            if t is not BOTTOM:
                seen.add(t)
        if not seen:
            return BOTTOM
        if len(seen) == 1:
            return seen.pop()
        kinds = {t.kind for t in seen}
        if kinds == {"module"}:
            return T("module", "torch.nn.Module")  # modules of different classes
        if kinds == {"optimizer"}:
            return T("optimizer", "torch.optim.Optimizer")  # optimizers of different classes
        if kinds == {"tuple"} and len({len(t.items) for t in seen}) == 1:
            items = tuple(TypeInfo._join(parts) for parts in zip(*(t.items for t in seen)))
            return T("tuple", items=tuple(i if i is not BOTTOM else None for i in items))
        return None

    # names
    def _lookup(self, name: cst.Name, where: Where) -> Optional[T]:
        scope = where.scope
        same_flow = True  # still in the statement's own function (comprehensions/lambdas are inline)
        while scope is not None:
            if scope.kind == "class" and scope is not where.scope:
                scope = scope.parent
                continue
            inline = scope.kind in ("comprehension", "lambda")
            bindings = scope.bindings.get(name.value)
            if bindings:
                return self._from_bindings(bindings, where if same_flow and not inline else None)
            if not inline:
                same_flow = False
            scope = scope.parent
        return None

    def _from_bindings(self, bindings: Sequence[Binding], where: Optional[Where]) -> Optional[T]:
        if where is None:
            candidates = list(bindings)
        else:
            preceding = [b for b in bindings if b.where.pos < where.pos]
            dominator = None
            for b in sorted(preceding, key=lambda b: b.where.pos, reverse=True):
                if where.blocks[: len(b.where.blocks)] == b.where.blocks:
                    dominator = b
                    break
            candidates = [b for b in preceding if dominator is None or b.where.pos >= dominator.where.pos]
            candidates += [b for b in bindings if b.where.pos >= where.pos and b.where.loops & where.loops]
            if not candidates:
                return None
        return self._join(self._binding_type(b) for b in candidates)

    def _binding_type(self, b: Binding) -> Optional[T]:
        return self._guarded(id(b), self._binding_cache, lambda: self._binding_type_uncached(b))

    def _guarded(self, key: int, cache: dict, compute) -> Optional[T]:
        """``compute()``, cached in ``cache`` under ``key``.  Asked again while it is being
        computed (a cycle), it is BOTTOM — neutral in joins, so the other paths decide — and a
        result that saw a BOTTOM is cached only once the outermost computation is done."""
        if key in cache:
            return cache[key]
        if key in self._in_progress:
            self._bottoms += 1
            return BOTTOM
        bottoms = self._bottoms
        self._in_progress.add(key)
        try:
            result = compute()
        finally:
            self._in_progress.discard(key)
        if self._bottoms == bottoms or not self._in_progress:
            cache[key] = result
        return result

    def _binding_type_uncached(self, b: Binding) -> Optional[T]:
        how = b.how
        if how == "fixed":
            return b.value
        if how == "import":
            return None
        if how == "module":  # import numpy as np: a module object (torch's own are typed by name)
            return None if b.value == "torch" or b.value.startswith("torch.") else OTHER
        if how == "self":
            info: ClassInfo = b.value
            return self._instance(info)
        if how == "class":
            return T("class", f"local:{b.value.name}")
        if how == "annotation":
            return self.annotation_type(b.value) if b.value is not None else None
        if how == "narrow":
            return self._narrowed(b.value, b.where)
        if how == "param":
            return self._param_from_uses(b.value, self._param_name(b))
        if how == "aug":
            node: cst.AugAssign = b.value
            left = self._lookup_before(node.target, b.where)
            return self._arith(left, self._type(node.value, b.where))
        if how == "value":
            return self._index(self._type(b.value, b.where), b.path)
        if how == "element":
            return self._index(self._element(b.value, b.where), b.path)
        return None

    def _narrowed(self, classes: cst.BaseExpression, where: Where) -> Optional[T]:
        """What ``isinstance(x, classes)`` being true says x is.  Modules of several classes
        keep them as ``items``, so a member renamed in some of them is not renamed blindly.
        ``classes`` may be a name bound once, in the test's scope, to a tuple or list of them
        (minGPT's ``isinstance(m, whitelist_weight_modules)``)."""
        if isinstance(classes, cst.Name):
            bindings = where.scope.bindings.get(classes.value, ())
            if (len(bindings) == 1 and bindings[0].how == "value" and not bindings[0].path
                    and isinstance(bindings[0].value, (cst.Tuple, cst.List))):
                classes = bindings[0].value
        if not isinstance(classes, (cst.Tuple, cst.List)):
            return self.annotation_type(classes)
        types = [self.annotation_type(el.value) for el in classes.elements if not isinstance(el, cst.StarredElement)]
        if not types or len(types) != len(classes.elements) or any(t is None for t in types):
            return None
        if len(set(types)) == 1:
            return types[0]
        if {t.kind for t in types} == {"module"}:
            return T("module", "torch.nn.Module", items=tuple(dict.fromkeys(types)))
        return None

    def _param_name(self, b: Binding) -> Optional[str]:
        for name, bindings in b.value.bindings.items():
            if any(x is b for x in bindings):
                return name
        return None

    def _param_from_uses(self, scope: Scope, name: Optional[str]) -> Optional[T]:
        """An unannotated parameter the function never rebinds nor type-checks, and hands as
        first argument to something that only takes a tensor (a torch layer, a tensor-only torch
        function, or a module of this file whose forward's own input is such a parameter; or as
        second argument to a two-tensor torch function, a loss or a two-input layer):
        it is a tensor (or None, where the code guards it), or the function fails in torch."""
        if name is None or len(scope.bindings.get(name, ())) != 1 or (id(scope), name) in self.type_checked:
            return None
        for call, where, position in self.arg_uses.get((id(scope), name), ()):
            if self._takes_tensor(call, where, position):
                return TENSOR
        return None

    def _takes_tensor(self, call: cst.Call, where: Where, position=0) -> bool:
        qualified = self.names.qualified(call.func)
        if position == "element":
            return bool(qualified & _TENSOR_SEQUENCE_ARG)
        if qualified:
            return bool(qualified & (_TENSOR_FIRST_ARG if position == 0 else _TENSOR_SECOND_ARG))
        callee = self._type(call.func, where)
        if callee is None or callee is BOTTOM or callee.kind != "module" or not callee.cls:
            return False
        if callee.cls.startswith("torch.nn."):
            layer = callee.cls.rpartition(".")[2]
            if position == 1:
                return layer.endswith("Loss") or layer in _TENSOR_SECOND_INPUT_MODULES
            return layer not in _ANY_INPUT_MODULES
        if position == 1:
            return False
        if callee.cls.startswith("local:"):
            info = self.local_class(callee)
            forward = info.methods.get("forward") if info else None
            scope = self.scopes.get(id(forward)) if forward is not None else None
            params = list(forward.params.params) if forward is not None else []
            if scope is None or len(params) < 2 or params[1].annotation is not None:
                return False
            key = ("uses", id(scope))
            if key in self._in_progress:
                return False
            self._in_progress.add(key)
            try:
                return self._param_from_uses(scope, params[1].name.value) == TENSOR
            finally:
                self._in_progress.discard(key)
        return False

    def _lookup_before(self, name: cst.Name, where: Where) -> Optional[T]:
        bindings = [b for b in where.scope.bindings.get(name.value, []) if b.how != "aug" or b.where.pos < where.pos]
        return self._from_bindings(bindings, where) if bindings else None

    def _instance(self, info: ClassInfo) -> T:
        if self.is_optimizer_class(info):
            return T("optimizer", f"local:{info.name}")
        return T("module" if self.is_module_class(info) else "object", f"local:{info.name}")

    @staticmethod
    def _index(t: Optional[T], path: tuple) -> Optional[T]:
        for i in path:
            if t is None:
                return None
            if t.kind in ("tensor", "tensors"):
                t = TENSOR
            elif t.kind == "tuple":
                t = t.items[i] if i < len(t.items) else None
            elif t is BOTTOM:
                return BOTTOM
            else:
                return None
        return t

    def _element(self, iterable, where: Where) -> Optional[T]:
        """Type of one item when iterating ``iterable``."""
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value in ("enumerate", "zip", "reversed", "sorted", "list", "tuple", "iter"):
            fname = iterable.func.value
            if not self._is_builtin(iterable.func, where):
                return None
            parts = [self._element(a.value, where) for a in iterable.args if a.keyword is None]
            if fname == "enumerate" and parts:
                return T("tuple", items=(SCALAR, parts[0]))
            if fname == "zip":
                return T("tuple", items=tuple(parts))
            return parts[0] if parts else None
        if isinstance(iterable, cst.Call) and iterable.args and iterable.args[0].keyword is None \
                and self.names.qualified(iterable.func) & _PASS_THROUGH_ITERABLES:
            return self._element(iterable.args[0].value, where)
        t = self._type(iterable, where)
        if t is None:
            return self._untyped_module_items(iterable, where)
        if t is BOTTOM:
            return t
        if t.kind == "loader":
            return TENSORS
        if t.kind in ("tensors", "tensor"):
            return TENSOR
        if t.kind == "tuples":
            return T("tuple", items=t.items)
        if t.kind in ("tuple", "list") and t.items:
            joined = self._join(t.items)  # iterating a literal: any of its items
            return joined
        if t.kind == "modules":
            return T("module", "torch.nn.Module")
        if is_parameter_list(t):
            return TENSOR
        if t.kind == "param_groups":
            return PARAM_GROUP
        if t.kind == "ndarray":
            return NDARRAY
        if t.kind in ("file", "lines"):
            return TEXT  # for line in f: / for word in line.split():
        return None

    def _untyped_module_items(self, iterable, where: Where) -> Optional[T]:
        """The items of ``x.parameters()`` / ``x.named_parameters()`` where nothing types ``x``
        (an unannotated ``model``, ``model.critic``): torch's Module API, whose items are
        Parameters (named: ``(name, Parameter)`` pairs).  The call itself is converted to the
        run-time dispatch (``parameters_of``); its loop's ``p.data.clamp_(...)`` converts as a
        tensor's.  A receiver the inference does type (a dict, an optimizer) never gets here."""
        if not (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)):
            return None
        receiver = iterable.func.value
        if isinstance(receiver, cst.Name) and self.names.qualified(receiver):
            return None  # a module-level import or a name the resolver knows (torch, np...): not a model
        method = iterable.func.attr.value
        if method == "parameters":
            return TENSOR
        if method == "named_parameters":
            return T("tuple", items=(OTHER, TENSOR))
        return None

    def _is_builtin(self, name: cst.Name, where: Where) -> bool:
        return name.value in _BUILTIN_NAMES and not self._bound_in_scope(name, where)

    @staticmethod
    def _bound_in_scope(name: cst.Name, where: Where) -> bool:
        """Whether ``name`` is bound in ``where``'s scope or an enclosing one."""
        scope = where.scope
        while scope is not None:
            if name.value in scope.bindings:
                return True
            scope = scope.parent
        return False

    # attributes
    def _attribute(self, node: cst.Attribute, where: Where) -> Optional[T]:
        qn = self.names.qualified(node)
        if qn:
            return self._reference_type(qn)
        recv = self._type(node.value, where)
        if recv is None or recv is BOTTOM:
            return recv
        attr = node.attr.value
        if attr in ("values", "indices") and recv.kind in ("tensor", "tensors") and isinstance(node.value, cst.Call) \
                and getattr(getattr(node.value.func, "attr", node.value.func), "value", None) in PAIR_RESULTS:
            return TENSOR  # x.topk(k).indices: a field of the (values, indices) result
        if recv.kind == "tensor":
            rule = self.spec.get(f"torch.Tensor.{attr}")
            if rule is not None and rule.style == "attribute":
                return _RETURN_TYPES.get(rule.returns)
            return _TENSOR_ATTRS.get(attr)
        if recv.kind in ("module", "object", "optimizer") and recv.cls and recv.cls.startswith("local:"):
            info = self.local_class(recv)
            seen = set()
            while info is not None and info.name not in seen:
                seen.add(info.name)
                if attr in info.attrs:
                    return self._join(self._binding_type(b) for b in info.attrs[attr])
                info = self._local_base(info)
            if recv.kind != "optimizer":
                return None
        if recv.kind in ("module", "object"):
            if recv.kind == "module" and attr in ("weight", "bias") and (recv.cls or "").startswith("torch."):
                return TENSOR
            if recv.kind == "module" and attr in ("running_mean", "running_var") and \
                    (recv.cls or "").startswith(("torch.nn.BatchNorm", "torch.nn.SyncBatchNorm")):
                return TENSOR  # BatchNorm's statistics buffers
            if recv.cls and recv.cls.startswith("project:") and self.project is not None:
                return self.fact("attr", (self.project.local(recv.cls[8:]), attr))
            return None
        if recv.kind == "optimizer":
            return {"param_groups": PARAM_GROUPS, "state": OPT_STATE}.get(attr)
        if recv.kind == "ndarray":
            return NDARRAY if attr in ("T",) else OTHER
        if recv.kind == "state_dict":
            return None
        return None

    def _local_base(self, info: ClassInfo) -> Optional[ClassInfo]:
        for base in info.node.bases:
            if isinstance(base.value, cst.Name) and base.value.value in self.classes:
                return self.classes[base.value.value]
        return None

    def _reference_type(self, qualified: Iterable[str]) -> Optional[T]:
        for name in qualified:
            if name.startswith("torch"):
                rule = self.spec.get(name)
                if rule is not None and rule.returns in ("dtype", "device"):
                    return _RETURN_TYPES[rule.returns]
                if rule is not None and rule.type_target is not None and rule.returns == "tensor" and rule.owner is None:
                    return TENSOR_TYPE  # torch.FloatTensor held as a value: calling it makes a new tensor
                return OTHER if rule is not None else None
            if name.startswith("numpy."):
                return OTHER
        return None

    # calls
    def _call(self, node: cst.Call, where: Where) -> Optional[T]:
        func = node.func
        qn = self.names.qualified(func)
        if qn & _OPEN:
            return FILE  # from io import open; io.open(p); codecs.open(p)
        if qn:
            for name in sorted(qn):
                if name.startswith("torch"):
                    rule = self.spec.get(name)
                    if rule is None:
                        return None
                    return self._returns(rule, None, name)
                if name.startswith("numpy."):
                    last = name.rpartition(".")[2]
                    return OTHER if last in ("dtype", "random", "float32", "float64", "int64", "int32") else NDARRAY
                if name.startswith(("scipy.", "pandas.")):
                    # scipy's sparse matrices and pandas' frames: array-likes that are never torch's,
                    # read as numpy's (their .sum(), .unique(), .nonzero() stay theirs)
                    return NDARRAY
            if qn & _COPIES and node.args and node.args[0].keyword is None and not node.args[0].star:
                return self._type(node.args[0].value, where)  # copy.deepcopy(model): another model
            found = self._foreign_type(func)
            if found is not None or not isinstance(func, cst.Name):
                return found
            # an imported name bound again (`import model` then `model = model.Net()`): what
            # it holds here decides
        if isinstance(func, cst.Name):
            if func.value == "super" and self._is_builtin(func, where):
                scope = where.scope
                while scope is not None and scope.cls is None:
                    scope = scope.parent
                if scope is not None and self.is_module_class(scope.cls):
                    return T("module", f"local:{scope.cls.name}")
                return None
            target = self._lookup(func, where)
            if target is not None and target.kind == "class" and target.cls:
                info = self.classes.get(target.cls[6:])
                return self._instance(info) if info else None
            if target is not None and target.kind in ("module", "tensor_type"):
                return TENSOR
            fdef = self.functions.get(func.value)
            if fdef is not None and target == OTHER:
                return self.return_type(fdef)
            nested = self.nested_functions.get(func.value, ())
            if fdef is None and target == OTHER and nested:
                found = {self.return_type(f) for f in nested}
                if len(found) == 1:
                    return found.pop()
            if self._is_builtin(func, where):
                if func.value == "open":
                    return FILE
                if func.value == "next" and node.args and node.args[0].keyword is None and not node.args[0].star:
                    return self._element(node.args[0].value, where)  # next(model.parameters()): a tensor
                return OTHER if func.value not in ("next", "iter", "getattr", "max", "min", "sum", "sorted", "reversed", "list", "tuple") else None
            return None
        if isinstance(func, cst.Attribute):
            recv = self._type(func.value, where)
            method = func.attr.value
            if recv is not None and recv.kind in ("file", "text"):
                if method in ("readlines", "split", "rsplit", "splitlines"):
                    return LINES
                return TEXT if method in _TEXT_METHODS else OTHER
            if (recv is None or recv == OTHER) and method in _TEXT_METHODS:
                return OTHER  # line.strip(), fd.readline(): text, whatever the receiver is
            if recv is None or recv is BOTTOM:
                return recv
            if recv.kind in ("module", "object"):
                held = self._attribute(func, where)
                if held is not None and held.kind == "module":
                    return TENSOR  # self.fc(x): calling a module held in an attribute
            if recv.kind == "tensor":
                rule = self.spec.get(f"torch.Tensor.{method}")
                # an object a tensor's method builds (x.to_sparse(): the helper's SparseTensor) is
                # named by the method's entry, as a constructor's is by its own
                return self._returns(rule, recv, rule.key if rule.returns == "object" else None) if rule else None
            if recv.kind in ("module", "optimizer"):
                owners = []
                if recv.cls and recv.cls.startswith("torch."):
                    owners.append(recv.cls)
                owners.append("torch.nn.Module" if recv.kind == "module" else "torch.optim.Optimizer")
                for owner in owners:
                    rule = self.spec.get(f"{owner}.{method}")
                    if rule is not None:
                        return self._returns(rule, recv, None)
                return self._method_annotation(recv, method)
            if recv.kind == "object":
                return self._method_annotation(recv, method)
            if recv.kind == "state_dict":
                return {"items": T("tuples", items=(OTHER, TENSOR)), "values": TENSORS, "keys": OTHER}.get(method)
            if recv.kind == "ndarray":
                return OTHER if method in ("item", "tolist") else NDARRAY
            if recv.kind == "class":
                return None
            return None
        # calling the result of a call/subscript: a module instance gives a tensor
        callee = self._type(func, where)
        if callee is not None and callee.kind == "module":
            return TENSOR
        return None

    def _method_annotation(self, recv: T, method: str) -> Optional[T]:
        """What ``recv.method(...)`` returns, for an instance of a class of this file: the
        method's annotation, else what its body returns.  The method is looked up along the
        class's local bases; a subclass of this file overriding it makes the answer unknown
        (the instance may be of that subclass)."""
        info = self.local_class(recv)
        if info is None:
            return None
        seen = set()
        while info is not None and info.name not in seen and method not in info.methods:
            seen.add(info.name)
            info = self._local_base(info)
        fdef = info.methods.get(method) if info else None
        if fdef is None:
            return None
        if fdef.returns is None and self._overridden(info, method):
            return None
        return self.return_type(fdef)

    def _overridden(self, info: ClassInfo, method: str) -> bool:
        """Does a class of this file that derives from ``info`` define ``method`` itself?"""
        for other in self.classes.values():
            base, seen = self._local_base(other), {other.name}
            while base is not None and base.name not in seen:
                if base is info:
                    if method in other.methods:
                        return True
                    break
                seen.add(base.name)
                base = self._local_base(base)
        return False

    #: decorators that leave what a call of the function returns as its body says
    _TRANSPARENT_DECORATORS = frozenset({
        "torch.no_grad", "torch.enable_grad", "torch.inference_mode",
        "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad",
    })

    def return_type(self, fdef: cst.FunctionDef) -> Optional[T]:
        """What calling ``fdef`` returns: its annotation when it has one, else the join of
        its ``return`` values (each typed where it is returned), with None (``OTHER``) added
        when the body can end without a return.  Generators, coroutines and functions with
        other decorators are unknown."""
        if fdef.returns is not None:
            return self.annotation_type(fdef.returns.annotation)
        key = id(fdef)
        if fdef.asynchronous is not None or key in self.generators:
            return None
        for dec in fdef.decorators:
            expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
            if isinstance(expr, cst.Name) and expr.value in ("staticmethod", "classmethod"):
                continue
            if not self.names.qualified(expr) & self._TRANSPARENT_DECORATORS:
                return None
        return self._guarded(key, self._return_cache, lambda: self._join(
            [OTHER if value is None else self._type(value, where) for value, where in self.returns.get(key, [])]
            + ([OTHER] if _falls_through(fdef.body) else [])))

    def _returns(self, rule, recv: Optional[T], key: Optional[str]) -> Optional[T]:
        kind = rule.returns
        if kind == "same":
            return recv
        if kind == "module":
            return T("module", key if key else (recv.cls if recv else None))
        if kind == "optimizer":
            return T("optimizer", key)
        if kind == "object":
            return T("object", key)  # an instance of that torch class (a GradScaler)
        if kind == "modules" and key and is_module_container(key):
            return T("modules", key)  # a ModuleList: modules to iterate, and a Module itself
        return _RETURN_TYPES.get(kind)

    # annotations
    def annotation_type(self, ann) -> Optional[T]:
        if isinstance(ann, (cst.Name, cst.Attribute)):
            for name in self.names.qualified(ann):
                if name in _TENSOR_ANNOTATIONS:
                    return TENSOR
                if is_torch_optimizer_class(name):
                    return T("optimizer", name)
                if name.startswith("torch.nn.") and name.rpartition(".")[2][:1].isupper():
                    return T("module", name)
                if name == "numpy.ndarray":
                    return NDARRAY
                if name.startswith("torch"):
                    return None
            foreign = self._foreign_type(ann)
            if foreign is not None:
                return foreign
            if isinstance(ann, cst.Name):
                if ann.value in self.classes:
                    return self._instance(self.classes[ann.value])
                if ann.value in ("int", "float", "str", "bool", "dict", "list", "tuple", "bytes"):
                    return OTHER
            return None
        if isinstance(ann, cst.Subscript):
            head = ann.value
            head_names = set(self.names.qualified(head))
            if isinstance(head, cst.Name):
                head_names.add(head.value)
            args = [e.slice.value for e in ann.slice if isinstance(e.slice, cst.Index)]
            if head_names & _OPTIONALS and args:
                return self.annotation_type(args[0])
            if head_names & {"typing.Union", "Union"}:
                parts = [a for a in args if not (isinstance(a, cst.Name) and a.value == "None")]
                types = {self.annotation_type(a) for a in parts}
                return types.pop() if len(types) == 1 else None
            if head_names & _CONTAINERS and args:
                if self.annotation_type(args[0]) == TENSOR:
                    return TENSORS
                return OTHER
            return None
        if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
            parts = [p for p in (ann.left, ann.right) if not (isinstance(p, cst.Name) and p.value == "None")]
            types = {self.annotation_type(p) for p in parts}
            return types.pop() if len(types) == 1 else None
        return None


def _falls_through(body: cst.BaseSuite) -> bool:
    """Can control reach the end of ``body`` (an implicit ``return None``)?  No when its last
    statement returns or raises, or is an if/elif/else or a with whose branches all do."""
    if isinstance(body, cst.SimpleStatementSuite):
        return not any(isinstance(s, (cst.Return, cst.Raise)) for s in body.body)
    return not body.body or _ends_open(body.body[-1])


def _ends_open(stmt: cst.BaseStatement) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        return not any(isinstance(s, (cst.Return, cst.Raise)) for s in stmt.body)
    if isinstance(stmt, cst.If):
        if stmt.orelse is None or _falls_through(stmt.body):
            return True
        return _ends_open(stmt.orelse) if isinstance(stmt.orelse, cst.If) else _falls_through(stmt.orelse.body)
    if isinstance(stmt, cst.With):
        return _falls_through(stmt.body)
    return True


def is_torch_tensor(t: Optional[T]) -> bool:
    return t is not None and t.kind == "tensor"


def owners_of(t: Optional[T]) -> list[str]:
    """api_map owners to look a member up under, most specific first."""
    if t is None:
        return []
    if t.kind == "tensor":
        return ["torch.Tensor"]
    if t.kind == "module":
        owners = [t.cls] if t.cls and t.cls.startswith("torch.") and t.cls != "torch.nn.Module" else []
        return owners + ["torch.nn.Module"]
    if t.kind == "optimizer":
        owners = [t.cls] if t.cls and t.cls != "torch.optim.Optimizer" else []
        return owners + ["torch.optim.Optimizer"]
    if t.kind == "modules" and t.cls and is_module_container(t.cls):
        return [t.cls, "torch.nn.Module"]  # layers.named_parameters() on an nn.ModuleList
    return []


def is_module_container(name: str) -> bool:
    """A torch container class whose instances are Modules holding modules (nn.ModuleList),
    as opposed to the generators ``children()``/``modules()`` also typed ``modules``."""
    return name in ("torch.nn.ModuleList", "torch.nn.modules.container.ModuleList")


__all__ = ["T", "TypeInfo", "TENSOR", "TENSORS", "NDARRAY", "OTHER", "BOTTOM", "owners_of", "is_torch_tensor", "base_name"]
