"""MAMO's three memories and their read and write rules (mamo.md, "Memories")."""
from __future__ import annotations

import torch
import torch.nn as nn


class Memories(nn.Module):
    """Profile memory M_P, fast-gradient memory M_U and task memory M_UI.

    M_U keeps each slot as one flat vector laid out like ``torch.cat`` of the user
    net's parameters (flattened in ``parameters()`` order).
    """

    def __init__(self, n_k: int, profile_dim: int, n_user_params: int, task_dim: int,
                 alpha: float, beta: float, gamma: float, eps: float = 1e-5):
        super().__init__()
        self.register_buffer("profile", torch.randn(n_k, profile_dim))
        self.register_buffer("fast_grad", torch.randn(n_k, n_user_params) * 0.05)
        self.register_buffer("task", torch.randn(n_k, task_dim, task_dim))
        self.n_k = n_k
        self.task_dim = task_dim
        self.alpha, self.beta, self.gamma, self.eps = alpha, beta, gamma, eps
        self.softmax = nn.Softmax(dim=1)

    def attention(self, p_u: torch.Tensor) -> torch.Tensor:
        """a_u = softmax_k(cos(p_u, M_P[k])) for p_u (B, D) -> (B, K)."""
        dots = torch.mm(p_u, self.profile.transpose(0, 1))
        norm_u = torch.sqrt(torch.sum(torch.mul(p_u, p_u), dim=1) + self.eps)
        norm_m = torch.sqrt(torch.sum(torch.mul(self.profile, self.profile), dim=1) + self.eps)
        cosine = torch.div(dots, torch.mul(norm_u.view(-1, 1), norm_m.view(1, -1)))
        return self.softmax(cosine)

    def forward(self, p_u: torch.Tensor, tao: float, *user_params: torch.Tensor):
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
            theta_u.append(phi.detach().unsqueeze(0) - tao * bias.view(-1, *phi.shape))
            start = stop
        return attention, mem_weight, theta_u

    def read(self, attention: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """b_u = sum_k a[k] M_U[k] (B, P) and the mem-layer weight sum_k a[k] M_UI[k] (B, 2d, 2d)."""
        return self.read_fast_grad(attention), self.read_task(attention)

    def read_fast_grad(self, attention: torch.Tensor, start: int = 0, stop: int = None) -> torch.Tensor:
        """Columns start:stop of b_u = sum_k a[k] M_U[k]: (B, stop - start).  A block of columns
        is one user-net parameter, so reading parameter by parameter gives each its own
        contiguous (B, numel) tensor (no strided split of one (B, P) result)."""
        return torch.mm(attention, self.fast_grad[:, start:stop])

    def read_task(self, attention: torch.Tensor) -> torch.Tensor:
        """The mem-layer weight sum_k a[k] M_UI[k]: (B, 2d, 2d)."""
        task = torch.mm(attention, self.task.view(self.n_k, -1))
        return task.view(-1, self.task_dim, self.task_dim)

    def write_profile(self, attention: torch.Tensor, p_u: torch.Tensor) -> None:
        """M_P <- alpha a_u p_u^T + (1 - alpha) M_P, one user: attention (1, K), p_u (1, D)."""
        assert attention.shape[0] == 1, "memory writes are per user"
        update = torch.mm(attention.transpose(0, 1), p_u)
        self.profile.data.copy_(self.alpha * update + (1 - self.alpha) * self.profile)

    def write_fast_grad(self, attention: torch.Tensor, grad_u: torch.Tensor) -> None:
        """M_U[k] <- beta a_u[k] g_u + (1 - beta) M_U[k], one user: grad_u (1, P)."""
        assert attention.shape[0] == 1, "memory writes are per user"
        update = torch.mm(attention.transpose(0, 1), grad_u)
        self.fast_grad.data.copy_(self.beta * update + (1 - self.beta) * self.fast_grad)

    def write_task(self, attention: torch.Tensor, mem_weight: torch.Tensor) -> None:
        """M_UI[k] <- gamma a_u[k] W_mem + (1 - gamma) M_UI[k], one user: mem_weight (1, 2d, 2d)."""
        assert attention.shape[0] == 1, "memory writes are per user"
        update = torch.mm(attention.transpose(0, 1), mem_weight.view(1, -1)).view(self.task.shape)
        self.task.data.copy_(self.gamma * update + (1 - self.gamma) * self.task)
