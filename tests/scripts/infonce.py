"""A SimCLR-style contrastive loss: two views through one encoder, ``F.normalize``, a similarity
matrix ``z @ z.T / tau`` whose diagonal is masked in place (``sim.masked_fill_(mask, -9e15)`` on
the new matrix), positives found by ``torch.arange(n).roll(...)``, cross-entropy over the rows;
top-1 accuracy of the positives."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8))

    def forward(self, x):
        return self.net(x)


def build():
    return Encoder()


def data(rng):
    x = rng.normal(size=(12, 6)).astype(np.float32)
    return {"a": x + 0.1 * rng.normal(size=x.shape).astype(np.float32),
            "b": x + 0.1 * rng.normal(size=x.shape).astype(np.float32)}


def info_nce(z1, z2, tau=0.5):
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    n = z1.shape[0]
    sim = z @ z.T / tau
    mask = torch.eye(2 * n, dtype=torch.bool)
    sim.masked_fill_(mask, -9e15)
    targets = torch.arange(2 * n).roll(n)
    return F.cross_entropy(sim, targets), (sim.argmax(dim=1) == targets).float().mean()


def run(model, d, workdir):
    a, b = torch.from_numpy(d["a"]), torch.from_numpy(d["b"])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    log = []
    for step in range(8):
        loss, acc = info_nce(model(a), model(b))
        opt.zero_grad()
        loss.backward()
        opt.step()
        log += [loss.item(), acc.item()]
    return log
