"""What one file needs to know about the others: which classes are nn.Modules.

``model = Net()`` in train.py, with ``Net`` imported from model.py, is a
module only if model.py says so.  Python's ``ast`` (fast, no formatting
needed) reads every file of SRC once; names are resolved through each file's
imports (relative ones against its package), never by spelling.

Research code is often run as a script from its own folder (``python code/main.py``), so
``code/main.py`` imports its neighbour ``code/model.py`` as ``import model``: Python puts the
script's folder first on ``sys.path``.  Such imports are resolved too (``ProjectIndex.resolve``):
a bare name is the importing file's neighbour module when the folder has one of that name and
either the folder is no package (no ``__init__.py``: a folder of scripts) or SRC has no
top-level module of that name (``NGCF/main.py``'s ``from NGCF import NGCF`` is
``NGCF/NGCF.py``).  From other folders, a module's last name stands for it when no other
module of SRC ends in that name and it is neither a top-level module of SRC nor a
standard-library or framework module (``sys.path.append("../code")``).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional


def _unprefixed(name: str, prefix: Optional[str]) -> str:
    """``name`` without SRC's package prefix (``proj.model.Net`` -> ``model.Net``), as the index names it."""
    return name[len(prefix) + 1:] if prefix and name.startswith(prefix + ".") else name


@dataclass(frozen=True)
class ProjectIndex:
    """Fully-qualified names (``pkg.model.Net``) of the project's nn.Module subclasses."""

    module_classes: frozenset = field(default_factory=frozenset)
    classes: frozenset = field(default_factory=frozenset)  # every top-level class
    #: module -> {name: qualified name} that ``from module import *`` binds (its ``__all__``,
    #: else its public module-level imports and classes, and what it star-imports itself)
    star_exports: dict = field(default_factory=dict, compare=False, hash=False)
    functions: frozenset = field(default_factory=frozenset)  # every module-level function
    prefix: Optional[str] = None  # the name SRC is imported under when it is a package
    #: "mod.f" / "mod.C.__init__" -> {parameter: T}, inferred from the calls in SRC (callsites.py)
    param_types: dict = field(default_factory=dict, compare=False, hash=False)
    #: "mod.f" -> what calling it returns; "mod.C" -> {attribute: T} of its instances (callsites.py)
    return_types: dict = field(default_factory=dict, compare=False, hash=False)
    attr_types: dict = field(default_factory=dict, compare=False, hash=False)
    #: "model" -> "code.model": script-folder imports from other folders (see the module docstring)
    aliases: dict = field(default_factory=dict, compare=False, hash=False)
    modules: frozenset = field(default_factory=frozenset, compare=False, hash=False)  # every module of SRC
    method_names: frozenset = field(default_factory=frozenset)  # methods of module-level classes
    optimizer_classes: frozenset = field(default_factory=frozenset)  # torch.optim.Optimizer subclasses
    #: modules that do not import torch but that a module importing torch imports from: their
    #: functions are likely handed tensors (``utils.flatten(x)``), so they are converted too
    tensor_neighbours: frozenset = field(default_factory=frozenset, compare=False, hash=False)
    #: "lib.Trainer" -> "lib.trainer.Trainer": the names a module re-exports (``from .trainer
    #: import Trainer`` in lib/__init__.py) of the project's classes and functions, by where they
    #: are defined (callsites.py keys what calls pass by the defining name)
    canonical: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def short_names(self) -> frozenset:
        """The last components of the project's function and class names."""
        found = self.__dict__.get("_short_names")
        if found is None:
            found = frozenset(q.rpartition(".")[2] for q in self.functions | self.classes)
            object.__setattr__(self, "_short_names", found)
        return found

    def local(self, qualified: Optional[str]) -> Optional[str]:
        """``qualified`` without SRC's package prefix (how the index names things)."""
        return _unprefixed(qualified, self.prefix) if qualified else qualified

    def resolve(self, qualified: Optional[str], importer: str, is_package: bool) -> Optional[str]:
        """An imported name as the project names it: a relative one made absolute against the
        importing module, then through script-folder imports (``model.Net`` imported by
        ``code/main.py`` is ``code.model.Net``, see the module docstring)."""
        full = absolute(qualified, importer, is_package) if qualified else qualified
        return resolve_import(full, importer, is_package, self.modules, self.aliases)

    def defined_as(self, qualified: Optional[str]) -> Optional[str]:
        """A re-exported class or function by the name it is defined under; other names as given."""
        return self.canonical.get(qualified, qualified) if qualified else qualified

    def param_type(self, function: str, param: str):
        """The type every call in SRC passes ``param`` of ``function``, or None."""
        return self.param_types.get(function, {}).get(param)

    def fact(self, kind: str, key):
        """One inferred fact (callsites.py): ``("param", (function, parameter))``,
        ``("return", function)`` or ``("attr", (class, attribute))``; None when unknown."""
        if kind == "param":
            return self.param_type(*key)
        if kind == "return":
            return self.return_types.get(key)
        return self.attr_types.get(key[0], {}).get(key[1])

    def same_base(self, other: Optional["ProjectIndex"]) -> bool:
        """Same project apart from the inferred facts (which rounds of callsites.py change)."""
        return other is self or (other is not None and other == self)

    def star_names(self, module: Optional[str]) -> dict:
        """What ``from <module> import *`` binds, when ``module`` is one of the project's
        (under its own name, or under SRC's package name when SRC is imported as one)."""
        return self.star_exports.get(module, {}) if module is not None else {}

    def is_module_class(self, qualified: Optional[str]) -> bool:
        return qualified is not None and qualified in self.module_classes

    def is_optimizer_class(self, qualified: Optional[str]) -> bool:
        return qualified is not None and qualified in self.optimizer_classes

    def is_class(self, qualified: Optional[str]) -> bool:
        return qualified is not None and qualified in self.classes


