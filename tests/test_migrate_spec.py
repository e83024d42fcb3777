"""api_map.yaml: every entry's example is a golden test, the table is checked
against the real torch and MindSpore APIs, and malformed entries are errors
that cite the YAML line."""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from migrate import helpers
from migrate.codemod import convert_source
from migrate.spec import DEFAULT_MAP, SpecError, load_rules, load_spec

SPEC = load_spec()
EXAMPLES = [
    pytest.param(rule, ex, id=f"{rule.key}#{i}")
    for rule in SPEC
    for i, ex in enumerate(rule.examples)
]


def test_every_entry_has_an_example():
    missing = [rule.key for rule in SPEC if not rule.examples]
    assert not missing, f"entries without example: {missing}"


@pytest.mark.parametrize("rule, example", EXAMPLES)
def test_example_converts_to_after(rule, example):
    out = convert_source(example.before, SPEC, "example.py").code
    assert out == example.after, f"{example.source}: {rule.key}"


@pytest.mark.parametrize("rule, example", EXAMPLES)
def test_example_output_compiles_and_is_stable(rule, example):
    compile(example.after, example.source, "exec")
    again = convert_source(example.after, SPEC, "example.py").code
    assert again == example.after, "converting the output again must change nothing"


def test_converted_examples_do_not_import_torch():
    for rule in SPEC:
        for ex in rule.examples:
            if "MIGRATE(" in ex.after:
                continue  # a site left for a person keeps its torch import
            assert not re.search(r"^\s*(import torch|from torch)", ex.after, re.M), ex.source


# --------------------------------------------------------------------------
# the table against the real APIs


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _torch_params(obj, name: str) -> set[str]:
    """Parameter names of a torch callable: its signature, or the signatures its
    docstring lists (torch's C functions have no inspectable signature)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(target)
        params = {p for p in sig.parameters if p != "self"}
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()) or params - {"args", "kwargs"}:
            return params
    except (TypeError, ValueError):
        pass
    doc = inspect.getdoc(obj) or ""
    names: set[str] = set()
    for match in re.finditer(rf"(?:^|\.|\s){re.escape(name)}\((.*?)\)\s*->", doc):
        for part in match.group(1).split(","):
            part = part.strip().lstrip("*").split("=")[0].split(":")[0].strip()
            if part.isidentifier():
                names.add(part)
    return names


def _exists(dotted: str) -> bool:
    """An importable object, or an instance attribute its class's __init__ sets."""
    try:
        _resolve(dotted)
        return True
    except (ImportError, AttributeError):
        pass
    owner, _, attr = dotted.rpartition(".")
    try:
        cls = _resolve(owner)
    except (ImportError, AttributeError):
        return False
    pattern = re.compile(rf"self\.{re.escape(attr)}\s*=|register_(?:buffer|parameter)\(\s*[\"']{re.escape(attr)}[\"']")
    for klass in inspect.getmro(cls):
        try:
            if pattern.search(inspect.getsource(klass.__init__)):
                return True
        except (TypeError, OSError):
            continue
    return False


@pytest.fixture(scope="module")
def torch_mod():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def mindspore_mod():
    return pytest.importorskip("mindspore")


#: torch modules that import a package torch does not depend on (not installed here): their entries
#: are checked where it is installed, and must name one of these modules to be let off elsewhere
OPTIONAL_MODULES = {"torch.utils.tensorboard": "tensorboard"}


def _unavailable(key: str) -> bool:
    """``key`` lives in a torch module whose optional package is not installed here."""
    import importlib.util

    return any((key == module or key.startswith(module + ".")) and importlib.util.find_spec(package) is None
               for module, package in OPTIONAL_MODULES.items())


def test_every_torch_name_exists(torch_mod):
    missing = [rule.key for rule in SPEC if not _unavailable(rule.key) and not _exists(rule.key)]
    assert not missing, f"not in torch {torch_mod.__version__}: {missing}"


#: attributes that exist at run time only: the _torch_compat protocol sets them
RUNTIME_ATTRIBUTES = {"mindspore.Tensor.grad": "accumulate_grad"}


def test_every_target_exists(mindspore_mod):
    missing = []
    for rule in SPEC:
        if rule.target is None:
            continue
        if rule.target in RUNTIME_ATTRIBUTES:
            assert RUNTIME_ATTRIBUTES[rule.target] in helpers.exports("_torch_compat")
            continue
        if rule.uses_helper:
            head = rule.target.split(".")[1]
            if head not in helpers.exports("_torch_compat"):
                missing.append(rule.target)
            continue
        if not _exists(rule.target):
            missing.append(rule.target)
    types = [rule.type_target for rule in SPEC if rule.type_target is not None]
    assert types, "no entry has a type_target"
    for name in types:  # used in annotations and isinstance: must be a class
        if not _exists(name) or not isinstance(_resolve(name), type):
            missing.append(name)
    for rule in SPEC:  # held as values and isinstance's class argument: the helper's classes
        if rule.value_target is not None and rule.value_target.split(".")[1] not in helpers.exports("_torch_compat"):
            missing.append(rule.value_target)
    assert not missing, f"not in mindspore {mindspore_mod.__version__}: {missing}"


