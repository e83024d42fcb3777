"""Structural rewrites: one per module in this package, registered by a decorator.

Adding a rewrite touches its own file (and its test) only:

    from migrate.transforms import Example, Transform, register

    @register
    class NoGrad(Transform):
        \"\"\"Why this rewrite exists.\"\"\"
        name = "no_grad"                      # api_map entries may say `transform: no_grad`
        examples = (Example(before=..., after=...),)   # golden tests, generated

        def leave_With(self, original, updated):       # any libcst visit_/leave_ hook
            ...
            self.ctx.converted(original, "torch.no_grad")
            return cst.FlattenSentinel(updated.body.body)

        def rewrite(self, site):                       # for api_map entries naming it
            ...

The engine (codemod.py) creates one instance per file and dispatches hooks in
the same traversal as the table rules, so a transform costs no extra pass.
``visit_`` hooks see original nodes before their children; ``leave_`` hooks get
``(original, updated)`` after the engine's own rule for that node (children
already converted) and before the statement's markers and insertions are
applied.  Transforms run in ``order`` then name; modules named ``_*.py`` are
not discovered (work in progress).
What a transform may do through ``self.ctx`` (a ``codemod.FileContext``):

* resolve names: ``ctx.torch_name(node)``, ``ctx.type_of(expr)`` (original
  nodes), ``ctx.types`` (classes, scopes), ``ctx.statement`` (the original
  statement being converted), ``ctx.spec`` (the table);
* emit targets with imports: ``ctx.name_for("mindspore.nn.Cell")``,
  ``ctx.helper("Adam")`` (requests the helper module and its import),
  ``ctx.parse_expression("mindspore.float32")``;
* edit statements around the current one: ``ctx.insert_before([...])``,
  ``ctx.insert_after([...])``, ``ctx.remove_statement()``; or return a
  ``FlattenSentinel``/``RemovalSentinel`` from a statement ``leave_`` hook;
* keep other rules away from a node it handles: ``ctx.claim(node)``;
* report: ``ctx.converted(node, rule)``, ``ctx.uncertain(node, rule, why)``,
  ``ctx.unsupported(node, rule, why)`` or ``raise Unconvertible(kind, why)``
  from ``rewrite``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Optional, Sequence

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from migrate.codemod import CallSite, FileContext


@dataclass(frozen=True)
class Example:
    """A golden before/after pair (Fixit style): the rewrite documents and tests itself.

    ``after=None`` means the code must come out unchanged (a no-op case)."""

    before: str
    after: Optional[str] = None
    name: str = ""


def drop_decorators(original: cst.FunctionDef, updated: cst.FunctionDef, which) -> tuple:
    """``updated`` without the decorators for which ``which(original decorator expression)``
    gives a name, and the (original expression, name) pairs it dropped; the comment lines
    above a dropped first decorator stay above the function."""
    keep, dropped = [], []
    for old, new in zip(original.decorators, updated.decorators):
        name = which(old.decorator)
        if name:
            dropped.append((old.decorator, name))
        else:
            keep.append(new)
    if not dropped:
        return updated, dropped
    lines = list(updated.leading_lines)
    if not keep:
        lines.extend(updated.lines_after_decorators)
    return updated.with_changes(decorators=keep, leading_lines=lines), dropped


class Unconvertible(Exception):
    """Raised by a rewrite that cannot convert a site; the site stays as it was."""

    def __init__(self, kind: str, reason: str, at_run_time: bool = False):
        super().__init__(reason)
        self.kind = kind  # "unsupported" | "uncertain"
        self.reason = reason
        #: what the codemod cannot read (``**options``, ``sparse=flag``) the entry's mapping could
        #: decide where the call runs (a class construction through ``torch_signature``)
        self.at_run_time = at_run_time


class Transform:
    """Base class of structural rewrites."""

    name: ClassVar[str] = ""
    examples: ClassVar[Sequence[Example]] = ()
    #: lower runs first among transforms hooking the same node type
    order: ClassVar[int] = 100

    def __init__(self, ctx: "FileContext") -> None:
        self.ctx = ctx

    def rewrite(self, site: "CallSite"):
        """Convert one api_map site whose entry names this transform: the new node, or
        (node, reason) where the report should say why it converted as it did (instead of
        the entry's note); None leaves the site as it is, Unconvertible reports it."""
        raise Unconvertible("unsupported", f"{self.name} does not rewrite {site.rule.key}")


_REGISTRY: dict[str, type[Transform]] = {}
_DISCOVERED = False


def register(cls: type[Transform]) -> type[Transform]:
    """Class decorator: make a transform available under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name")
    other = _REGISTRY.get(cls.name)
    if other is not None and other is not cls and other.__qualname__ != cls.__qualname__:
        raise ValueError(f"two transforms named {cls.name!r}: {other.__qualname__} and {cls.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def registry() -> dict[str, type[Transform]]:
    """All transforms, importing every module of this package once."""
    global _DISCOVERED
    if not _DISCOVERED:
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _DISCOVERED = True
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))
