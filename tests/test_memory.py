"""Memory reads and writes against a hand-written numpy version of mamo.md's formulas."""
import numpy as np
import pytest
import torch

from reference_torch.memory import Memories

K, D, P, T = 3, 6, 10, 4


@pytest.fixture
def memory():
    torch.manual_seed(0)
    return Memories(K, D, P, T, alpha=0.5, beta=0.05, gamma=0.1, eps=1e-5).double()


def np_attention(p_u, profile, eps=1e-5):
    out = []
    for p in p_u:
        cos = np.array([p @ m / (np.sqrt(p @ p + eps) * np.sqrt(m @ m + eps)) for m in profile])
        e = np.exp(cos - cos.max())
        out.append(e / e.sum())
    return np.array(out)


def test_attention_is_softmax_of_cosine(memory):
    p_u = np.random.default_rng(1).normal(size=(4, D))
    got = memory.attention(torch.from_numpy(p_u)).numpy()
    np.testing.assert_allclose(got, np_attention(p_u, memory.profile.numpy()), rtol=1e-12)
    np.testing.assert_allclose(got.sum(1), 1.0)


def test_read_mixes_slots_by_attention(memory):
    a = np.random.default_rng(2).dirichlet(np.ones(K), size=2)
    bias, weight = memory.read(torch.from_numpy(a))
    fast, task = memory.fast_grad.numpy(), memory.task.numpy()
    for u in range(2):
        np.testing.assert_allclose(bias[u].numpy(), sum(a[u, k] * fast[k] for k in range(K)), rtol=1e-12)
        np.testing.assert_allclose(weight[u].numpy(), sum(a[u, k] * task[k] for k in range(K)), rtol=1e-12)


def test_forward_personalises_each_user_net_parameter(memory):
    """forward(p_u, tao, *phis): attention, mem-layer weight, and theta_u = phi - tao * b_u with
    b_u's columns split in phi order (shapes (2, 3) and (4,) take P = 10 columns)."""
    rng = np.random.default_rng(4)
    p_u = rng.normal(size=(2, D))
    phis = [rng.normal(size=(2, 3)), rng.normal(size=(4,))]
    attention, weight, theta = memory(torch.from_numpy(p_u), 0.3, *[torch.from_numpy(v) for v in phis])
    a = np_attention(p_u, memory.profile.numpy())
    np.testing.assert_allclose(attention.numpy(), a, rtol=1e-12)
    bias = a @ memory.fast_grad.numpy()
    np.testing.assert_allclose(weight.numpy(), np.einsum("uk,kij->uij", a, memory.task.numpy()), rtol=1e-12)
    np.testing.assert_allclose(theta[0].numpy(), phis[0] - 0.3 * bias[:, :6].reshape(2, 2, 3), rtol=1e-12)
    np.testing.assert_allclose(theta[1].numpy(), phis[1] - 0.3 * bias[:, 6:], rtol=1e-12)


def test_writes_follow_the_update_rules(memory):
    rng = np.random.default_rng(3)
    a = rng.dirichlet(np.ones(K), size=1)
    p_u, g_u, w = rng.normal(size=(1, D)), rng.normal(size=(1, P)), rng.normal(size=(1, T, T))
    before = {n: getattr(memory, n).numpy().copy() for n in ("profile", "fast_grad", "task")}
    memory.write_profile(torch.from_numpy(a), torch.from_numpy(p_u))
    memory.write_fast_grad(torch.from_numpy(a), torch.from_numpy(g_u))
    memory.write_task(torch.from_numpy(a), torch.from_numpy(w))
    for k in range(K):
        np.testing.assert_allclose(memory.profile[k].numpy(), 0.5 * a[0, k] * p_u[0] + 0.5 * before["profile"][k])
        np.testing.assert_allclose(memory.fast_grad[k].numpy(), 0.05 * a[0, k] * g_u[0] + 0.95 * before["fast_grad"][k])
        np.testing.assert_allclose(memory.task[k].numpy(), 0.1 * a[0, k] * w[0] + 0.9 * before["task"][k])


def test_initialisation_scales():
    torch.manual_seed(0)
    m = Memories(3, 300, 20000, 200, 0.5, 0.05, 0.1)
    assert abs(float(m.profile.std()) - 1.0) < 0.05
    assert abs(float(m.fast_grad.std()) - 0.05) < 0.005
    assert abs(float(m.task.std()) - 1.0) < 0.05
    # slots are drawn independently
    assert not torch.allclose(m.fast_grad[0], m.fast_grad[1])