#: keywords torch 2.13 accepts where its docstring's signature no longer lists them (checked by
#: calling torch: ``torch.var(x, 0, unbiased=False)``, ``x.std(dim=1, unbiased=True)``)
UNDOCUMENTED = {key: {"unbiased"} for key in ("torch.var", "torch.std", "torch.Tensor.var", "torch.Tensor.std")}


def test_undocumented_keywords_are_torchs(torch_mod):
    x = torch_mod.arange(12.0).reshape(3, 4)
    for key, names in UNDOCUMENTED.items():
        fn = getattr(x, key.rpartition(".")[2]) if key.startswith("torch.Tensor.") else getattr(torch_mod, key[6:])
        args = () if key.startswith("torch.Tensor.") else (x,)
        for name in names:
            fn(*args, **{name: False})  # raises TypeError if torch no longer takes it


def test_mapped_arguments_exist_in_torch_signatures(torch_mod):
    problems = []
    for rule in SPEC:
        if rule.args is None or rule.style == "attribute" or _unavailable(rule.key):
            continue
        params = _torch_params(_resolve(rule.key), rule.member)
        if not params:
            continue  # nothing to check against
        declared = {a.lstrip("*") for a in rule.args}
        names = set(rule.kwargs) | set(rule.drop) | {c.name for c in rule.unsupported_args} | set(rule.values) | declared
        unknown = names - params - {"self"} - UNDOCUMENTED.get(rule.key, set())
        if unknown:
            problems.append(f"{rule.source} {rule.key}: {sorted(unknown)} not in {sorted(params)}")
    assert not problems, "\n".join(problems)


def test_target_arguments_exist_in_mindspore_signatures(mindspore_mod):
    problems = []
    for rule in SPEC:
        if rule.target is None or rule.uses_helper or rule.style == "attribute":
            continue
        target = _resolve(rule.target)
        fn = target.__init__ if inspect.isclass(target) else target
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue  # C-level overloads (most Tensor methods): covered by the numeric tests
        params = [p for p in sig.parameters.values() if p.name != "self"]
        if any(p.kind is p.VAR_KEYWORD for p in params):
            continue
        names = {p.name for p in params}
        wanted = set(rule.kwargs.values()) | set(rule.defaults) | {a.lstrip("*") for a in rule.target_args or ()}
        if rule.owner and not rule.target_is_method and rule.target_args:
            wanted.discard(rule.target_args[0])
            names.add(rule.target_args[0])
        unknown = wanted - names
        if unknown:
            problems.append(f"{rule.source} {rule.key} -> {rule.target}: {sorted(unknown)} not in {sorted(names)}")
    assert not problems, "\n".join(problems)


def test_every_kept_torch_argument_reaches_a_target_parameter(mindspore_mod, compat):
    """An argument the table neither drops nor refuses outright is passed on, so the target must
    take it: ``nn.LayerNorm(8, elementwise_affine=True)`` once became a MindSpore LayerNorm call
    with a keyword it does not have (refused only for False, never dropped)."""
    problems = []
    for rule in SPEC:
        if rule.target is None or rule.args is None or rule.style == "attribute" or rule.transform:
            continue
        target = getattr(compat, rule.target.split(".")[1]) if rule.uses_helper else _resolve(rule.target)
        fn = target.__init__ if inspect.isclass(target) else target
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        params = [p for p in sig.parameters.values() if p.name != "self"]
        if any(p.kind is p.VAR_KEYWORD for p in params):
            continue
        names = {p.name for p in params}
        args = [a.lstrip("*") for a in rule.args]
        if rule.owner is None and "." in rule.target and inspect.isclass(_resolve(rule.target.rsplit(".", 1)[0])):
            args = args[1:]  # torch.clone(x) -> x.copy(): the first argument is the receiver
        refused = {c.name for c in rule.unsupported_args if c.value is None and c.without is None}
        kept = [a for a in args if a not in rule.drop and a not in refused and a not in rule.target_without]
        unknown = [rule.kwargs.get(a, a) for a in kept if rule.kwargs.get(a, a) not in names]
        if unknown:
            problems.append(f"{rule.source} {rule.key} -> {rule.target}: {unknown} not in {sorted(names)}")
    assert not problems, "\n".join(problems)


def test_helper_exports_cover_helper_targets():
    names = helpers.exports("_torch_compat")
    for rule in SPEC:
        if rule.uses_helper:
            assert rule.target.split(".")[1] in names, rule.key
        for alternative in rule.target_without.values():
            if alternative.startswith("_torch_compat."):
                assert alternative.split(".")[1] in names, rule.key


