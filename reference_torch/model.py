"""The MAMO networks: input loading, user/item embedding nets and the rating model.

``MAMO`` holds the global parameters phi. ``LocalLearner`` holds one copy of every
parameter per user along a leading user axis, so that many users can be adapted
at once (they are independent during evaluation) and one at a time in training.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

ACTIVATIONS = {
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "relu": lambda: nn.ReLU(),
    "tanh": lambda: nn.Tanh(),
    "sigmoid": lambda: nn.Sigmoid(),
}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown active_func {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class FeaturesEmbedding(nn.Module):
    """One embedding table per categorical field, stored as one table with row offsets."""

    def __init__(self, field_dims: tuple[int, ...], embedding_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(int(sum(field_dims)), embedding_dim)
        offsets = np.concatenate([[0], np.cumsum(field_dims)[:-1]]).astype(np.int64)
        self.register_buffer("offsets", torch.from_numpy(offsets))

    def table(self) -> torch.Tensor:
        return self.embedding.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., n_fields) indices -> (..., n_fields * embedding_dim)."""
        emb = self.embedding(x + self.offsets)
        return emb.view(*x.shape[:-1], -1)


class ItemLoading(nn.Module):
    """Item input: categorical embeddings, then sigmoid(Linear(multi-hot)) per multi-hot field."""

    def __init__(self, field_dims: tuple[int, ...], multihot_dims: tuple[int, ...], embedding_dim: int):
        super().__init__()
        self.categorical = FeaturesEmbedding(field_dims, embedding_dim)
        self.multihot = nn.ModuleList([nn.Linear(width, embedding_dim, bias=False) for width in multihot_dims])
        self.multihot_dims = tuple(multihot_dims)
        self.sigmoid = nn.Sigmoid()

    def forward(self, item_x: torch.Tensor, item_multi: torch.Tensor) -> torch.Tensor:
        parts = [self.categorical(item_x)]
        start = 0
        for width, layer in zip(self.multihot_dims, self.multihot):
            parts.append(self.sigmoid(layer(item_multi[..., start:start + width])))
            start += width
        return torch.cat(parts, dim=-1)


def mlp(in_dim: int, hidden: int, out_dim: int, active_func: str) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden), make_activation(active_func),
        nn.Linear(hidden, out_dim), make_activation(active_func),
    )


class MAMO(nn.Module):
    """Global parameters phi of the rating model (mamo.md, "Model")."""

    def __init__(self, user_vocab, item_vocab, item_multihot, n_classes: int,
                 embedding_dim: int = 100, active_func: str = "leaky_relu"):
        super().__init__()
        d = embedding_dim
        self.embedding_dim = d
        self.n_classes = n_classes
        self.user_loading = FeaturesEmbedding(tuple(user_vocab), d)
        self.item_loading = ItemLoading(tuple(item_vocab), tuple(item_multihot), d)
        user_in = len(user_vocab) * d
        item_in = (len(item_vocab) + len(item_multihot)) * d
        self.user_net = mlp(user_in, int(1.5 * d), d, active_func)
        self.item_net = mlp(item_in, 2 * d, d, active_func)
        self.mem_layer = nn.Linear(2 * d, 2 * d)
        self.rec_net = nn.Sequential(nn.Linear(2 * d, d), make_activation(active_func), nn.Linear(d, n_classes))
        self.active_func = active_func
        self.profile_dim = user_in

    def embed_user(self, user_x: torch.Tensor) -> torch.Tensor:
        """p_u: concatenated user feature embeddings."""
        return self.user_loading(user_x)

    def user_net_parameters(self) -> list[torch.Tensor]:
        return list(self.user_net.parameters())

    def forward(self, user_x: torch.Tensor, item_x: torch.Tensor, item_multi: torch.Tensor) -> torch.Tensor:
        """Logits at phi for n (user, item) pairs: user_x (n, U), item_x (n, I), item_multi (n, W)."""
        e_u = self.user_net(self.embed_user(user_x))
        e_i = self.item_net(self.item_loading(item_x, item_multi))
        return self.rec_net(self.mem_layer(torch.cat([e_u, e_i], dim=-1)))


def active_columns(item_multi: np.ndarray, field_dims: tuple[int, ...]) -> np.ndarray:
    """Sorted multi-hot columns set in any row of item_multi (..., W), plus each field's
    first column, so that every field keeps at least one column."""
    touched = item_multi.reshape(-1, item_multi.shape[-1]).max(axis=0) > 0
    touched[np.cumsum((0,) + tuple(field_dims))[:-1]] = True
    return np.flatnonzero(touched)


