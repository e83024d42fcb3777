"""Load and validate ``api_map.yaml`` into typed, read-only rules.

The YAML is data only; the engine (codemod.py) applies it.  Every problem found
while loading is reported as ``<file>:<line>: <message>`` so the table can be
fixed where it is wrong (line numbers come from yaml's node marks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional

import libcst as cst
import yaml

DEFAULT_MAP = Path(__file__).with_name("api_map.yaml")

#: Fields an entry may have (documented at the top of api_map.yaml).
FIELDS = frozenset(
    {
        "target", "style", "args", "target_args", "kwargs", "drop",
        "unsupported_args", "required_args", "defaults", "values",
        "transform", "returns", "note", "tolerance", "example", "examples", "type_target", "type_note", "value_target",
        "untyped", "runtime_kwargs", "inplace_of", "target_without",
    }
)

#: What a call/reference evaluates to; typeinfer.py uses it for receivers.
RETURN_KINDS = frozenset(
    {
        "tensor", "tensors", "named_tensors", "module", "modules", "named_modules", "optimizer",
        "ndarray", "scalar", "shape", "dtype", "device", "state_dict",
        "same", "none", "other", "loader", "unknown", "object",
    }
)

#: Value transforms (codemod.VALUE_TRANSFORMS implements them).
VALUE_TRANSFORMS = frozenset({"tuple", "tuple_or_int", "list_as_tuple", "one_minus", "as_1tuple", "as_bool"})

#: Owners whose members are looked up on typed receivers (x.view, model.train).
OWNER_CLASSES = ("torch.Tensor", "torch.nn.Module", "torch.optim.Optimizer")

STYLES = frozenset({"call", "attribute", "static"})

HELPER_PREFIX = "_torch_compat."

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_COND = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s*(?:=\s*(?P<value>.+?)|\s+without\s+(?P<without>[A-Za-z_]\w*))?\s*$"
)


class SpecError(Exception):
    """A malformed api_map entry.  ``str()`` is ``file:line: message``."""


@dataclass(frozen=True)
class Example:
    """A golden before/after pair; tests are generated from these."""

    before: str
    after: str
    source: str  # "api_map.yaml:LINE"


@dataclass(frozen=True)
class ArgCondition:
    """An ``unsupported_args`` key: ``name``, ``name=value`` or ``name without other``."""

    name: str
    value: Optional[str]
    without: Optional[str]
    reason: str

    def describe(self) -> str:
        if self.value is not None:
            return f"{self.name}={self.value}"
        if self.without is not None:
            return f"{self.name} without {self.without}"
        return self.name


@dataclass(frozen=True)
class Rule:
    """One api_map entry, validated.  Mappings are read-only."""

    key: str
    target: Optional[str]
    style: str
    args: Optional[tuple[str, ...]]
    target_args: Optional[tuple[str, ...]]
    kwargs: Mapping[str, str]
    drop: frozenset[str]
    unsupported_args: tuple[ArgCondition, ...]
    required_args: Mapping[str, str]
    defaults: Mapping[str, str]
    values: Mapping[str, str]
    transform: Optional[str]
    returns: str
    note: Optional[str]
    tolerance: Optional[float]
    examples: tuple[Example, ...]
    source: str
    type_target: Optional[str] = None  # what the class becomes where it is not called (types, bases, values)
    type_note: Optional[str] = None  # why, as a type test, it is not exactly its target there (reported uncertain)
    value_target: Optional[str] = None  # what the class becomes held as a value or tested with isinstance
    untyped: Optional[str] = None  # helper that takes the member's place where the receiver's type is unknown
    runtime_kwargs: bool = False  # `**mapping` passes through to the helper target, which checks torch's names
    inplace_of: Optional[str] = None  # x.floor_(): the out-of-place member whose conversion is written into x
    # torch argument -> the target of a call that does not pass it (F.softmax(x): torch's implicit dim)
    target_without: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def owner(self) -> Optional[str]:
        """``torch.Tensor`` for ``torch.Tensor.view``; None for module-level names."""
        head, _, _ = self.key.rpartition(".")
        last = head.rpartition(".")[2]
        return head if last[:1].isupper() else None

    @property
    def member(self) -> str:
        return self.key.rpartition(".")[2]

    @property
    def is_identity(self) -> bool:
        """Same member name, no argument edits: nothing to do on an untyped receiver."""
        if self.owner is None or self.target is None or self.transform:
            return False
        same_name = self.target.rpartition(".")[2] == self.member and self.target.rpartition(".")[0] in (
            "mindspore.Tensor", "mindspore.nn.Cell", "_torch_compat.Optimizer",
        )
        return (
            same_name
            and self.style == "call"
            and not self.kwargs
            and not self.drop
            and not self.defaults
            and not self.values
            and not self.unsupported_args
            and not self.required_args
        )

    def is_identity_for(self, keywords) -> bool:
        """``is_identity`` for one call that passes these keyword names: a keyword rename it
        does not use (``axis`` -> ``dim``) changes nothing there."""
        if self.is_identity:
            return True
        if not self.kwargs or set(self.kwargs) & set(keywords):
            return False
        return replace(self, kwargs=MappingProxyType({})).is_identity

    @property
    def target_is_method(self) -> bool:
        """True when the target is a member of the receiver (``mindspore.Tensor.tile``)."""
        if self.target is None:
            return False
        head = self.target.rpartition(".")[0]
        return head.rpartition(".")[2][:1].isupper()

    @property
    def uses_helper(self) -> bool:
        return bool(self.target and self.target.startswith(HELPER_PREFIX))


class Spec:
    """The validated table: rules by torch name plus indexes the engine needs."""

    def __init__(self, rules: Mapping[str, Rule], sources: tuple[str, ...]):
        self.rules: Mapping[str, Rule] = MappingProxyType(dict(rules))
        self.sources = sources
        members: dict[str, set[str]] = {}
        for rule in self.rules.values():
            if rule.owner:
                members.setdefault(rule.member, set()).add(rule.owner)
        #: member name -> owners that define it (for untyped receivers)
        self.member_owners: Mapping[str, frozenset[str]] = MappingProxyType(
            {m: frozenset(o) for m, o in members.items()}
        )
        renamed: dict[str, dict[str, str]] = {}
        for rule in self.rules.values():
            if (rule.owner and rule.owner not in OWNER_CLASSES and rule.style == "attribute" and rule.target
                    and rule.target.rpartition(".")[2] != rule.member and rule.returns == "tensor"):
                renamed.setdefault(rule.member, {})[rule.owner.rpartition(".")[2]] = rule.target.rpartition(".")[2]
        #: tensor attribute -> {layer class: MindSpore's name} where a torch layer's Parameter or
        #: buffer is renamed (``weight``: BatchNorm2d -> gamma, Embedding -> embedding_table);
        #: not ``eps``/``in_features``, which configuration objects share (``args.eps``)
        self.renamed_attributes: Mapping[str, Mapping[str, str]] = MappingProxyType(
            {m: MappingProxyType(c) for m, c in renamed.items()}
        )

    def get(self, key: str) -> Optional[Rule]:
        return self.rules.get(key)

    def has(self, key: str) -> bool:
        return key in self.rules

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules.values())

    def transforms_used(self) -> set[str]:
        return {r.transform for r in self.rules.values() if r.transform}


# --------------------------------------------------------------------------
# YAML loading with line numbers


class _Map(dict):
    """A dict that remembers the line of its own node and of each key."""

    line: int = 0
    key_lines: dict


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):  # noqa: D401 - yaml hook
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark
            )
        self.flatten_mapping(node)
        result = _Map()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "unhashable key", key_node.start_mark
                ) from None
            if key in result:
                raise SpecError(
                    f"{self.name}:{key_node.start_mark.line + 1}: duplicate key {key!r}"
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)


def _read_yaml(path: Path) -> _Map:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    loader = _LineLoader(text)
    loader.name = path.name
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise SpecError(f"{path.name}:{line}: invalid YAML: {exc.problem}") from None
    finally:
        loader.dispose()
    if data is None:
        data = _Map()
        data.line, data.key_lines = 1, {}
    if not isinstance(data, _Map):
        raise SpecError(f"{path.name}:1: the table must be a mapping of torch names to entries")
    return data


# --------------------------------------------------------------------------
# validation


class _EntryChecker:
    def __init__(self, fname: str, key: str, entry: Any, line: int):
        self.fname, self.key, self.entry, self.line = fname, key, entry, line

    def fail(self, field: Optional[str], message: str):
        line = self.line
        if field is not None and isinstance(self.entry, _Map):
            line = self.entry.key_lines.get(field, line)
        where = f"{self.key}.{field}" if field else self.key
        raise SpecError(f"{self.fname}:{line}: {where}: {message}")

    def str_field(self, field: str, pattern: Optional[re.Pattern] = None) -> Optional[str]:
        value = self.entry.get(field)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            self.fail(field, f"{value!r} is not a dotted Python name")
        return value

    def name_list(self, field: str, allow_star: bool = False) -> Optional[tuple[str, ...]]:
        value = self.entry.get(field)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(field, "must be a list of argument names")
        out = []
        for item in value:
            name = item[1:] if allow_star and isinstance(item, str) and item.startswith("*") else item
            if not isinstance(name, str) or not _IDENT.match(name):
                self.fail(field, f"{item!r} is not an argument name")
            out.append(item)
        if len(set(out)) != len(out):
            self.fail(field, "lists a name twice")
        return tuple(out)

    def name_map(self, field: str, value_kind: str = "name") -> Mapping[str, str]:
        value = self.entry.get(field)
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, dict):
            self.fail(field, "must be a mapping")
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not _IDENT.match(k):
                self.fail(field, f"{k!r} is not an argument name")
            if value_kind == "name":
                if not isinstance(v, str) or not _IDENT.match(v):
                    self.fail(field, f"{k}: {v!r} is not an argument name")
            elif value_kind == "dotted":
                if not isinstance(v, str) or not _DOTTED.match(v):
                    self.fail(field, f"{k}: {v!r} is not a dotted name")
            elif value_kind == "text":
                if not isinstance(v, str) or not v.strip():
                    self.fail(field, f"{k}: give the reason as text")
            elif value_kind == "expr":
                if isinstance(v, bool) or v is None:
                    v = repr(v)
                if isinstance(v, (int, float)):
                    v = repr(v)
                if not isinstance(v, str):
                    self.fail(field, f"{k}: give a Python expression as a string")
                try:
                    cst.parse_expression(v)
                except cst.ParserSyntaxError:
                    self.fail(field, f"{k}: {v!r} is not a Python expression")
            elif value_kind == "value_transform":
                if v not in VALUE_TRANSFORMS:
                    self.fail(field, f"{k}: unknown value transform {v!r} (known: {', '.join(sorted(VALUE_TRANSFORMS))})")
            out[k] = v
        return MappingProxyType(out)


def _torch_arg_names(args: Optional[tuple[str, ...]]) -> set[str]:
    return {a.lstrip("*") for a in args or ()}


def _build_rule(fname: str, key: Any, entry: Any, line: int, transform_names: Optional[Iterable[str]]) -> Rule:
    if not isinstance(key, str) or not _DOTTED.match(key) or not key.startswith("torch"):
        raise SpecError(f"{fname}:{line}: {key!r}: keys are fully-qualified torch names (torch.xxx)")
    if entry is None:
        entry = _Map()
        entry.line, entry.key_lines = line, {}
    chk = _EntryChecker(fname, key, entry, line)
    if not isinstance(entry, dict):
        chk.fail(None, "an entry must be a mapping of fields")
    for field in entry:
        if field not in FIELDS:
            chk.fail(field, f"unknown field (known: {', '.join(sorted(FIELDS))})")

    target = chk.str_field("target", _DOTTED)
    if target is not None and not _is_target_name(target):
        chk.fail("target", "must be a mindspore name or a _torch_compat helper")
    style = entry.get("style", "call")
    if style not in STYLES:
        chk.fail("style", f"must be one of {sorted(STYLES)}")
    args = chk.name_list("args", allow_star=True)
    target_args = chk.name_list("target_args", allow_star=True)
    for field, names in (("args", args), ("target_args", target_args)):
        if names and sum(a.startswith("*") for a in names) > 1:
            chk.fail(field, "only one *varargs name is allowed")
    kwargs = chk.name_map("kwargs")
    drop_list = chk.name_list("drop") or ()
    required = chk.name_map("required_args", "text")
    defaults = chk.name_map("defaults", "expr")
    values = chk.name_map("values", "value_transform")
    target_without = chk.name_map("target_without", "dotted")
    for name, alternative in target_without.items():
        if not _is_target_name(alternative):
            chk.fail("target_without", f"{name}: must be a mindspore name or a _torch_compat helper")

    torch_names = _torch_arg_names(args)
    if args is None:
        for field in ("values", "required_args", "target_args", "target_without"):
            if entry.get(field):
                chk.fail(field, "needs args (the torch positional order) to match arguments")
    for field, names in (("kwargs", kwargs), ("drop", drop_list), ("required_args", required), ("values", values),
                         ("target_without", target_without)):
        for name in names:
            if args is not None and name not in torch_names:
                chk.fail(field, f"{name!r} is not in args (the torch signature)")

    conditions = []
    raw = entry.get("unsupported_args")
    if raw is not None:
        if not isinstance(raw, dict):
            chk.fail("unsupported_args", "must map a condition (name, name=value, 'name without other') to a reason")
        for cond, reason in raw.items():
            m = _COND.match(str(cond))
            if not m:
                chk.fail("unsupported_args", f"{cond!r} is not 'name', 'name=value' or 'name without other'")
            if not isinstance(reason, str) or not reason.strip():
                chk.fail("unsupported_args", f"{cond}: give the reason as text")
            name = m.group("name")
            if args is not None and name not in torch_names:
                chk.fail("unsupported_args", f"{name!r} is not in args (the torch signature)")
            value = m.group("value")
            if value is not None:
                try:
                    cst.parse_expression(value)
                except cst.ParserSyntaxError:
                    chk.fail("unsupported_args", f"{cond}: {value!r} is not a Python literal")
            conditions.append(ArgCondition(name, value, m.group("without"), reason.strip()))

    transform = chk.str_field("transform", _DOTTED)
    if transform is not None and transform_names is not None and transform not in set(transform_names):
        chk.fail("transform", f"no structural transform named {transform!r} (known: {', '.join(sorted(transform_names))})")

    type_target = chk.str_field("type_target", _DOTTED)
    if type_target is not None and not key.rpartition(".")[2][:1].isupper():
        chk.fail("type_target", "only a class-like name (Capitalised) is used as a type")
    type_note = chk.str_field("type_note")
    if type_note is not None and type_target is None:
        chk.fail("type_note", "only with a type_target")
    value_target = chk.str_field("value_target", _DOTTED)
    if value_target is not None and type_target is None:
        chk.fail("value_target", "only with a type_target")

    untyped = chk.str_field("untyped", _DOTTED)
    if untyped is not None and (not untyped.startswith(HELPER_PREFIX) or key.rpartition(".")[0] not in OWNER_CLASSES):
        chk.fail("untyped", "a _torch_compat helper, on a member of torch.Tensor, torch.nn.Module or torch.optim.Optimizer")

    runtime_kwargs = entry.get("runtime_kwargs", False)
    if not isinstance(runtime_kwargs, bool):
        chk.fail("runtime_kwargs", "must be true or false")
    if runtime_kwargs and not (target or "").startswith(HELPER_PREFIX):
        chk.fail("runtime_kwargs", "only a _torch_compat helper target can check torch's names at run time")

    inplace_of = chk.str_field("inplace_of", _DOTTED)
    if inplace_of is not None and not (
            key.startswith("torch.Tensor.") and key.endswith("_") and inplace_of.startswith("torch.Tensor.")
            and transform == "tensor_data"):
        chk.fail("inplace_of", "only on an in-place torch.Tensor member (name ending in _) with transform: tensor_data, "
                               "naming a torch.Tensor member")

    returns = entry.get("returns")
    if returns is None:
        returns = _default_returns(key)
    elif returns not in RETURN_KINDS:
        chk.fail("returns", f"{returns!r} is not one of {', '.join(sorted(RETURN_KINDS))}")

    note = chk.str_field("note")
    if target is None and transform is None and note is None:
        chk.fail(None, "an entry without target or transform must have a note saying why it cannot be converted")
    tolerance = entry.get("tolerance")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0):
        chk.fail("tolerance", "must be a non-negative number")

    examples = []
    raw_examples = []
    if "example" in entry:
        raw_examples.append(("example", entry["example"]))
    if "examples" in entry:
        if not isinstance(entry["examples"], list):
            chk.fail("examples", "must be a list of {before, after}")
        raw_examples.extend(("examples", e) for e in entry["examples"])
    for field, ex in raw_examples:
        if not isinstance(ex, dict) or set(ex) != {"before", "after"}:
            chk.fail(field, "must have exactly 'before' and 'after'")
        for part in ("before", "after"):
            if not isinstance(ex[part], str):
                chk.fail(field, f"{part} must be a string (use a | block)")
        ex_line = getattr(ex, "line", chk.line)
        examples.append(Example(ex["before"], ex["after"], f"{fname}:{ex_line}"))

    return Rule(
        key=key,
        target=target,
        style=style,
        args=args,
        target_args=target_args,
        kwargs=kwargs,
        drop=frozenset(drop_list),
        unsupported_args=tuple(conditions),
        required_args=required,
        defaults=defaults,
        values=values,
        transform=transform,
        returns=returns,
        note=note.strip() if note else None,
        tolerance=float(tolerance) if tolerance is not None else None,
        examples=tuple(examples),
        source=f"{fname}:{line}",
        type_target=type_target,
        type_note=type_note.strip() if type_note else None,
        value_target=value_target,
        untyped=untyped,
        runtime_kwargs=runtime_kwargs,
        inplace_of=inplace_of,
        target_without=target_without,
    )


def _is_target_name(name: str) -> bool:
    return name.startswith("mindspore") or name.startswith(HELPER_PREFIX)


def _default_returns(key: str) -> str:
    last = key.rpartition(".")[2]
    head = key.rpartition(".")[0]
    owner_is_class = head.rpartition(".")[2][:1].isupper()
    if owner_is_class:
        return "tensor" if head == "torch.Tensor" else "other"
    if last[:1].isupper():
        if key.startswith("torch.nn."):
            return "module"
        if key.startswith("torch.optim."):
            return "optimizer"
        return "other"
    return "tensor"


def load_rules(path: Path, transform_names: Optional[Iterable[str]] = None) -> dict[str, Rule]:
    """Parse one YAML table into rules (not yet merged)."""
    data = _read_yaml(path)
    names = list(transform_names) if transform_names is not None else None
    rules = {}
    for key, entry in data.items():
        rules[key] = _build_rule(path.name, key, entry, data.key_lines.get(key, 1), names)
    return rules


def load_spec(extra: Iterable[Path] = (), base: Path = DEFAULT_MAP, transform_names: Optional[Iterable[str]] = None) -> Spec:
    """The default table, with entries of each ``--map`` file added or overriding."""
    if transform_names is None:
        from migrate.transforms import registry

        transform_names = registry().keys()
    names = list(transform_names)
    rules = load_rules(base, names)
    sources = [str(base)]
    for path in extra:
        rules.update(load_rules(Path(path), names))
        sources.append(str(path))
    for rule in rules.values():
        base_rule = rules.get(rule.inplace_of) if rule.inplace_of else None
        if rule.inplace_of and (base_rule is None or base_rule.target is None or base_rule.transform):
            raise SpecError(f"{rule.source}: {rule.key}: inplace_of: {rule.inplace_of} must be an entry with a target "
                            "and no transform")
    return Spec(rules, tuple(sources))