# --------------------------------------------------------------------------
# validation errors cite the YAML line


def _load(tmp_path: Path, text: str):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    return load_rules(path, transform_names=["devices"])


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("torch.cat:\n  target: mindspore.ops.cat\n  kwrags: {dim: axis}\n", 3, "unknown field"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  args: [tensors, dim]\n  kwargs: {axis: dim}\n", 4, "not in args"),
        ("torch.cat:\n  target: ops.cat\n", 2, "must be a mindspore name"),
        ("numpy.cat:\n  target: mindspore.ops.cat\n", 1, "fully-qualified torch names"),
        ("torch.cat:\n  args: [x]\n", 1, "must have a note"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  transform: nope\n", 3, "no structural transform"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  values: {dim: squash}\n  args: [tensors, dim]\n", 3, "unknown value transform"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  defaults: {axis: 'a b'}\n", 3, "not a Python expression"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  returns: banana\n", 3, "returns"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  example: {before: x}\n", 3, "before' and 'after"),
        ("torch.a: {target: mindspore.a}\ntorch.a: {target: mindspore.b}\n", 2, "duplicate key"),
        ("torch.cat: [1, 2\n", 2, "invalid YAML"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  unsupported_args: {'out and more': why}\n", 3, "not 'name'"),
        ("torch.cat:\n  target: mindspore.ops.cat\n  values: {dim: tuple}\n", 3, "needs args"),
        ("torch.Tensor.floor_:\n  transform: devices\n  inplace_of: torch.Tensor.floor\n", 3, "in-place torch.Tensor member"),
        ("torch.Tensor.floor:\n  target: mindspore.ops.floor\n  inplace_of: torch.Tensor.ceil\n", 3, "in-place"),
        ("torch.softmax:\n  target: mindspore.ops.softmax\n  args: [input, dim]\n  target_without: {axis: _torch_compat.softmax}\n", 4, "not in args"),
        ("torch.softmax:\n  target: mindspore.ops.softmax\n  args: [input, dim]\n  target_without: {dim: ops.softmax}\n", 4, "must be a mindspore name"),
        ("torch.softmax:\n  target: mindspore.ops.softmax\n  target_without: {dim: _torch_compat.softmax}\n", 3, "needs args"),
    ],
)
def test_malformed_entry_cites_yaml_line(tmp_path, text, line, fragment):
    with pytest.raises(SpecError) as err:
        _load(tmp_path, text)
    message = str(err.value)
    assert message.startswith(f"bad.yaml:{line}:"), message
    assert fragment in message


def test_extra_map_overrides_and_adds(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "torch.cat:\n  target: mindspore.ops.concat\n  args: [tensors, dim]\n  kwargs: {dim: axis}\n"
        "torch.erf:\n  target: mindspore.ops.erf\n  args: [input]\n"
    )
    spec = load_spec([extra])
    assert spec.get("torch.cat").target == "mindspore.ops.concat"
    assert spec.get("torch.erf").target == "mindspore.ops.erf"
    out = convert_source("import torch\ny = torch.erf(torch.cat([a, b], dim=0))\n", spec).code
    assert out == "from mindspore import ops\n\ny = ops.erf(ops.concat([a, b], axis=0))\n"


def test_inplace_of_must_name_an_entry_with_a_target(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("torch.Tensor.frobnicate_:\n  transform: tensor_data\n  inplace_of: torch.Tensor.frobnicate\n")
    with pytest.raises(SpecError, match="inplace_of: torch.Tensor.frobnicate must be an entry with a target"):
        load_spec([extra])


def test_header_documents_every_field():
    header = "\n".join(line for line in DEFAULT_MAP.read_text().splitlines() if line.startswith("#"))
    from migrate.spec import FIELDS

    for field in FIELDS:
        assert re.search(rf"#\s+{field}\b|/ {field}\b", header), f"api_map.yaml header does not explain {field!r}"


def test_arguments_added_to_a_call_written_one_per_line_keep_its_layout():
    src = (
        "import torch.nn as nn\n"
        "a = nn.Embedding(\n    num_embeddings=3,\n    embedding_dim=4\n)\n"
        "b = nn.Embedding(\n    num_embeddings=3,\n    embedding_dim=4,\n)\n"
        "c = nn.Embedding(3, 4)\n"
    )
    out = convert_source(src, SPEC, "x.py").code
    assert "a = nn.Embedding(\n    vocab_size=3,\n    embedding_size=4,\n    embedding_table=Normal(1.0)\n)\n" in out
    assert "b = nn.Embedding(\n    vocab_size=3,\n    embedding_size=4,\n    embedding_table=Normal(1.0),\n)\n" in out
    assert "c = nn.Embedding(3, 4, embedding_table=Normal(1.0))\n" in out