def resolve_import(qualified: Optional[str], importer: str, is_package: bool, modules, aliases: dict) -> Optional[str]:
    """``qualified`` (an absolute imported name) as SRC names it when its first part is a
    script-folder import of the importing module ``importer``; other names unchanged."""
    if not qualified:
        return qualified
    head, dot, rest = qualified.partition(".")
    folder = importer.rpartition(".")[0] if not is_package else ""
    if folder:
        sibling = f"{folder}.{head}"
        inside = sibling in modules or any(m.startswith(sibling + ".") for m in modules)  # a module, or a folder of them
        if inside and (folder not in modules or head not in modules):
            return f"{sibling}{dot}{rest}"
    target = aliases.get(head)
    return f"{target}{dot}{rest}" if target is not None else qualified


#: top-level names a script-folder module never stands for
_NOT_ALIASED = frozenset(sys.stdlib_module_names) | {"torch", "torchvision", "numpy", "mindspore", "scipy", "pandas"}


def script_aliases(modules: Iterable[str]) -> dict:
    """{last name: module} for the modules of subfolders that a script in their own folder
    imports by their last name: when that name is unique among SRC's modules and no top-level
    module, package, standard-library or framework module has it."""
    modules = set(modules)
    top = {m.split(".")[0] for m in modules}
    by_name: dict[str, list[str]] = {}
    for m in modules:
        if "." in m:
            by_name.setdefault(m.rpartition(".")[2], []).append(m)
    return {name: found[0] for name, found in sorted(by_name.items())
            if len(found) == 1 and name not in top and name not in _NOT_ALIASED}


def module_name(rel: str) -> tuple[str, bool]:
    """``pkg/train.py`` -> (``pkg.train``, False); ``pkg/__init__.py`` -> (``pkg``, True)."""
    parts = rel[:-3].split("/") if rel.endswith(".py") else rel.split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def absolute(name: str, module: str, is_package: bool) -> Optional[str]:
    """Resolve a relative qualified name (``.model.Net``) against the importing module."""
    dots = len(name) - len(name.lstrip("."))
    if not dots:
        return name
    package = module.split(".") if is_package else module.split(".")[:-1]
    if module == "":
        package = []
    if dots - 1 > len(package):
        return None
    base = package[: len(package) - (dots - 1)]
    rest = name[dots:]
    return ".".join([*base, rest] if rest else base) or None


