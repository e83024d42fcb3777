"""torch.distributions' Normal, Categorical, Bernoulli and kl_divergence, converted with the real
table onto the helper's classes: densities, entropies and divergences against torch's, draws by
their statistics (MindSpore's random stream is not torch's)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from migrate.codemod import convert_source
from migrate.spec import load_spec

SPEC = load_spec()
torch = pytest.importorskip("torch")
mindspore = pytest.importorskip("mindspore")
pytestmark = pytest.mark.usefixtures("compat")

VAE = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    from torch.distributions import Normal, kl_divergence


    class Encoder(nn.Module):
        \"\"\"A VAE's encoder and its KL term, through torch.distributions.\"\"\"

        def __init__(self):
            super().__init__()
            self.mu = nn.Linear(6, 3)
            self.log_var = nn.Linear(6, 3)

        def forward(self, x):
            q = Normal(self.mu(x), torch.exp(0.5 * self.log_var(x)))
            z = q.rsample()
            kl = kl_divergence(q, Normal(0.0, 1.0)).sum()
            return z, kl, q.log_prob(torch.zeros_like(z)).sum(), q.entropy().sum()


    def build():
        return Encoder()
    """)


def test_a_vae_encoder_keeps_torchs_densities_divergence_and_gradients(tmp_path, monkeypatch):
    from test_migrate_numeric import load_converted, twin_models

    out = convert_source(VAE, SPEC, "vae.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "from _torch_compat import Normal, kl_divergence" in out.code and "@jit_construct" not in out.code
    assert any("Encoder.construct stays in PyNative" in s.reason for s in out.sites if s.kind == "pynative")
    ms_mod = load_converted(out.code, "vae_ms", tmp_path, monkeypatch)
    t_mod, t_model, ms_model = twin_models(VAE, ms_mod)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    t_z, t_kl, t_logp, t_ent = t_model(torch.from_numpy(x))
    z, kl, logp, ent = ms_model(mindspore.Tensor(x))
    assert z.shape == tuple(t_z.shape)
    for got, want in ((kl, t_kl), (logp, t_logp), (ent, t_ent)):
        np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    t_kl.backward()

    def kl_only(inputs):
        return ms_model(inputs)[1]

    grads = mindspore.grad(kl_only, None, ms_model.trainable_params())(mindspore.Tensor(x))
    t_grads = dict(t_model.named_parameters())
    for p, g in zip(ms_model.trainable_params(), grads):
        np.testing.assert_allclose(g.asnumpy(), t_grads[p.name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=p.name)


def test_rsample_carries_gradients_to_both_parameters(compat):
    rng = np.random.default_rng(1)
    loc, scale = rng.standard_normal(4).astype(np.float32), (rng.random(4) + 0.5).astype(np.float32)
    g_loc, g_scale = mindspore.grad(lambda m, s: compat.Normal(m, s).rsample((200,)).sum(), (0, 1))(
        mindspore.Tensor(loc), mindspore.Tensor(scale))
    np.testing.assert_allclose(g_loc.asnumpy(), 200.0)
    assert np.abs(g_scale.asnumpy()).max() > 1.0  # the sum of 200 standard normal draws per element
    draws = compat.Normal(mindspore.Tensor(loc), mindspore.Tensor(scale)).sample((20000,)).asnumpy()
    np.testing.assert_allclose(draws.mean(0), loc, atol=0.05)
    np.testing.assert_allclose(draws.std(0), scale, rtol=0.05)


def test_categorical_and_bernoulli_as_torchs(compat):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((3, 5)).astype(np.float32)
    probs = rng.random((3, 5)).astype(np.float32)
    actions = rng.integers(0, 5, 3)
    pairs = [(torch.distributions.Categorical(logits=torch.from_numpy(logits)),
              compat.Categorical(logits=mindspore.Tensor(logits))),
             (torch.distributions.Categorical(probs=torch.from_numpy(probs)),
              compat.Categorical(probs=mindspore.Tensor(probs)))]
    for t_dist, m_dist in pairs:
        np.testing.assert_allclose(m_dist.log_prob(mindspore.Tensor(actions)).asnumpy(),
                                   t_dist.log_prob(torch.from_numpy(actions)).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m_dist.entropy().asnumpy(), t_dist.entropy().numpy(), rtol=1e-5)
    np.testing.assert_allclose(compat.kl_divergence(pairs[0][1], pairs[1][1]).asnumpy(),
                               torch.distributions.kl_divergence(pairs[0][0], pairs[1][0]).numpy(), rtol=1e-5)
    drawn = pairs[1][1].sample((6000,)).asnumpy()
    assert drawn.shape == (6000, 3) and drawn.dtype == np.int64
    frequencies = np.stack([np.bincount(drawn[:, i], minlength=5) / 6000 for i in range(3)])
    np.testing.assert_allclose(frequencies, probs / probs.sum(-1, keepdims=True), atol=0.03)

    p = rng.random((3, 4)).astype(np.float32)
    values = (rng.random((3, 4)) < 0.5).astype(np.float32)
    t_b, m_b = torch.distributions.Bernoulli(probs=torch.from_numpy(p)), compat.Bernoulli(probs=mindspore.Tensor(p))
    t_l, m_l = (torch.distributions.Bernoulli(logits=torch.from_numpy(logits[:, :4])),
                compat.Bernoulli(logits=mindspore.Tensor(logits[:, :4])))
    np.testing.assert_allclose(m_b.log_prob(mindspore.Tensor(values)).asnumpy(),
                               t_b.log_prob(torch.from_numpy(values)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m_l.entropy().asnumpy(), t_l.entropy().numpy(), rtol=1e-5)
    np.testing.assert_allclose(compat.kl_divergence(m_b, m_l).asnumpy(),
                               torch.distributions.kl_divergence(t_b, t_l).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m_b.sample((8000,)).asnumpy().mean(0), p, atol=0.03)
    with pytest.raises(NotImplementedError):
        compat.kl_divergence(m_b, pairs[0][1])


def test_the_implementation_modules_names_convert_as_the_packages():
    src = textwrap.dedent("""\
        from torch.distributions.normal import Normal
        from torch.distributions.kl import kl_divergence
        from torch.distributions.categorical import Categorical


        def f(mu, sd, logits):
            return kl_divergence(Normal(mu, sd), Normal(0.0, 1.0)), Categorical(logits=logits).entropy()
        """)
    out = convert_source(src, SPEC, "names.py")
    assert not [s for s in out.sites if s.kind in ("uncertain", "unsupported")], out.code
    assert "from _torch_compat import Categorical, Normal, kl_divergence" in out.code, out.code
    assert {s.rule for s in out.sites} >= {"torch.distributions.Normal", "torch.distributions.kl_divergence",
                                            "torch.distributions.Categorical"}
