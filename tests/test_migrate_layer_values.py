"""torch classes passed as values (``norm_layer=nn.BatchNorm2d``, ``partial(nn.LayerNorm, eps=1e-6)``,
``{"relu": nn.ReLU}``) become the helper ``torch_signature``'s classes: called later with torch's
arguments, they apply the table entry's mapping at run time, as the codemod applies it to a call
it sees."""

from __future__ import annotations

import textwrap
import zlib

import libcst as cst
import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")
from test_migrate_numeric import both_versions, load_converted, twin_models  # noqa: E402

SPEC = load_spec()

SOURCE = textwrap.dedent('''\
    import functools
    import torch
    import torch.nn as nn

    ACTS = {"relu": nn.ReLU, "leaky": nn.LeakyReLU, "gelu": nn.GELU}


    class Block(nn.Module):
        def __init__(self, dim, norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU,
                     head_norm=functools.partial(nn.LayerNorm, eps=1e-3), head=nn.Linear, probs=nn.Softmax):
            super().__init__()
            self.conv = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
            self.norm = norm_layer(dim, momentum=0.3)
            self.act = act_layer(inplace=True)
            self.leaky = ACTS["leaky"]()
            self.head_norm = head_norm(dim)
            self.head = head(dim, 5, bias=True)
            self.probs = probs(dim=-1)
            self.implicit = probs()
            self.kinds = [isinstance(self.norm, norm_layer), isinstance(self.head, nn.Linear),
                          isinstance(self.act, norm_layer), issubclass(norm_layer, nn.BatchNorm2d)]

        def forward(self, x):
            h = self.leaky(self.act(self.norm(self.conv(x)) - 0.5))
            h = self.head_norm(h.mean(dim=(2, 3)))
            logits = self.head(h)
            return self.probs(logits), self.implicit(logits), self.norm.running_mean


    def build():
        return Block(4)
''')


def _same_training_outputs(source: str, ms_mod, shape) -> tuple:
    """``build()`` of both sides from the same weights, run once in training mode on the same
    random input: the outputs agree; (torch model, MindSpore model)."""
    _, t_model, ms_model = twin_models(source, ms_mod)
    t_model.train()
    ms_model.set_train(True)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    want = [t.detach().numpy() for t in t_model(torch.from_numpy(x))]
    got = [t.asnumpy() for t in ms_model(mindspore.Tensor(x))]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    return t_model, ms_model


def test_layer_classes_passed_as_values_build_what_torch_builds(compat, tmp_path, monkeypatch):
    code, ms_mod, _ = both_versions(SOURCE, "layer_values_case", tmp_path, monkeypatch)
    assert "torch_signature(" in code and "norm_layer=nn.BatchNorm2d" not in code
    # softmax with dim, torch's implicit dim (1 on 2-D), moving mean (momentum 0.3)
    t_model, ms_model = _same_training_outputs(SOURCE, ms_mod, (3, 4, 5, 6))
    assert ms_model.kinds == t_model.kinds == [True, True, False, True]
    assert ms_model.leaky.negative_slope == pytest.approx(0.01)  # torch's slope, not MindSpore's 0.2
    assert ms_model.head_norm.epsilon == pytest.approx(1e-3)
    assert ms_model.norm.momentum == pytest.approx(0.3)  # MindSpore keeps torch's convention inside
    assert isinstance(ms_model.head, mindspore.nn.Dense) and ms_model.head.has_bias


def test_a_refused_argument_raises_where_the_class_is_called(compat, tmp_path, monkeypatch):
    code, ms_mod, t_mod = both_versions(SOURCE, "layer_values_refused", tmp_path, monkeypatch)
    norm = ms_mod.Block.__init__.__defaults__[0]
    with pytest.raises(NotImplementedError, match=r"torch\.nn\.BatchNorm2d\(track_running_stats=False\): "):
        norm(4, track_running_stats=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'size'"):
        norm(4, size=3)
    with pytest.raises(TypeError, match="takes 8 positional arguments"):
        norm(*range(9))
    assert norm(4, track_running_stats=True, device="cpu").num_features == 4  # dropped, as in a converted call
    # a tensor is not the literal False (its == is elementwise): not refused, and dropped
    assert norm(4, track_running_stats=mindspore.Tensor([False, False])).num_features == 4
    assert ms_mod.ACTS["relu"] is ms_mod.Block.__init__.__defaults__[1]  # one class per torch name


def _value_use(before: str) -> tuple[str, str] | None:
    """The example's single-call statement ``x = nn.C(args)`` as ``cls = nn.C`` then ``x = cls(args)``."""
    module = cst.parse_module(before)
    *head, last = module.body
    if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[0], cst.Assign)):
        return None
    assign = last.body[0]
    call = assign.value
    if not isinstance(call, cst.Call) or not isinstance(call.func, (cst.Name, cst.Attribute)):
        return None
    head_code = module.with_changes(body=head).code
    target = module.code_for_node(assign.targets[0].target)
    args = ", ".join(module.code_for_node(a).rstrip(", ") for a in call.args)
    return f"{head_code}cls = {module.code_for_node(call.func)}\n{target} = cls({args})\n", target