def _dotted(node: ast.expr) -> Optional[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _is_torch_nn_class(name: str) -> bool:
    return name.startswith("torch.nn.") and name.rpartition(".")[2][:1].isupper()


def is_torch_optimizer_class(name: str) -> bool:
    """torch.optim.Optimizer, torch.optim.SGD, ... (not the lr_scheduler's classes)."""
    return (name == "torch.optim.optimizer.Optimizer"
            or name.startswith("torch.optim.") and name.count(".") == 2 and name.rpartition(".")[2][:1].isupper())


def _subclasses(bases: dict, imports: dict, prefix: Optional[str], is_root) -> set:
    """The project's classes that (transitively) derive from a class ``is_root`` accepts,
    with the names other modules re-export them under (``from .model import Net``)."""
    known: set[str] = set()
    changed = True
    while changed:
        changed = False
        for cls, base_names in bases.items():
            if cls not in known and any(is_root(b) or _unprefixed(b, prefix) in known for b in base_names):
                known.add(cls)
                changed = True
        for mod, names in imports.items():
            for name, target in names.items():
                reexport = f"{mod}.{name}" if mod else name
                if _unprefixed(target, prefix) in known and reexport not in known:
                    known.add(reexport)
                    changed = True
    return known


def build_index(src: Path, files: Iterable[str], prefix: Optional[str] = None) -> ProjectIndex:
    """Index the .py files (paths relative to ``src``).  ``prefix`` is the name SRC
    itself is imported under when it is a package (``reference_torch``)."""
    imports: dict[str, dict[str, str]] = {}  # module -> local name -> qualified
    bases: dict[str, list[str]] = {}  # qualified class -> qualified bases
    stars: dict[str, list[str]] = {}  # module -> the project-or-not modules it star-imports
    public: dict[str, Optional[list]] = {}  # module -> its literal __all__, if any
    functions: set[str] = set()
    method_names: set[str] = set()
    files = list(files)
    modules = frozenset(module_name(rel)[0] for rel in files)
    # a folder without an __init__.py is a namespace package: `from model.NRMS.news_encoder import X`
    # in src/model/NRMS/__init__.py names src/model/NRMS/news_encoder.py though src/model is no module
    folders = frozenset(m.rsplit(".", k)[0] for m in modules for k in range(1, m.count(".") + 1)) - modules
    aliases = script_aliases(modules | folders)
    for rel in files:
        mod, is_pkg = module_name(rel)
        try:
            tree = ast.parse((src / rel).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        names: dict[str, str] = {}
        classes: dict[str, list] = {}
        defined: list[str] = []  # module-level functions
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.add(f"{mod}.{node.name}" if mod else node.name)
                defined.append(node.name)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    names[local] = resolve_import(alias.name if alias.asname else alias.name.split(".")[0],
                                                  mod, is_pkg, modules, aliases)
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name == "*":
                        target = absolute(base, mod, is_pkg) if node.level else resolve_import(base, mod, is_pkg, modules, aliases)
                        if target:
                            stars.setdefault(mod, []).append(target)
                        continue
                    full = absolute(f"{base}.{alias.name}" if node.module else f"{base}{alias.name}", mod, is_pkg)
                    if full:
                        names[alias.asname or alias.name] = resolve_import(full, mod, is_pkg, modules, aliases) if not node.level else full
            elif isinstance(node, ast.ClassDef):
                classes[node.name] = [_dotted(b) for b in node.bases]
                method_names.update(f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)))
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                  and node.targets[0].id == "__all__" and isinstance(node.value, (ast.List, ast.Tuple))):
                public[mod] = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        for cname in [*classes, *defined]:
            names.setdefault(cname, f"{mod}.{cname}" if mod else cname)
        imports[mod] = names
        for cname, raw in classes.items():
            resolved = []
            for b in raw:
                if not b:
                    continue
                head, _, rest = b.partition(".")
                target = names.get(head)
                resolved.append(f"{target}.{rest}" if target and rest else (target or b))
            bases[f"{mod}.{cname}" if mod else cname] = resolved
    exports = _star_exports(imports, stars, public, prefix)
    neighbours = _tensor_neighbours(imports, stars, modules, prefix)
    # a name a package re-exports through a star import (``from .core import *`` in
    # layers/__init__.py; ``from ..layers import DNN`` elsewhere) is that class too
    imports = {mod: {**exports.get(mod, {}), **names} if mod in stars else names for mod, names in imports.items()}
    known = _subclasses(bases, imports, prefix, _is_torch_nn_class)
    optimizers = _subclasses(bases, imports, prefix, is_torch_optimizer_class)
    everything = set(bases) | {
        f"{mod}.{local}" if mod else local
        for mod, names in imports.items()
        for local, target in names.items()
        if _unprefixed(target, prefix) in bases
    }

    def with_prefix(names: set) -> frozenset:
        return frozenset(names | ({f"{prefix}.{n}" for n in names} if prefix else set()))

    canonical = _reexports(imports, set(bases) | functions, prefix)
    if prefix:
        canonical.update({f"{prefix}.{k}": f"{prefix}.{v}" for k, v in list(canonical.items())})

    if prefix:
        exports.update({f"{prefix}.{mod}" if mod else prefix: names for mod, names in list(exports.items())})
    return ProjectIndex(with_prefix(known), with_prefix(everything | known | optimizers), exports, frozenset(functions), prefix,
                        aliases=aliases, modules=modules, method_names=frozenset(method_names),
                        optimizer_classes=with_prefix(optimizers), tensor_neighbours=neighbours,
                        canonical=canonical)


