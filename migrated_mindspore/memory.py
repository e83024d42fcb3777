"""MAMO's three memories and their read and write rules (mamo.md, "Memories")."""
from __future__ import annotations
import mindspore
from ._torch_compat import assign_data, detach_of, jit_construct
from mindspore import nn, ops


class Memories(nn.Cell):
    """Profile memory M_P, fast-gradient memory M_U and task memory M_UI.

    M_U keeps each slot as one flat vector laid out like ``torch.cat`` of the user
    net's parameters (flattened in ``parameters()`` order).
    """

    def __init__(self, n_k: int, profile_dim: int, n_user_params: int, task_dim: int,
                 alpha: float, beta: float, gamma: float, eps: float = 1e-5):
        super().__init__()
        self.profile = mindspore.Parameter(ops.randn(n_k, profile_dim), requires_grad=False)
        self.fast_grad = mindspore.Parameter(ops.randn(n_k, n_user_params) * 0.05, requires_grad=False)
        self.task = mindspore.Parameter(ops.randn(n_k, task_dim, task_dim), requires_grad=False)
        self.n_k = n_k
        self.task_dim = task_dim
        self.alpha, self.beta, self.gamma, self.eps = alpha, beta, gamma, eps
        self.softmax = nn.Softmax(axis=1)

    def attention(self, p_u: mindspore.Tensor) -> mindspore.Tensor:
        """a_u = softmax_k(cos(p_u, M_P[k])) for p_u (B, D) -> (B, K)."""
        dots = ops.matmul(p_u, self.profile.swapaxes(0, 1))
        norm_u = ops.sqrt(ops.sum(ops.mul(p_u, p_u), dim=1) + self.eps)
        norm_m = ops.sqrt(ops.sum(ops.mul(self.profile, self.profile), dim=1) + self.eps)
        cosine = ops.div(dots, ops.mul(norm_u.view(-1, 1), norm_m.view(1, -1)))
        return self.softmax(cosine)

    @jit_construct
    def construct(self, p_u: mindspore.Tensor, tao: float, *user_params: mindspore.Tensor):
        """One read for users p_u (B, D): their attention a_u (B, K), mem-layer weight
        (B, 2d, 2d) and personalised user-net parameters theta_u = phi - tao * b_u, one per
        user-net parameter phi (each (B, *phi.shape); phi's block of M_U's columns each)."""
        attention = self.attention(p_u)
        mem_weight = self.read_task(attention)
        theta_u = []
        start = 0
        for phi in user_params:
            stop = start + phi.numel()
            bias = self.read_fast_grad(attention, start, stop)
            theta_u.append(detach_of(phi).unsqueeze(0) - tao * bias.view(-1, *phi.shape))
            start = stop
        return attention, mem_weight, theta_u

    def read(self, attention: mindspore.Tensor) -> tuple[mindspore.Tensor, mindspore.Tensor]:
        """b_u = sum_k a[k] M_U[k] (B, P) and the mem-layer weight sum_k a[k] M_UI[k] (B, 2d, 2d)."""
        return self.read_fast_grad(attention), self.read_task(attention)

    def read_fast_grad(self, attention: mindspore.Tensor, start: int = 0, stop: int = None) -> mindspore.Tensor:
        """Columns start:stop of b_u = sum_k a[k] M_U[k]: (B, stop - start).  A block of columns
        is one user-net parameter, so reading parameter by parameter gives each its own
        contiguous (B, numel) tensor (no strided split of one (B, P) result)."""
        return ops.matmul(attention, self.fast_grad[:, start:stop])

    def read_task(self, attention: mindspore.Tensor) -> mindspore.Tensor:
        """The mem-layer weight sum_k a[k] M_UI[k]: (B, 2d, 2d)."""
        task = ops.matmul(attention, self.task.view(self.n_k, -1))
        return task.view(-1, self.task_dim, self.task_dim)

    def write_profile(self, attention: mindspore.Tensor, p_u: mindspore.Tensor) -> None:
        """M_P <- alpha a_u p_u^T + (1 - alpha) M_P, one user: attention (1, K), p_u (1, D)."""
        assert attention.shape[0] == 1, "memory writes are per user"
        update = ops.matmul(attention.swapaxes(0, 1), p_u)
        assign_data(self.profile, self.alpha * update + (1 - self.alpha) * self.profile)

    def write_fast_grad(self, attention: mindspore.Tensor, grad_u: mindspore.Tensor) -> None:
        """M_U[k] <- beta a_u[k] g_u + (1 - beta) M_U[k], one user: grad_u (1, P)."""
        assert attention.shape[0] == 1, "memory writes are per user"
        update = ops.matmul(attention.swapaxes(0, 1), grad_u)
        assign_data(self.fast_grad, self.beta * update + (1 - self.beta) * self.fast_grad)

    def write_task(self, attention: mindspore.Tensor, mem_weight: mindspore.Tensor) -> None:
        """M_UI[k] <- gamma a_u[k] W_mem + (1 - gamma) M_UI[k], one user: mem_weight (1, 2d, 2d)."""
        assert attention.shape[0] == 1, "memory writes are per user"
        update = ops.matmul(attention.swapaxes(0, 1), mem_weight.view(1, -1)).view(self.task.shape)
        assign_data(self.task, self.gamma * update + (1 - self.gamma) * self.task)