def batched_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x (B, n, in), weight (B, out, in), bias (B, out) -> (B, n, out)."""
    return torch.matmul(x, weight.transpose(1, 2)) + bias.unsqueeze(1)


class LocalLearner(nn.Module):
    """Per-user copies of all of MAMO's parameters, along a leading user axis.

    Parameters are registered in the order of ``MAMO.parameters()``, so gradients map
    back one to one. The multi-hot weights are kept concatenated, and only for the
    ``active`` columns (the features some of these users' items have): the other
    columns get no gradient, so Adam leaves them exactly at phi and they need no copy.
    """

    def __init__(self, model: MAMO, theta_u: list[torch.Tensor], mem_weight: torch.Tensor,
                 active: np.ndarray = None):
        super().__init__()
        n_users = mem_weight.shape[0]
        self.n_users = n_users
        self.embedding_dim = model.embedding_dim
        self.multihot_dims = model.item_loading.multihot_dims
        self.active_dims = ()
        self.user_offsets = model.user_loading.offsets
        self.item_offsets = model.item_loading.categorical.offsets

        def per_user(t: torch.Tensor) -> nn.Parameter:
            return nn.Parameter(t.detach().unsqueeze(0).repeat(n_users, *([1] * t.dim())))

        self.user_table = per_user(model.user_loading.table())
        self.item_table = per_user(model.item_loading.categorical.table())
        if self.multihot_dims:
            if active is None:
                active = np.arange(sum(self.multihot_dims))
            edges = np.cumsum((0,) + self.multihot_dims)
            self.active = torch.from_numpy(active.astype(np.int64))
            self.active_dims = tuple(int(n) for n in np.diff(np.searchsorted(active, edges)))
            multi = torch.cat([layer.weight for layer in model.item_loading.multihot], dim=1)
            self.item_multi = per_user(torch.index_select(multi, 1, self.active))
        self.user_w1 = nn.Parameter(theta_u[0].detach())
        self.user_b1 = nn.Parameter(theta_u[1].detach())
        self.user_w2 = nn.Parameter(theta_u[2].detach())
        self.user_b2 = nn.Parameter(theta_u[3].detach())
        self.item_w1 = per_user(model.item_net[0].weight)
        self.item_b1 = per_user(model.item_net[0].bias)
        self.item_w2 = per_user(model.item_net[2].weight)
        self.item_b2 = per_user(model.item_net[2].bias)
        self.mem_w = nn.Parameter(mem_weight.detach())
        self.mem_b = per_user(model.mem_layer.bias)
        self.rec_w1 = per_user(model.rec_net[0].weight)
        self.rec_b1 = per_user(model.rec_net[0].bias)
        self.rec_w2 = per_user(model.rec_net[2].weight)
        self.rec_b2 = per_user(model.rec_net[2].bias)
        self.act = make_activation(model.active_func)
        self.sigmoid = nn.Sigmoid()

    def user_net_parameters(self) -> list[torch.Tensor]:
        return [self.user_w1, self.user_b1, self.user_w2, self.user_b2]

    def lookup(self, table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Per-user embedding lookup: table (B, V, d), idx (B, m) -> (B, m, d)."""
        rows = torch.arange(idx.shape[0], device=idx.device).unsqueeze(1)
        return table[rows, idx]

    def forward(self, user_x: torch.Tensor, item_x: torch.Tensor, item_multi: torch.Tensor) -> torch.Tensor:
        """user_x (B, U), item_x (B, n, I), item_multi (B, n, W) -> logits (B, n, C)."""
        n_users, n_items = item_x.shape[0], item_x.shape[1]
        p_u = self.lookup(self.user_table, user_x + self.user_offsets).view(n_users, 1, -1)
        h_u = self.act(batched_linear(p_u, self.user_w1, self.user_b1))
        e_u = self.act(batched_linear(h_u, self.user_w2, self.user_b2))
        flat_items = (item_x + self.item_offsets).view(n_users, -1)
        parts = [self.lookup(self.item_table, flat_items).view(n_users, n_items, -1)]
        if self.multihot_dims:
            item_multi = torch.index_select(item_multi, 2, self.active)
        start = 0
        for width in self.active_dims:
            weight = self.item_multi[:, :, start:start + width]
            parts.append(self.sigmoid(torch.matmul(item_multi[:, :, start:start + width], weight.transpose(1, 2))))
            start += width
        p_i = torch.cat(parts, dim=-1)
        h_i = self.act(batched_linear(p_i, self.item_w1, self.item_b1))
        e_i = self.act(batched_linear(h_i, self.item_w2, self.item_b2))
        x = torch.cat([e_u.repeat(1, n_items, 1), e_i], dim=-1)
        x = batched_linear(x, self.mem_w, self.mem_b)
        x = self.act(batched_linear(x, self.rec_w1, self.rec_b1))
        return batched_linear(x, self.rec_w2, self.rec_b2)

    def global_gradients(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        """Sum per-user gradients over users and lay them out like ``MAMO.parameters()``.

        The learner's mem-layer weight is read from the task memory, not from phi, so the
        gradient of phi's ``mem_layer.weight`` is zero (that weight is never used)."""
        summed = [g.sum(dim=0) for g in grads]
        mem = len(summed) - 6
        summed[mem] = torch.zeros_like(summed[mem])
        if not self.multihot_dims:
            return summed
        full = torch.zeros(summed[2].shape[0], sum(self.multihot_dims), dtype=summed[2].dtype, device=summed[2].device)
        full[:, self.active] = summed[2]
        multi = torch.split(full, list(self.multihot_dims), dim=1)
        return summed[:2] + list(multi) + summed[3:]