def _fingerprint(obj):
    """What a constructor decided: the object's plain attributes and its parameters' shapes."""
    if not isinstance(obj, mindspore.nn.Cell):  # mindspore.Parameter
        return tuple(obj.shape), obj.dtype, obj.requires_grad

    def plain(v):
        scalars = (bool, int, float, str, type(None))
        return isinstance(v, scalars) or (isinstance(v, tuple) and all(isinstance(e, scalars) for e in v))

    attrs = {k: v for k, v in sorted(vars(obj).items()) if plain(v) and not k.startswith("_")}
    return attrs, {p.name: tuple(p.shape) for p in obj.get_parameters()}


def _runs_in_torch(source: str) -> bool:
    """Examples that stand alone (some use names they do not define, ``pos_weight=pw``)."""
    try:
        exec(compile(source, "<example>", "exec"), {"__name__": "example"})
    except Exception:  # noqa: BLE001
        return False
    return True


def _layer_examples():
    for qn, rule in sorted(SPEC.rules.items() if hasattr(SPEC, "rules") else SPEC.items()):
        if rule.owner is not None or not rule.target or rule.transform or not qn.rsplit(".", 1)[1][:1].isupper():
            continue
        if not qn.startswith("torch.nn.") or any(a.startswith("*") for a in rule.args or ()):
            continue
        for i, example in enumerate(rule.examples):
            if _value_use(example.before) is not None and _runs_in_torch(example.before):
                yield pytest.param(qn, example.before, id=f"{qn}-{i}")


@pytest.mark.parametrize("qn, before", list(_layer_examples()))
def test_the_run_time_mapping_builds_what_the_converted_call_builds(compat, tmp_path, monkeypatch, qn, before):
    """Every torch.nn class example of the table, called through a name (``cls = nn.C``; ``cls(...)``),
    builds the same MindSpore object as the example's converted direct call."""
    value_source, target = _value_use(before)
    direct = convert_source(before, SPEC, "direct.py")
    through = convert_source(value_source, SPEC, "through.py")
    if any(s.kind in ("uncertain", "unsupported") for s in direct.sites):
        pytest.skip("the example itself is refused")
    assert not [s for s in through.sites if s.kind in ("uncertain", "unsupported")], through.code
    assert "torch_signature(" in through.code or "cls = " in through.code
    safe = f"{qn.replace('.', '_')}_{zlib.crc32(before.encode()):x}"
    a = getattr(load_converted(direct.code, f"direct_{safe}", tmp_path, monkeypatch), target)
    b = getattr(load_converted(through.code, f"through_{safe}", tmp_path, monkeypatch), target)
    assert isinstance(b, type(a))
    assert _fingerprint(b) == _fingerprint(a)


OPTIONS_SOURCE = textwrap.dedent('''\
    import torch
    import torch.nn as nn


    class Stem(nn.Module):
        def __init__(self, c, d, flag, *shape, **options):
            super().__init__()
            self.conv = nn.Conv2d(c, d, bias=False, **options)
            self.bn = nn.BatchNorm2d(d, eps=0.001, momentum=0.2, track_running_stats=flag)
            self.ln = nn.LayerNorm(*shape)

        def forward(self, x):
            h = torch.relu(self.bn(self.conv(x)))
            return self.ln(h), self.bn.running_var


    def build(flag=True):
        return Stem(3, 4, flag, 5, kernel_size=3, padding=1)
''')


def test_calls_the_codemod_cannot_read_apply_the_mapping_where_they_run(compat, tmp_path, monkeypatch):
    """``nn.Conv2d(c, d, **options)``, ``nn.LayerNorm(*shape)`` and ``track_running_stats=flag`` were
    left for a person; through ``torch_signature`` they build torch's layers, and a refused value
    raises where the call runs."""
    code, ms_mod, _ = both_versions(OPTIONS_SOURCE, "layer_options_case", tmp_path, monkeypatch)
    assert code.count("torch_signature(") == 3, code
    _same_training_outputs(OPTIONS_SOURCE, ms_mod, (2, 3, 5, 5))
    with pytest.raises(NotImplementedError, match=r"track_running_stats=False"):
        ms_mod.build(flag=False)


def test_an_embedding_class_held_as_a_value_builds_the_padding_helper_only_with_a_padding_idx(
        compat, tmp_path, monkeypatch):
    """``emb_layer=nn.Embedding`` called later: with ``padding_idx`` the helper's Embedding (its
    padding row gets no gradient), without it MindSpore's; ``isinstance`` against the value holds
    for both, as torch's does."""
    source = textwrap.dedent('''\
        import torch.nn as nn


        def build(emb_layer=nn.Embedding):
            padded, plain = emb_layer(10, 4, padding_idx=0), emb_layer(10, 4)
            return padded, plain, [isinstance(padded, emb_layer), isinstance(plain, emb_layer),
                                   isinstance(plain, nn.Embedding), isinstance(padded, nn.Embedding)]
    ''')
    code, ms_mod, t_mod = both_versions(source, "embedding_value_case", tmp_path, monkeypatch)
    padded, plain, kinds = ms_mod.build()
    assert kinds == t_mod["build"]()[2] == [True, True, True, True]
    assert isinstance(padded, compat.Embedding) and padded.padding_idx == 0
    assert type(plain) is not compat.Embedding and plain.padding_idx is None
