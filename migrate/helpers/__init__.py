"""Sources of the small modules emitted into DST when converted code needs them.

Each ``_*.py`` file here is copied verbatim into the converted tree's root
(``_torch_compat.py``); it is never imported by the tool itself (it imports
MindSpore).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent
MODULES = {p.stem: p for p in sorted(HERE.glob("_*.py")) if p.stem != "__init__"}


def source(module: str) -> str:
    """The text to write as ``<module>.py``."""
    return MODULES[module].read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _tree(module: str) -> ast.Module:
    """The helper module's syntax tree (parsed once; it is never imported by the tool)."""
    return ast.parse(source(module))


@lru_cache(maxsize=None)
def exports(module: str) -> frozenset:
    """Top-level names a helper module defines (read without importing it)."""
    tree = _tree(module)
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


@lru_cache(maxsize=None)
def class_members(module: str, name: str) -> frozenset | None:
    """Members of the helper class ``name`` (its own and those of its bases in the same module),
    read without importing it; None when that cannot be told (a base from elsewhere, say
    MindSpore's, or a ``__getattr__`` that returns values)."""
    classes = {node.name: node for node in _tree(module).body if isinstance(node, ast.ClassDef)}
    members: set = set()
    provides = False  # a __getattr__ that returns something (one that only raises provides nothing)
    todo = [name]
    while todo:
        node = classes.get(todo.pop())
        if node is None:
            return None
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                members.add(item.name)
                if item.name == "__getattr__":
                    provides = provides or any(isinstance(sub, ast.Return) for sub in ast.walk(item))
                members.update(t.attr for sub in ast.walk(item) if isinstance(sub, (ast.Assign, ast.AnnAssign))
                               for t in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
                               if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                               and t.value.id == "self")
            elif isinstance(item, ast.Assign):
                members.update(t.id for t in item.targets if isinstance(t, ast.Name))
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                members.add(item.target.id)
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id != "object":
                todo.append(base.id)
            elif not (isinstance(base, ast.Name) and base.id == "object"):
                return None
    return None if provides else frozenset(members)


@lru_cache(maxsize=None)
def function_params(module: str, name: str) -> tuple | None:
    """The parameter names of the helper function ``name`` (``*args`` as ``"*args"``), read
    without importing it; None when it is no top-level function there."""
    for node in _tree(module).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            names = [p.arg for p in (*a.posonlyargs, *a.args)]
            if a.vararg is not None:
                names.append(f"*{a.vararg.arg}")
            return tuple(names)
    return None


@lru_cache(maxsize=None)
def method_names(module: str) -> frozenset:
    """Every method name any class of the helper module defines (a receiver of unknown type may
    be one of its objects: a SparseTensor's ``indices()``), read without importing it."""
    return frozenset(item.name for node in _tree(module).body if isinstance(node, ast.ClassDef)
                     for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
