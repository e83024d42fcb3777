"""Parameter types from call sites: what every call in SRC passes a parameter.

Research code rarely annotates.  ``def load(path, device):`` says nothing about
``device``, so ``x.to(device)`` inside it could be a move or a cast, and the codemod
must ask a person.  But when every call of ``load`` in SRC passes a ``torch.device``
(``load(p, self.device)`` with ``self.device = torch.device("cpu")``), ``device`` is a
device.  This module finds those calls; ``TypeInfo`` then binds the parameter to that
type as if it were annotated.

The world is closed: SRC is taken to be every caller.  Within that:

* module-level functions, module-level classes' ``__init__`` and their other plain methods
  get types: a function is called by its name (resolved through imports, star imports
  included), an ``__init__`` by its class (or a subclass without an ``__init__`` of its own)
  and by ``super().__init__(...)`` in a subclass, a method ``m`` by ``x.m(...)`` where ``x``
  is known to be an instance of the class (``self`` included) and by ``super().m(...)``;
* a method is typed only when nothing else can call it: no call ``y.m(...)`` in SRC has a
  receiver of unknown type, ``m`` is never read without a call (``callback=self.m``), no
  other class of SRC defines an ``m`` (which one a call reaches would depend on the object),
  it is no dunder and no method torch's base classes define or call (``train``, ``step``,
  ``_apply``, ...: ``_TORCH_CALLS``), it has no decorator, and its class derives only from
  SRC's classes and torch's;
* ``forward`` of an nn.Module class of SRC is typed from the calls of its instances
  (``self.shuffle(out)`` with ``self.shuffle = ShuffleBlock()``), and only while every
  instance stays where those calls can see it: each construction is assigned straight to a
  name or attribute, and no instance is used other than called or read from
  (``layers.append(Block())``, ``nn.Sequential(Block())``, ``return self.block``, a factory
  returning one: torch or someone else calls it).  No subclass in SRC overrides it, and SRC
  calls no module of unknown class (``m(x)`` for ``m`` in ``self.modules()``), no
  ``.forward`` of an unknown receiver, and reaches no module by a computed name
  (``getattr(self, name)``, ``self._modules``, ``vars(self)``): any of those leaves every
  ``forward`` untyped;
* a parameter's type is the join of what each call passes it, and its default's type
  where a call leaves it out: one call passing something unknown, an argument spread
  with ``*``/``**``, or a call that does not bind leaves it unknown;
* any other use of the name (``map(f, xs)``, ``fn = f``, ``partial(C, ...)``) means calls
  we cannot see: that function's parameters stay unknown, as do those of a function
  nobody in SRC calls.

Types flow down chains of calls (a parameter's type can be what the next call passes),
so the facts are collected again for the files whose functions' parameter types
changed, until nothing changes (at most ``MAX_ROUNDS`` rounds).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

import libcst as cst

from migrate.project import ProjectIndex
from migrate.typeinfer import BOTTOM, T, TypeInfo, typable_method

MAX_ROUNDS = 5



@dataclass(frozen=True)
class Site:
    """One call: the types of its positional and keyword arguments (None: unknown)."""

    positional: tuple
    keywords: tuple  # ((name, type), ...)
    spread: bool  # a *args or **kwargs argument


@dataclass(frozen=True)
class Def:
    """The parameters a call binds (``self`` left out), and the types of their defaults."""

    params: tuple
    kwonly: tuple
    defaults: tuple  # ((name, type of the default), ...)
    var_positional: bool
    var_keyword: bool


@dataclass
class Facts:
    """What one file says: its functions, its classes, the calls it makes, and the
    functions it refers to other than by calling them."""

    defs: dict = field(default_factory=dict)  # "mod.f" / "mod.C.__init__" -> Def
    classes: dict = field(default_factory=dict)  # "mod.C" -> (own __init__?, project base or None)
    sites: dict = field(default_factory=lambda: defaultdict(list))  # callee -> [Site]
    escaped: set = field(default_factory=set)
    returns: dict = field(default_factory=dict)  # "mod.f" -> what calling it returns (known ones)
    attrs: dict = field(default_factory=dict)  # "mod.C" -> {attribute: type} (known ones)
    methods: dict = field(default_factory=dict)  # "mod.C" -> names of the methods it defines
    #: method names called on a receiver of unknown type, or read without a call
    open_methods: set = field(default_factory=set)
    foreign_bases: set = field(default_factory=set)  # "mod.C" deriving from a class not SRC's nor torch's
    #: a module of unknown class is called, or modules are reached by computed names: any
    #: ``forward`` may be called with anything
    open_forward: bool = False
    module_classes: set = field(default_factory=set)  # "mod.C" that are nn.Modules (their forward may be typed)
    #: the inferred facts the file's type inference read to find these, with their values
    #: (TypeInfo.consulted): while they hold, reading the file again finds the same facts
    consulted: dict = field(default_factory=dict)


def _portable(t: Optional[T], mod: str) -> Optional[T]:
    """``t`` as another file understands it: this file's ``local:X`` classes become
    ``project:mod.X``."""
    if t is None or t is BOTTOM:
        return None
    if t.cls and t.cls.startswith("local:"):
        t = replace(t, cls=f"project:{mod}.{t.cls[6:]}" if mod else f"project:{t.cls[6:]}")
    if t.items:
        t = replace(t, items=tuple(_portable(i, mod) for i in t.items))
    return t


class _Collector(cst.CSTVisitor):
    def __init__(self, analysis, mod: str, is_package: bool, project: ProjectIndex) -> None:
        self.a = analysis
        self.types: TypeInfo = analysis.types
        self.mod, self.is_package, self.project = mod, is_package, project
        self.facts = Facts()
        self.callee_ids: set[int] = set()
        self.skip_ids: set[int] = set()  # names that are not uses: def/class names, bases, isinstance's classes
        self.classes: list[Optional[cst.ClassDef]] = []
        self.methods: list[cst.FunctionDef] = []  # the functions the walk is in
        self.annotations = 0
        self.receivers: set[int] = set()  # x in x.attr: reading from an instance is not an escape
        self.stored: set[int] = set()  # assignment targets
        self.assigned: set[int] = set()  # calls whose value goes straight into a name or attribute
        #: the last components of the project's function and class names: a reference whose
        #: last name is not one of them names neither (no lookup needed)
        self.short = project.short_names

    def _q(self, name: str) -> str:
        return f"{self.mod}.{name}" if self.mod else name

    # -- what a reference names
    def target(self, node: cst.BaseExpression) -> Optional[str]:
        """``mod.f`` / ``mod.C`` when ``node`` refers to a project function or class."""
        last = node.value if isinstance(node, cst.Name) else getattr(getattr(node, "attr", None), "value", None)
        if last not in self.short:
            return None
        project = self.project
        for name in self.a.names.qualified(node):
            full = project.defined_as(project.local(project.resolve(name, self.mod, self.is_package)))
            if full and (full in project.functions or full in project.classes):
                return full
        if isinstance(node, cst.Name):
            scope = self.a.scopes.get(node) if self.a.scopes is not None else None
            if scope is None:
                return None
            try:
                assignments = list(scope[node.value])
            except Exception:
                return None
            defs = [a.node for a in assignments if self._top_level_def(getattr(a, "node", None))]
            if defs and len(assignments) == 1:
                return self._q(defs[0].name.value)
        return None

    def _top_level_def(self, node) -> bool:
        scope = self.types.scopes.get(id(node)) if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else None
        return scope is not None and scope.parent is self.types.module_scope

    def _base(self, node: cst.ClassDef) -> Optional[str]:
        for base in node.bases:
            found = self.target(base.value)
            if found and found in self.project.classes:
                return found
        return None

    def _base_is_foreign(self, node: cst.BaseExpression) -> bool:
        """A base class that is neither SRC's nor torch's (nor object)."""
        if isinstance(node, cst.Name) and node.value == "object":
            return False
        found = self.target(node)
        if found and found in self.project.classes:
            return False
        return not any(q == "torch" or q.startswith("torch.") for q in self.a.names.qualified(node))

    # -- definitions
    def _def(self, node: cst.FunctionDef, method: bool) -> Def:
        params = list(node.params.posonly_params) + list(node.params.params)
        if method and params:
            params = params[1:]
        kwonly = list(node.params.kwonly_params)
        defaults = tuple((p.name.value, _portable(self.types.type_at(p.default, node), self.mod))
                         for p in params + kwonly if p.default is not None)
        return Def(tuple(p.name.value for p in params), tuple(p.name.value for p in kwonly), defaults,
                   isinstance(node.params.star_arg, cst.Param), node.params.star_kwarg is not None)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.types.enter(node)
        self.methods.append(node)
        self.skip_ids.add(id(node.name))
        scope = self.types.scopes.get(id(node))
        outer = scope.parent if scope is not None else None
        if outer is self.types.module_scope:
            self.facts.defs[self._q(node.name.value)] = self._def(node, method=False)
            returns = _portable(self.types.return_type(node), self.mod)
            if returns is not None:
                self.facts.returns[self._q(node.name.value)] = returns
        elif (self.classes and self.classes[-1] is not None and outer is not None and outer.kind == "class"
              and outer.parent is self.types.module_scope):
            cls = self._q(self.classes[-1].name.value)
            self.facts.methods.setdefault(cls, set()).add(node.name.value)
            if node.name.value == "__init__" or typable_method(node):
                self.facts.defs[f"{cls}.{node.name.value}"] = self._def(node, method=True)

    def leave_FunctionDef(self, node) -> None:
        self.methods.pop()
        self.types.leave(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.types.enter(node)
        self.skip_ids.add(id(node.name))
        for base in node.bases:
            self.skip_ids.add(id(base.value))
        scope = self.types.scopes.get(id(node))
        top = scope is not None and scope.parent is self.types.module_scope
        if top:
            has_init = any(isinstance(s, cst.FunctionDef) and s.name.value == "__init__" for s in node.body.body)
            self.facts.classes[self._q(node.name.value)] = (has_init, self._base(node))
            if self.project.is_module_class(self._q(node.name.value)):
                self.facts.module_classes.add(self._q(node.name.value))
            self.facts.methods.setdefault(self._q(node.name.value), set())
            for base in node.bases:
                if self._base_is_foreign(base.value):
                    self.facts.foreign_bases.add(self._q(node.name.value))
        self.classes.append(node if top else None)

    def leave_ClassDef(self, node) -> None:
        self.classes.pop()
        self.types.leave(node)

    # -- keep TypeInfo's position in step with the walk
    def on_visit(self, node: cst.CSTNode) -> bool:
        if not isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            self.types.enter(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        if not isinstance(original_node, (cst.FunctionDef, cst.ClassDef)):
            self.types.leave(original_node)

    def visit_Import(self, node) -> bool:
        return False

    def visit_ImportFrom(self, node) -> bool:
        return False

    def visit_Annotation(self, node) -> None:
        self.annotations += 1

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.stored.add(id(target.target))
        if all(isinstance(t.target, (cst.Name, cst.Attribute)) for t in node.targets):
            self.assigned.add(id(node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.stored.add(id(node.target))
        if node.value is not None and isinstance(node.target, (cst.Name, cst.Attribute)):
            self.assigned.add(id(node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.stored.add(id(node.target))

    def visit_Param(self, node: cst.Param) -> None:
        self.stored.add(id(node.name))

    def visit_For(self, node: cst.For) -> None:
        self.stored.add(id(node.target))

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.stored.add(id(node.target))

    def visit_AsName(self, node: cst.AsName) -> None:
        self.stored.add(id(node.name))

    def leave_Annotation(self, node) -> None:
        self.annotations -= 1

    # -- calls and other uses
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        self.callee_ids.add(id(func))
        if isinstance(func, cst.Name) and func.value in ("isinstance", "issubclass") and len(node.args) == 2:
            classes = node.args[1].value
            for el in [e.value for e in classes.elements] if isinstance(classes, cst.Tuple) else [classes]:
                self.skip_ids.add(id(el))
        if isinstance(func, cst.Name) and func.value == "super":  # super(Net, self): not a use of Net
            for arg in node.args:
                self.skip_ids.add(id(arg.value))
        owner = next((c for c in reversed(self.classes) if c is not None), None)
        if owner is not None and self._builds_own_class(func):
            self.facts.escaped.add(self._q(owner.name.value))  # a construction we cannot read
        callee = None
        if (isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call)
                and isinstance(func.value.func, cst.Name) and func.value.func.value == "super"):
            base = self._base(owner) if owner is not None else None
            callee = f"{base}.__init__" if base else None
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and isinstance(func.value.func, cst.Name) \
                and func.value.func.value == "super":
            base = self._base(owner) if owner is not None else None
            if base:
                callee = f"{base}.{func.attr.value}"
            else:
                self.facts.open_methods.add(func.attr.value)
        elif isinstance(func, (cst.Name, cst.Attribute)):
            callee = self.target(func)
            if callee is not None and id(node) not in self.assigned and self.project.is_module_class(callee):
                self.facts.escaped.add(f"{callee}.forward")  # an instance built where calls cannot follow it
            if callee is None:
                callee = self._module_call(func)
            if callee is None and isinstance(func, cst.Attribute):
                callee = self._method_callee(func)
            if isinstance(func, cst.Name) and func.value in ("getattr", "vars") and not self._literal_getattr(node):
                self.facts.open_forward = True
        if callee is None:
            return
        positional, keywords, spread = [], [], False
        for arg in node.args:
            if arg.star:
                spread = True
                continue
            t = _portable(self.types.type_of(arg.value), self.mod)
            if arg.keyword is not None:
                keywords.append((arg.keyword.value, t))
            else:
                positional.append(t)
        self.facts.sites[callee].append(Site(tuple(positional), tuple(keywords), spread))

    def _module_class_of(self, node: cst.BaseExpression) -> tuple[Optional[str], bool]:
        """(``mod.C``, True) when ``node`` is known to be an instance of SRC's nn.Module class
        ``mod.C``; (None, True) for a module of unknown class; (None, False) otherwise."""
        t = self.types.type_of(node)
        if t is None or t is BOTTOM or t.kind != "module":
            return None, False
        cls = _portable(t, self.mod).cls
        if cls and cls.startswith("project:"):
            local = self.project.local(cls[8:])
            return (local, True) if self.project.is_module_class(local) else (None, False)
        if not cls or cls == "torch.nn.Module":
            return None, True
        return None, False  # a torch layer: torch's own forward

    def _module_call(self, func: cst.BaseExpression) -> Optional[str]:
        """``mod.C.forward`` for ``m(...)`` with ``m`` an instance of SRC's module class ``mod.C``."""
        cls, is_module = self._module_class_of(func)
        if cls is not None:
            return f"{cls}.forward"
        if is_module:
            self.facts.open_forward = True
        return None

    @staticmethod
    def _literal_getattr(node: cst.Call) -> bool:
        """``getattr(x, "name")``: a name written out (a read the type inference follows)."""
        return (isinstance(node.func, cst.Name) and node.func.value == "getattr" and len(node.args) >= 2
                and isinstance(node.args[1].value, cst.SimpleString))

    def _method_callee(self, func: cst.Attribute) -> Optional[str]:
        """``mod.C.m`` for ``x.m`` when ``x`` is known to be an instance of SRC's class ``mod.C``;
        None otherwise, and ``m`` is recorded as open when ``x``'s type is unknown."""
        recv = self.types.type_of(func.value)
        cls = _portable(recv, self.mod).cls if recv is not None and recv is not BOTTOM else None
        if cls and cls.startswith("project:"):
            return f"{self.project.local(cls[8:])}.{func.attr.value}"
        if recv is None or recv is BOTTOM:
            self.facts.open_methods.add(func.attr.value)
        return None

    def _builds_own_class(self, func: cst.BaseExpression) -> bool:
        """``cls(...)`` in a classmethod, ``type(self)(...)``, ``self.__class__(...)``."""
        if isinstance(func, cst.Call) and isinstance(func.func, cst.Name) and func.func.value == "type":
            return True
        if isinstance(func, cst.Attribute) and func.attr.value == "__class__":
            return True
        if isinstance(func, cst.Name) and self.methods:
            method = self.methods[-1]
            params = list(method.params.posonly_params) + list(method.params.params)
            decorators = {getattr(d.decorator, "value", None) for d in method.decorators}
            return "classmethod" in decorators and bool(params) and params[0].name.value == func.value
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self._use(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.receivers.add(id(node.value))
        if node.attr.value in ("_modules", "__dict__"):
            self.facts.open_forward = True  # modules reached by computed names
        self._use(node)

    def _use(self, node) -> None:
        if id(node) in self.callee_ids or id(node) in self.skip_ids or self.annotations:
            return
        if isinstance(node, cst.Attribute):  # obj.m read without a call: m may be called from anywhere
            self.facts.open_methods.add(node.attr.value)
        found = self.target(node)
        if found is not None:
            self.facts.escaped.add(found)
        elif id(node) not in self.receivers and id(node) not in self.stored:
            cls, _ = self._module_class_of(node)
            if cls is not None:  # an instance passed on, stored in a container, returned...
                self.facts.escaped.add(f"{cls}.forward")


def collect(analysis, mod: str, is_package: bool, project: ProjectIndex) -> Facts:
    """The call-site facts of one analysed file (``codemod.analyse(..., every_file=True)``)."""
    collector = _Collector(analysis, mod, is_package, project)
    analysis.module.visit(collector)
    facts = collector.facts
    facts.sites = dict(facts.sites)
    types = analysis.types
    for name, bindings in types.module_scope.bindings.items():
        if len(bindings) > 1:  # defined twice, or also assigned: which one a call reaches is unknown
            facts.escaped.add(collector._q(name))
    for name, info in types.classes.items():
        found = {attr: _portable(t, mod) for attr, t in types.attribute_types(info).items()}
        if found:
            facts.attrs[collector._q(name)] = found
    return facts


def _ancestors(cls: str, classes: dict) -> list:
    out, seen = [], {cls}
    cls = classes.get(cls, (None, None))[1]
    while cls in classes and cls not in seen:
        seen.add(cls)
        out.append(cls)
        cls = classes[cls][1]
    return out


def _init_of(cls: str, classes: dict) -> Optional[str]:
    """The ``__init__`` that ``cls(...)`` runs, when it is the project's."""
    seen = set()
    while cls in classes and cls not in seen:
        seen.add(cls)
        has_init, base = classes[cls]
        if has_init:
            return f"{cls}.__init__"
        cls = base
    return None


def _bind(d: Def, site: Site) -> Optional[dict]:
    """{parameter: type} for one call, or None when it cannot be read (a spread argument,
    an argument that binds to nothing, a required parameter left out)."""
    if site.spread:
        return None
    bound = {}
    for i, t in enumerate(site.positional):
        if i < len(d.params):
            bound[d.params[i]] = t
        elif not d.var_positional:
            return None
    for name, t in site.keywords:
        if name in d.params or name in d.kwonly:
            if name in bound:
                return None
            bound[name] = t
        elif not d.var_keyword:
            return None
    defaults = dict(d.defaults)
    for name in d.params + d.kwonly:
        if name not in bound:
            if name not in defaults:
                return None
            bound[name] = defaults[name]
    return bound


def _method_of(cls: str, method: str, classes: dict, methods: dict) -> Optional[str]:
    """The ``mod.K.m`` that ``x.m(...)`` runs for an instance of ``cls``, when SRC defines it."""
    seen = set()
    while cls in classes and cls not in seen:
        seen.add(cls)
        if method in methods.get(cls, ()):
            return f"{cls}.{method}"
        cls = classes[cls][1]
    return None


def parameter_types(all_facts: Iterable[Facts]) -> dict:
    """{"mod.f": {parameter: type}} from every file's facts (only known types are kept)."""
    defs, classes, sites, escaped = {}, {}, defaultdict(list), set()
    methods, open_methods, foreign = {}, set(), set()
    open_forward = False
    module_classes = set()
    for facts in all_facts:
        defs.update(facts.defs)
        classes.update(facts.classes)
        for callee, found in facts.sites.items():
            sites[callee].extend(found)
        escaped |= facts.escaped
        methods.update(facts.methods)
        open_methods |= facts.open_methods
        foreign |= facts.foreign_bases
        open_forward = open_forward or facts.open_forward
        module_classes |= facts.module_classes
    open_forward = open_forward or "forward" in open_methods
    defined = defaultdict(int)  # method name -> how many classes define it
    for names in methods.values():
        for name in names:
            defined[name] += 1
    for cls, names in methods.items():  # methods that something we cannot see may call
        for name in names:
            if name == "forward":
                # calls reach it through the instance's own class: open only when any module
                # may be called with anything, or a subclass overrides it
                overridden = any(cls in _ancestors(other, classes) and "forward" in methods.get(other, ())
                                 for other in methods if other != cls)
                if (cls not in module_classes or open_forward or overridden or cls in foreign
                        or any(c in foreign for c in _ancestors(cls, classes))):
                    escaped.add(f"{cls}.forward")
            elif name != "__init__" and (name in open_methods or defined[name] > 1 or cls in foreign
                                         or any(c in foreign for c in _ancestors(cls, classes))):
                escaped.add(f"{cls}.{name}")

    def resolve(name: str) -> Optional[str]:
        if name in classes:
            return _init_of(name, classes)
        cls, _, method = name.rpartition(".")
        if cls in classes and method != "__init__":
            return _method_of(cls, method, classes, methods)
        return name

    calls = defaultdict(list)
    for callee, found in sites.items():
        target = resolve(callee)
        if target is not None:
            calls[target].extend(found)
    hidden = {resolve(name) for name in escaped}
    out = {}
    for name, d in defs.items():
        if name in hidden or not calls.get(name):
            continue
        per = defaultdict(list)
        for site in calls[name]:
            bound = _bind(d, site)
            if bound is None:
                per = None
                break
            for param, t in bound.items():
                per[param].append(t)
        if not per:
            continue
        known = {}
        for param, found in per.items():
            t = TypeInfo._join(found)
            if t is not None and t is not BOTTOM:
                known[param] = t
        if known:
            out[name] = known
    return out


def return_and_attribute_types(all_facts: Iterable[Facts]) -> tuple[dict, dict]:
    returns, attrs = {}, {}
    for facts in all_facts:
        returns.update(facts.returns)
        attrs.update(facts.attrs)
    return returns, attrs


def with_types(project: ProjectIndex, inferred: tuple) -> ProjectIndex:
    """``project`` with (parameter types, return types, attribute types)."""
    params, returns, attrs = inferred
    return replace(project, param_types=params, return_types=returns, attr_types=attrs)


def inferred(project: ProjectIndex) -> tuple:
    return project.param_types, project.return_types, project.attr_types
