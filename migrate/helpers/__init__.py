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
def exports(module: str) -> frozenset:
    """Top-level names a helper module defines (read without importing it)."""
    tree = ast.parse(source(module))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)
