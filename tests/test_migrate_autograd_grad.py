"""``g = torch.autograd.grad(loss, inputs)`` -> a closure over the statements computing ``loss``
and ``_torch_compat.grad_of``: checked against torch on a small network (loss, kept values,
gradients, the adapted weights), and the cases it must refuse."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")

from test_migrate_numeric import load_converted, twin_models  # noqa: E402  (needs torch and mindspore)

SPEC = load_spec()

SOURCE = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


    def adapt(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float):
        pred = model(x)
        loss = F.mse_loss(pred, y)
        grads = torch.autograd.grad(loss, model.parameters(), retain_graph=True)
        fast = [p - lr * g for p, g in zip(model.parameters(), grads)]
        pred2 = model(x * 2)
        loss2 = F.mse_loss(pred2, y)
        grads2 = torch.autograd.grad(loss2, list(model.parameters()))
        return loss, pred, grads, fast, loss2, grads2


    def on_tensors(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        weights = [p * 1.0 for p in model.parameters()]
        loss = F.mse_loss(model(x), y)
        grads = torch.autograd.grad(loss, weights)
        return grads
    """)


def test_autograd_grad_matches_torch(compat, tmp_path, monkeypatch):
    out = convert_source(SOURCE, SPEC, "adapt.py")
    adapt = out.code[out.code.index("def adapt"):out.code.index("def on_tensors")]
    assert adapt.count("grad_of(") == 2 and "torch" not in adapt, adapt
    ms_mod = load_converted(out.code, "autograd_grad_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(SOURCE, ms_mod)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = rng.standard_normal((5, 1)).astype(np.float32)
    want = t_mod["adapt"](t_model, torch.from_numpy(x), torch.from_numpy(y), 0.1)
    got = ms_mod.adapt(ms_model, mindspore.Tensor(x), mindspore.Tensor(y), 0.1)

    def flat(value):
        if isinstance(value, (list, tuple)):
            return [a for v in value for a in flat(v)]
        return [value.detach().numpy() if isinstance(value, torch.Tensor) else value.asnumpy()]

    got_arrays, want_arrays = flat(got), flat(want)
    assert len(got_arrays) == len(want_arrays) == 1 + 1 + 4 + 4 + 1 + 4  # loss, pred, grads, fast, loss2, grads2
    for g, w in zip(got_arrays, want_arrays):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_inputs_that_are_not_parameters_raise_instead_of_zeros(compat, tmp_path, monkeypatch):
    out = convert_source(SOURCE, SPEC, "adapt.py")
    ms_mod = load_converted(out.code, "autograd_grad_tensors_ms", tmp_path, monkeypatch)
    x = mindspore.Tensor(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="not Parameters"):
        ms_mod.on_tensors(ms_mod.build(), x, mindspore.Tensor(np.ones((2, 1), np.float32)))


@pytest.mark.parametrize("call, why", [
    ("torch.autograd.grad(loss, w, create_graph=True)", "create_graph=True"),
    ("torch.autograd.grad(loss, w, allow_unused=True)", "allow_unused=True"),
    ("torch.autograd.grad(loss, w, grad_outputs=v)", "grad_outputs"),
    ("torch.autograd.grad(loss * 2, w)", "the loss must be a name"),
])
def test_forms_it_cannot_rewrite_are_unsupported(call, why):
    code = f"import torch\n\ndef f(x: torch.Tensor, w, v):\n    loss = (x * x).sum()\n    g = {call}\n    return g\n"
    out = convert_source(code, SPEC, "m.py")
    flagged = [s for s in out.sites if s.rule == "torch.autograd.grad"]
    assert [s.kind for s in flagged] == ["unsupported"] and why in flagged[0].reason, flagged
