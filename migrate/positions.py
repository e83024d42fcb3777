"""Line/column of a few nodes, computed in one cheap code-generation pass.

libcst's PositionProvider records a range for every node of the file, which
costs more than the whole conversion; the report needs the start of the sites
only.  Positions are whitespace-inclusive starts (1-based line, 0-based
column), which for the expressions reported here is where the code begins.
"""

from __future__ import annotations

from typing import Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState


class _Positions(CodegenState):
    def __init__(self, module: cst.Module, wanted: set[int]):
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line = 1
        self.column = 0
        self.wanted = wanted
        self.found: dict[int, tuple[int, int]] = {}

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        newlines = value.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(value) - value.rfind("\n") - 1
        else:
            self.column += len(value)

    def pop_trailing_newline(self) -> None:
        pass

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.found:
            self.found[key] = (self.line, self.column)


def positions_of(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, tuple[int, int]]:
    """``{id(node): (line, col)}`` for the given nodes of ``module``."""
    wanted = {id(n) for n in nodes if n is not None}
    if not wanted:
        return {}
    state = _Positions(module, wanted)
    module._codegen(state)
    return state.found
