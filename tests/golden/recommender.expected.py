"""A small PyTorch recommender: the kind of research code the tool targets."""

import numpy as np
import mindspore
from _torch_compat import Adam, LeakyReLU, accumulate_grad, arange, clip_grad_norm_, compiled_value_and_grad, jit_construct, module_parameters, optimizer_parameters, save_checkpoint, zero_grad_of
from mindspore import nn, ops
from mindspore.common.initializer import Normal

DEVICE = "cuda" if False else "cpu"


class Ratings:
    def __init__(self, users, items, labels):
        self.users = users
        self.items = items
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.users[i], self.items[i], self.labels[i]


class Recommender(nn.Cell):
    """Embeddings + an MLP scoring head."""

    def __init__(self, n_users, n_items, dim=8, hidden=16):
        super().__init__()
        self.user_emb = nn.Embedding(n_users, dim, embedding_table=Normal(1.0))
        self.item_emb = nn.Embedding(n_items, dim, embedding_table=Normal(1.0))
        self.mlp = nn.SequentialCell(
            nn.Dense(2 * dim, hidden),
            LeakyReLU(),
            nn.Dropout(p=0.1),
            nn.Dense(hidden, 5),
        )
        self.norm = nn.LayerNorm((2 * dim,), epsilon=1e-05)
        self.bias = mindspore.Parameter(ops.zeros((5,)), requires_grad=False)
        self.set_train(True)  # a torch Module starts in training mode

    @jit_construct
    def construct(self, users, items):
        u = self.user_emb(users)
        v = self.item_emb(items)
        h = ops.cat([u, v], axis=-1)
        h = self.norm(h)
        logits = self.mlp(h) + self.bias
        return logits

    def score(self, users: mindspore.Tensor, items: mindspore.Tensor) -> mindspore.Tensor:
        probs = ops.softmax(self.construct(users, items), axis=-1)
        stars = arange(1, 6, dtype=mindspore.float32)
        return (probs * stars).sum(dim=-1)


def evaluate(model: Recommender, users, items, labels):
    model.set_train(False)
    logits = model(users, items)
    loss = ops.cross_entropy(logits, labels)
    pred = ops.argmax(logits, dim=1)
    acc = (pred == labels).float().mean().item()
    return loss.item(), acc


def train_step(model: Recommender, opt, users, items, labels):
    model.set_train()
    zero_grad_of(opt)
    def _loss_fn(model, users, items, labels):
        loss = ops.cross_entropy(model(users, items), labels)
        return loss
    loss, _loss_grads = compiled_value_and_grad(_loss_fn, optimizer_parameters(opt))(model, users, items, labels)
    accumulate_grad(optimizer_parameters(opt), _loss_grads)
    clip_grad_norm_(module_parameters(model), 1.0)
    opt.step()
    return loss.item()


def main(seed=0):
    mindspore.set_seed(seed)
    rng = np.random.default_rng(seed)
    users = mindspore.Tensor.from_numpy(rng.integers(0, 10, 32))
    items = mindspore.Tensor.from_numpy(rng.integers(0, 20, 32))
    labels = mindspore.Tensor.from_numpy(rng.integers(0, 5, 32))
    model = Recommender(10, 20)
    opt = Adam(module_parameters(model), lr=1e-3)
    for _ in range(3):
        train_step(model, opt, users, items, labels)
    save_checkpoint(model.parameters_dict(), "recommender.pt")
    return evaluate(model, users, items, labels)
