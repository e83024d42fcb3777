"""The MAMO networks: input loading, user/item embedding nets and the rating model.

``MAMO`` holds the global parameters phi. ``LocalLearner`` holds one copy of every
parameter per user along a leading user axis, so that many users can be adapted
at once (they are independent during evaluation) and one at a time in training.
"""
from __future__ import annotations

import numpy as np
import mindspore
from ._torch_compat import CrossEntropyLoss, LeakyReLU, ModuleList, Tanh, arange, assign_data, jit_construct, module_parameters
from mindspore import nn, ops
from mindspore.common.initializer import Normal

ACTIVATIONS = {
    "leaky_relu": lambda: LeakyReLU(0.1),
    "relu": lambda: nn.ReLU(),
    "tanh": lambda: Tanh(),
    "sigmoid": lambda: nn.Sigmoid(),
}


def make_activation(name: str) -> nn.Cell:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown active_func {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class FeaturesEmbedding(nn.Cell):
    """One embedding table per categorical field, stored as one table with row offsets."""

    def __init__(self, field_dims: tuple[int, ...], embedding_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(int(sum(field_dims)), embedding_dim, embedding_table=Normal(1.0))
        offsets = np.concatenate([[0], np.cumsum(field_dims)[:-1]]).astype(np.int64)
        self.offsets = mindspore.Parameter(mindspore.Tensor.from_numpy(offsets), requires_grad=False)

    def table(self) -> mindspore.Tensor:
        return self.embedding.embedding_table

    @jit_construct
    def construct(self, x: mindspore.Tensor) -> mindspore.Tensor:
        """x: (..., n_fields) indices -> (..., n_fields * embedding_dim)."""
        emb = self.embedding(x + self.offsets)
        return emb.view(*x.shape[:-1], -1)


class ItemLoading(nn.Cell):
    """Item input: categorical embeddings, then sigmoid(Linear(multi-hot)) per multi-hot field."""

    def __init__(self, field_dims: tuple[int, ...], multihot_dims: tuple[int, ...], embedding_dim: int):
        super().__init__()
        self.categorical = FeaturesEmbedding(field_dims, embedding_dim)
        self.multihot = ModuleList([nn.Dense(width, embedding_dim, has_bias=False) for width in multihot_dims])
        self.multihot_dims = tuple(multihot_dims)
        self.sigmoid = nn.Sigmoid()

    @jit_construct
    def construct(self, item_x: mindspore.Tensor, item_multi: mindspore.Tensor) -> mindspore.Tensor:
        parts = [self.categorical(item_x)]
        start = 0
        for width, layer in zip(self.multihot_dims, self.multihot):
            parts.append(self.sigmoid(layer(item_multi[..., start:start + width])))
            start += width
        return ops.cat(parts, axis=-1)


def mlp(in_dim: int, hidden: int, out_dim: int, active_func: str) -> nn.SequentialCell:
    return nn.SequentialCell(
        nn.Dense(in_dim, hidden), make_activation(active_func),
        nn.Dense(hidden, out_dim), make_activation(active_func),
    )


class MAMO(nn.Cell):
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
        self.mem_layer = nn.Dense(2 * d, 2 * d)
        self.rec_net = nn.SequentialCell(nn.Dense(2 * d, d), make_activation(active_func), nn.Dense(d, n_classes))
        self.active_func = active_func
        self.profile_dim = user_in

    def embed_user(self, user_x: mindspore.Tensor) -> mindspore.Tensor:
        """p_u: concatenated user feature embeddings."""
        return self.user_loading(user_x)

    def user_net_parameters(self) -> list[mindspore.Tensor]:
        return list(module_parameters(self.user_net))

    @jit_construct
    def construct(self, user_x: mindspore.Tensor, item_x: mindspore.Tensor, item_multi: mindspore.Tensor) -> mindspore.Tensor:
        """Logits at phi for n (user, item) pairs: user_x (n, U), item_x (n, I), item_multi (n, W)."""
        e_u = self.user_net(self.embed_user(user_x))
        e_i = self.item_net(self.item_loading(item_x, item_multi))
        return self.rec_net(self.mem_layer(ops.cat([e_u, e_i], axis=-1)))


def active_slots(active: list, field_dims: tuple[int, ...]) -> tuple[int, ...]:
    """Column slots per multi-hot field enough for every user's ``active`` columns (a list of
    sorted index arrays), each rounded up by active_capacity."""
    edges = np.cumsum((0,) + tuple(field_dims))
    counts = np.max([np.diff(np.searchsorted(user, edges)) for user in active], axis=0)
    return tuple(active_capacity(n, w) for n, w in zip(counts, field_dims))


def active_capacity(n_columns: int, width: int) -> int:
    """Column slots for ``n_columns`` active columns: the next power of two (at most
    ``width``), so that passes over different users mostly share one learner shape."""
    return min(width, 1 << max(int(n_columns) - 1, 0).bit_length())


def active_columns(item_multi: np.ndarray, field_dims: tuple[int, ...]) -> np.ndarray:
    """Sorted multi-hot columns set in any row of item_multi (..., W), plus each field's
    first column, so that every field keeps at least one column."""
    touched = item_multi.reshape(-1, item_multi.shape[-1]).max(axis=0) > 0
    touched[np.cumsum((0,) + tuple(field_dims))[:-1]] = True
    return np.flatnonzero(touched)


class UserCrossEntropy(nn.Cell):
    """Cross-entropy averaged within each user: logits (B, n, C), labels (B, n) -> (B,)."""

    def __init__(self):
        super().__init__()
        self.criterion = CrossEntropyLoss(reduction="none")

    @jit_construct
    def construct(self, logits: mindspore.Tensor, labels: mindspore.Tensor) -> mindspore.Tensor:
        per_pair = self.criterion(logits.view(-1, logits.shape[-1]), labels.reshape(-1))
        return per_pair.view(labels.shape[0], -1).mean(dim=1)


def batched_linear(x: mindspore.Tensor, weight: mindspore.Tensor, bias: mindspore.Tensor) -> mindspore.Tensor:
    """x (B, n, in), weight (B, out, in), bias (B, out) -> (B, n, out)."""
    return ops.BatchMatMul(transpose_b=True)(x, weight) + bias.unsqueeze(1)


class LocalLearner(nn.Cell):
    """Per-user copies of all of MAMO's parameters, along a leading user axis.

    Parameters are registered in the order of ``MAMO.parameters()``, so gradients map
    back one to one. The multi-hot weights are kept concatenated, and for each user only
    for the ``active`` columns (the features that user's items have): the other columns
    get no gradient, so Adam leaves them exactly at phi and they need no copy.

    A learner is built once per shape (number of users, column ``slots`` per multi-hot
    field and user) and ``reset`` for every batch of users: the shapes never change, so
    a graph compiler compiles its step once. Spare column slots are masked out.
    """

    def __init__(self, model: MAMO, n_users: int, slots: tuple[int, ...] = ()):
        super().__init__()
        self.n_users = n_users
        self.embedding_dim = model.embedding_dim
        self.multihot_dims = model.item_loading.multihot_dims
        self.n_fields = len(self.multihot_dims)
        self.slots = tuple(int(n) for n in slots) if self.n_fields else ()
        if self.n_fields and (len(self.slots) != self.n_fields
                              or any(n < 1 or n > w for n, w in zip(self.slots, self.multihot_dims))):
            raise ValueError(f"column slots {slots} for multi-hot fields of widths {self.multihot_dims}")
        self.columns = self.used = None  # (n_users, n_slots) column of each slot, slot in use
        self.user_offsets = model.user_loading.offsets
        self.item_offsets = model.item_loading.categorical.offsets
        self.user_table = mindspore.Parameter(self.per_user(model.user_loading.table()))
        self.item_table = mindspore.Parameter(self.per_user(model.item_loading.categorical.table()))
        if self.n_fields:
            n_slots = sum(self.slots)
            self.active = mindspore.Parameter(ops.zeros((n_users, n_slots), dtype=mindspore.int64), requires_grad=False)
            self.slot_mask = mindspore.Parameter(ops.zeros((n_users, 1, n_slots), dtype=self.user_table.dtype), requires_grad=False)
            multi = ops.cat([layer.weight for layer in model.item_loading.multihot], axis=1)
            self.item_multi = mindspore.Parameter(self.per_user(multi[:, :n_slots]))
        self.user_w1 = mindspore.Parameter(self.per_user(model.user_net[0].weight))
        self.user_b1 = mindspore.Parameter(self.per_user(model.user_net[0].bias))
        self.user_w2 = mindspore.Parameter(self.per_user(model.user_net[2].weight))
        self.user_b2 = mindspore.Parameter(self.per_user(model.user_net[2].bias))
        self.item_w1 = mindspore.Parameter(self.per_user(model.item_net[0].weight))
        self.item_b1 = mindspore.Parameter(self.per_user(model.item_net[0].bias))
        self.item_w2 = mindspore.Parameter(self.per_user(model.item_net[2].weight))
        self.item_b2 = mindspore.Parameter(self.per_user(model.item_net[2].bias))
        self.mem_w = mindspore.Parameter(self.per_user(model.mem_layer.weight))
        self.mem_b = mindspore.Parameter(self.per_user(model.mem_layer.bias))
        self.rec_w1 = mindspore.Parameter(self.per_user(model.rec_net[0].weight))
        self.rec_b1 = mindspore.Parameter(self.per_user(model.rec_net[0].bias))
        self.rec_w2 = mindspore.Parameter(self.per_user(model.rec_net[2].weight))
        self.rec_b2 = mindspore.Parameter(self.per_user(model.rec_net[2].bias))
        self.act = make_activation(model.active_func)
        self.sigmoid = nn.Sigmoid()

    def per_user(self, t: mindspore.Tensor) -> mindspore.Tensor:
        """One copy of t per user: (n_users, *t.shape)."""
        return ops.stop_gradient(t).unsqueeze(0).tile((self.n_users, *([1] * t.dim())))

    def reset(self, model: MAMO, theta_u: list[mindspore.Tensor], mem_weight: mindspore.Tensor,
              active: np.ndarray = None) -> None:
        """Start a new batch of users: every parameter at phi, except the user net (theta_u,
        per user) and the mem-layer weight (mem_weight, per user, read from the task memory);
        ``active`` lists the multi-hot columns the users' items touch (all when None)."""
        assign_data(self.user_table, self.per_user(model.user_loading.table()))
        assign_data(self.item_table, self.per_user(model.item_loading.categorical.table()))
        if self.n_fields:
            self.set_active(model, active)
        assign_data(self.user_w1, theta_u[0])
        assign_data(self.user_b1, theta_u[1])
        assign_data(self.user_w2, theta_u[2])
        assign_data(self.user_b2, theta_u[3])
        assign_data(self.item_w1, self.per_user(model.item_net[0].weight))
        assign_data(self.item_b1, self.per_user(model.item_net[0].bias))
        assign_data(self.item_w2, self.per_user(model.item_net[2].weight))
        assign_data(self.item_b2, self.per_user(model.item_net[2].bias))
        assign_data(self.mem_w, mem_weight)
        assign_data(self.mem_b, self.per_user(model.mem_layer.bias))
        assign_data(self.rec_w1, self.per_user(model.rec_net[0].weight))
        assign_data(self.rec_b1, self.per_user(model.rec_net[0].bias))
        assign_data(self.rec_w2, self.per_user(model.rec_net[2].weight))
        assign_data(self.rec_b2, self.per_user(model.rec_net[2].bias))

    def set_active(self, model: MAMO, active: list = None) -> None:
        """Fill each user's column slots, field by field, with ``active[u]`` (that user's sorted
        indices into the concatenated multi-hot columns; all columns when None); spare slots
        repeat the field's first column and are masked out (zero input, so no gradient)."""
        edges = np.cumsum((0,) + self.multihot_dims)
        if active is None:
            active = [np.arange(edges[-1])] * self.n_users
        if len(active) != self.n_users:
            raise ValueError(f"active columns for {len(active)} users, the learner has {self.n_users}")
        columns, used = [], []
        for user in active:
            user_columns, user_used = [], []
            for field, width in enumerate(self.slots):
                cols = user[(user >= edges[field]) & (user < edges[field + 1])]
                if len(cols) > width:
                    raise ValueError(f"{len(cols)} active columns in multi-hot field {field}, {width} slots")
                user_columns.append(np.concatenate([cols, np.full(width - len(cols), edges[field])]))
                user_used.append(np.arange(width) < len(cols))
            columns.append(np.concatenate(user_columns))
            used.append(np.concatenate(user_used))
        self.columns, self.used = np.stack(columns).astype(np.int64), np.stack(used)
        assign_data(self.active, mindspore.Tensor.from_numpy(self.columns))
        assign_data(self.slot_mask, mindspore.Tensor(self.used[:, None, :], dtype=self.slot_mask.dtype))
        multi = ops.cat([layer.weight for layer in model.item_loading.multihot], axis=1)
        gathered = ops.index_select(multi, 1, self.active.view(-1)).view(multi.shape[0], self.n_users, -1)
        assign_data(self.item_multi, gathered.permute(1, 0, 2))

    def user_net_parameters(self) -> list[mindspore.Tensor]:
        return [self.user_w1, self.user_b1, self.user_w2, self.user_b2]

    def lookup(self, table: mindspore.Tensor, idx: mindspore.Tensor) -> mindspore.Tensor:
        """Per-user embedding lookup: table (B, V, d), idx (B, m) -> (B, m, d)."""
        rows = arange(idx.shape[0]).unsqueeze(1)
        return table[rows, idx]

    @jit_construct
    def construct(self, user_x: mindspore.Tensor, item_x: mindspore.Tensor, item_multi: mindspore.Tensor) -> mindspore.Tensor:
        """user_x (B, U), item_x (B, n, I), item_multi (B, n, W) -> logits (B, n, C)."""
        n_users, n_items = item_x.shape[0], item_x.shape[1]
        p_u = self.lookup(self.user_table, user_x + self.user_offsets).view(n_users, 1, -1)
        h_u = self.act(batched_linear(p_u, self.user_w1, self.user_b1))
        e_u = self.act(batched_linear(h_u, self.user_w2, self.user_b2))
        flat_items = (item_x + self.item_offsets).view(n_users, -1)
        parts = [self.lookup(self.item_table, flat_items).view(n_users, n_items, -1)]
        if self.n_fields:
            index = self.active.unsqueeze(1).tile((1, n_items, 1))
            chosen = ops.gather_elements(item_multi, 2, index) * self.slot_mask
            start = 0
            for width in self.slots:
                weight = self.item_multi[:, :, start:start + width]
                parts.append(self.sigmoid(ops.BatchMatMul(transpose_b=True)(chosen[:, :, start:start + width], weight)))
                start += width
        p_i = ops.cat(parts, axis=-1)
        h_i = self.act(batched_linear(p_i, self.item_w1, self.item_b1))
        e_i = self.act(batched_linear(h_i, self.item_w2, self.item_b2))
        x = ops.cat([e_u.tile((1, n_items, 1)), e_i], axis=-1)
        x = batched_linear(x, self.mem_w, self.mem_b)
        x = self.act(batched_linear(x, self.rec_w1, self.rec_b1))
        return batched_linear(x, self.rec_w2, self.rec_b2)

    def global_gradients(self, grads: list[mindspore.Tensor], columns: np.ndarray = None,
                         used: np.ndarray = None) -> list[mindspore.Tensor]:
        """Sum per-user gradients over users and lay them out like ``MAMO.parameters()``.

        ``grads`` may stack users of several batches along the leading axis; ``columns`` and
        ``used`` then give each of those users' column slots (default: this learner's own,
        as set by the last ``reset``).  The learner's mem-layer weight is read from the task
        memory, not from phi, so the gradient of phi's ``mem_layer.weight`` is zero (that
        weight is never used)."""
        summed = [g.sum(dim=0) for g in grads]
        mem = len(summed) - 6
        summed[mem] = ops.zeros_like(summed[mem])
        if not self.n_fields:
            return summed
        columns = self.columns if columns is None else columns
        used = self.used if used is None else used
        # each user's slots back to every column: a product with a one-hot (slot -> column)
        # matrix is exact (one term per column; spare slots map nowhere) and needs no scatter
        onehot = np.zeros(columns.shape + (sum(self.multihot_dims),))
        users, slots = np.nonzero(used)
        onehot[users, slots, columns[users, slots]] = 1.0
        full = ops.matmul(grads[2], mindspore.Tensor(onehot, dtype=grads[2].dtype)).sum(dim=0)
        multi = ops.split(full, list(self.multihot_dims), axis=1)
        return summed[:2] + list(multi) + summed[3:]