def _reexports(imports: dict, defined: set, prefix: Optional[str]) -> dict:
    """{name a module binds by import: the name the class or function is defined under}, for
    the project's own classes and functions, chains of re-exports followed."""
    found = {}
    for mod, names in imports.items():
        for local, target in names.items():
            here, there = (f"{mod}.{local}" if mod else local), _unprefixed(target, prefix)
            if here != there and (there in defined or there in found):
                found[here] = there
    for name in list(found):
        seen = {name}
        while found[name] in found and found[name] not in seen:
            seen.add(found[name])
            found[name] = found[found[name]]
    return {k: v for k, v in found.items() if v in defined}


def _is_torch(qualified: str) -> bool:
    return qualified == "torch" or qualified.startswith("torch.")


def _tensor_neighbours(imports: dict, stars: dict, modules: frozenset, prefix: Optional[str]) -> frozenset:
    """The project's modules that import nothing from torch themselves but are imported (a
    module, a name of it, or a star import) by a module that does: one step, not transitively."""
    users = {mod for mod, names in imports.items()
             if any(_is_torch(t) for t in names.values()) or any(_is_torch(s) for s in stars.get(mod, ()))}
    found = set()
    for mod in users:
        for target in [*imports[mod].values(), *stars.get(mod, ())]:
            target = _unprefixed(target, prefix)
            for candidate in (target, target.rpartition(".")[0]):
                if candidate in modules and candidate != mod and candidate not in users:
                    found.add(candidate)
    return frozenset(found)


def _star_exports(imports: dict, stars: dict, public: dict, prefix: Optional[str]) -> dict:
    """module -> {name: qualified} bound by ``from module import *``, through chains of star
    imports between the project's modules (a fixpoint; names a module binds itself win)."""
    def exported(mod: str, name: str) -> bool:
        listed = public.get(mod)
        return name in listed if listed is not None else not name.startswith("_")

    exports = {mod: {n: q for n, q in names.items() if exported(mod, n)} for mod, names in imports.items()}
    changed = True
    while changed:
        changed = False
        for mod, sources in stars.items():
            for source in sources:
                for name, qualified in list(exports.get(_unprefixed(source, prefix), {}).items()):
                    if exported(mod, name) and name not in exports.setdefault(mod, {}):
                        exports[mod][name] = qualified
                        changed = True
    return exports
