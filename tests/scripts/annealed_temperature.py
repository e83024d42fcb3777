"""Attributes a training loop changes on the model between steps: a softmax temperature annealed
every epoch (as in Gumbel-softmax and distillation code), a flag that switches a branch on
half-way through, and a step counter the forward never reads. torch reads them at every call; a
graph compiled for the first values must not keep them."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.temperature = 1.0

    def forward(self, x):
        scores = self.query(x) @ x.transpose(1, 2) / self.temperature
        return F.softmax(scores, dim=-1) @ x


class Model(nn.Module):
    def __init__(self, dim, n_classes):
        super().__init__()
        self.attention = Attention(dim)
        self.residual = False
        self.out = nn.Linear(dim, n_classes)
        self.seen_steps = 0

    def forward(self, x):
        h = self.attention(x)
        if self.residual:
            h = h + x
        return self.out(h.mean(dim=1))


def build():
    return Model(4, 3)


def data(rng):
    return {"x": rng.normal(size=(10, 5, 4)).astype(np.float32), "y": rng.integers(0, 3, 10)}


def run(model, d, workdir, epochs=6):
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    log = []
    for epoch in range(epochs):
        model.attention.temperature = max(0.25, 2.0 * 0.7 ** epoch)
        model.residual = epoch >= epochs // 2
        for start in (0, 5):
            opt.zero_grad()
            loss = F.cross_entropy(model(x[start:start + 5]), y[start:start + 5])
            loss.backward()
            opt.step()
            model.seen_steps += 1
            log.append(loss.item())
        with torch.no_grad():
            log.append(F.cross_entropy(model(x), y).item())
    return log
