"""Resolve references to fully-qualified names through the file's imports.

``import torch.nn as nn; nn.Linear`` and ``from torch.nn import Linear as L; L``
both resolve to ``torch.nn.Linear``; a local ``def cat`` or ``from mytorch
import nn`` do not.  This is what libcst's ``QualifiedNameProvider`` computes
(``scope.get_qualified_names_for(node)``), asked lazily for the few nodes the
codemod looks at instead of eagerly for every node of the file: the eager
provider costs a full extra tree walk.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Union

import libcst as cst
from libcst.metadata import QualifiedNameSource
from libcst.metadata.scope_provider import Scope

Ref = Union[cst.Name, cst.Attribute]


def base_name(node: cst.BaseExpression) -> Optional[cst.Name]:
    """The leftmost Name of an attribute chain (``torch`` in ``torch.nn.Linear``)."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for an attribute chain of names, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


#: torch's implementation modules and the package that re-exports their public names:
#: ``from torch.nn.modules.module import Module`` is torch.nn.Module, ``torch.optim.adam.Adam``
#: is torch.optim.Adam.  A name is put in its package's spelling only where the table knows
#: that spelling (tests/test_migrate_project.py checks, for every such entry, that each of these
#: modules defining the name holds the very same object).
REEXPORTED = (
    ("torch.nn.modules", "torch.nn"),  # torch.nn.modules.X and torch.nn.modules.<file>.X
    ("torch.nn.parameter", "torch.nn"),
    ("torch.optim", "torch.optim"),  # torch.optim.<file>.X
    ("torch.utils.data", "torch.utils.data"),  # torch.utils.data.<file>.X
    ("torch.autograd", "torch.autograd"),  # torch.autograd.<file>.X
    ("torch.distributions", "torch.distributions"),  # torch.distributions.<file>.X (normal.Normal, kl.kl_divergence)
)


def canonical_torch_name(name: str, known: Callable[[str], bool]) -> str:
    """``name`` as torch's public package spells it, when it is a public name of one of torch's
    implementation modules (``REEXPORTED``) and ``known`` knows that spelling; else ``name``."""
    if not name.startswith("torch.") or known(name):
        return name
    module, _, leaf = name.rpartition(".")
    if leaf.startswith("_"):
        return name
    for implementation, package in REEXPORTED:
        inside = module == implementation and implementation != package
        one_below = module.startswith(implementation + ".") and "." not in module[len(implementation) + 1:]
        if (inside or one_below) and known(f"{package}.{leaf}"):
            return f"{package}.{leaf}"
    return name


class ImportedNames:
    """Collects every name bound by an import statement anywhere in the file.

    Imports are statements, so only statement bodies are walked, never
    expressions (a full visitor pass would cost as much as parsing)."""

    def __init__(self) -> None:
        self.bound: dict[str, set[str]] = {}  # local name -> imported dotted modules/objects
        self.imports: list[Union[cst.Import, cst.ImportFrom]] = []
        self.star = False  # a `from m import *` anywhere: it may bind any name

    def collect(self, module: cst.Module) -> "ImportedNames":
        self._statements(module.body)
        return self

    def _statements(self, statements) -> None:
        for stmt in statements:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        self.visit_Import(small)
                    elif isinstance(small, cst.ImportFrom):
                        self.visit_ImportFrom(small)
            else:
                self._compound(stmt)

    def _compound(self, node) -> None:
        for name in ("body", "orelse", "finalbody"):
            part = getattr(node, name, None)
            if part is None:
                continue
            if isinstance(part, (cst.IndentedBlock, cst.SimpleStatementSuite)):
                self._block(part)
            elif isinstance(part, (cst.Else, cst.Finally)):
                self._block(part.body)
            elif isinstance(part, cst.If):  # elif
                self._compound(part)
        for handler in getattr(node, "handlers", ()):
            self._block(handler.body)
        for case in getattr(node, "cases", ()):
            self._block(case.body)

    def _block(self, block) -> None:
        if isinstance(block, cst.SimpleStatementSuite):
            self._statements([cst.SimpleStatementLine(body=block.body)])
        else:
            self._statements(block.body)

    def visit_Import(self, node: cst.Import) -> bool:
        self.imports.append(node)
        for alias in node.names:
            full = dotted(alias.name) or ""
            local = alias.evaluated_alias or full.split(".")[0]
            self.bound.setdefault(local, set()).add(full if alias.asname else full.split(".")[0])
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self.imports.append(node)
        if isinstance(node.names, cst.ImportStar):
            self.star = True
            return False
        dots = "." * len(node.relative)
        module = dotted(node.module) if node.module is not None else ""
        prefix = f"{dots}{module}." if module else dots
        for alias in node.names:
            local = alias.evaluated_alias or alias.evaluated_name
            self.bound.setdefault(local, set()).add(f"{prefix}{alias.evaluated_name}")
        return False


class NameResolver:
    """Qualified names of Name/Attribute references, cached per node."""

    def __init__(self, scopes: Mapping[cst.CSTNode, Optional[Scope]], imported: Mapping[str, set[str]],
                 star: Optional[Mapping[str, str]] = None, known: Optional[Callable[[str], bool]] = None,
                 any_star: bool = False):
        self._scopes = scopes
        self._any_star = any_star  # the file star-imports some module: a name may come from it
        self.known = known  # the table's keys: implementation-module names become their package's
        self._star = dict(star or {})  # name -> qualified, bound by `from <project module> import *`
        self._imported = {**{n: {q} for n, q in self._star.items()}, **imported}
        self._cache: dict[int, frozenset[str]] = {}

    def scope_of(self, node: cst.CSTNode) -> Optional[Scope]:
        """libcst's scope of ``node`` (None when unknown)."""
        try:
            return self._scopes.get(node) if hasattr(self._scopes, "get") else self._scopes[node]
        except KeyError:
            return None

    def is_unbound(self, node: cst.Name) -> bool:
        """Nothing binds ``node`` where it is read: no assignment, import, parameter or builtin
        (libcst's scopes; False when the scope is unknown or the file has a star import, which
        may bind it)."""
        scope = self.scope_of(node)
        return scope is not None and not self._any_star and node.value not in scope

    def star_name(self, name: str) -> Optional[str]:
        """What ``from <project module> import *`` binds ``name`` to (its qualified name), if so."""
        return self._star.get(name)

    def might_be_imported(self, node: cst.BaseExpression) -> bool:
        base = base_name(node)
        return base is not None and base.value in self._imported

    def qualified(self, node: cst.BaseExpression) -> frozenset[str]:
        """Import-derived qualified names of a reference (empty when local or unknown)."""
        if not isinstance(node, (cst.Name, cst.Attribute)) or not self.might_be_imported(node):
            return frozenset()
        key = id(node)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        scope = self._scopes.get(node)
        names: frozenset[str] = frozenset()
        if scope is not None:
            try:
                names = frozenset(
                    q.name for q in scope.get_qualified_names_for(node) if q.source is QualifiedNameSource.IMPORT
                )
            except Exception:  # libcst raises on a few exotic shapes; treat as unknown
                names = frozenset()
            base = base_name(node)
            if not names and base.value in self._star and base.value not in scope:
                # bound only by a star import of a project module (libcst does not follow those)
                tail = dotted(node)[len(base.value):] if dotted(node) else None
                if tail is not None:
                    names = frozenset({self._star[base.value] + tail})
            if self.known is not None:
                names = frozenset(canonical_torch_name(n, self.known) for n in names)
        self._cache[key] = names
        return names

    def torch_name(self, node: cst.BaseExpression) -> Optional[str]:
        """The torch qualified name of a reference, if it resolves to exactly one."""
        names = [n for n in self.qualified(node) if n == "torch" or n.startswith("torch.")]
        if len(names) == 1:
            return names[0]
        return min(names) if names else None

    def startswith(self, node: cst.BaseExpression, prefix: str) -> bool:
        return any(n == prefix or n.startswith(prefix + ".") for n in self.qualified(node))
