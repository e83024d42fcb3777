"""A GRUCell unrolled over time steps with the loss accumulated from 0, a regulariser added on a
condition through a method of the trainer, and an autoencoder whose encode/decode methods are
called on an unannotated model (both were taken for data before the training step: no gradient)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRUCell(3, 4)
        self.out = nn.Linear(4, 2)
        self.enc = nn.Linear(3, 2)
        self.dec = nn.Linear(2, 3)

    def forward(self, x, h):
        h = self.rnn(x, h)
        return self.out(h), h

    def encode(self, x):
        return torch.tanh(self.enc(x))

    def decode(self, z):
        return self.dec(z)


class Trainer:
    def __init__(self, model: Net, reg: float):
        self.model = model
        # the recurrent part only: a parameter the loss never uses keeps torch's grad None, which
        # torch's Adam skips, where MindSpore differentiates it to zeros (see the README)
        self.params = list(model.rnn.parameters()) + list(model.out.parameters())
        self.opt = torch.optim.Adam(self.params, lr=0.01)
        self.reg = reg

    def l2(self):
        return sum((p ** 2).sum() for p in self.params)

    def step(self, xs, ys, epoch):
        self.opt.zero_grad()
        h = torch.zeros(xs.size(1), 4)
        loss = 0
        for t in range(xs.size(0)):
            logits, h = self.model(xs[t], h)
            loss += F.cross_entropy(logits, ys[t])
        loss = loss / xs.size(0)
        if epoch > 0:
            loss = loss + self.reg * self.l2()
        loss.backward()
        self.opt.step()
        return loss.item()


def reconstruct(model, opt, batches):
    out = []
    for x in batches:
        opt.zero_grad()
        x = x.float().view(-1, 3)
        z = model.encode(x)
        loss = ((model.decode(z) - x) ** 2).mean()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def build():
    return Net()


def data(rng):
    return {"xs": rng.standard_normal((5, 3, 3)).astype(np.float32), "ys": rng.integers(0, 2, (5, 3)),
            "ae": [rng.standard_normal((4, 3)) for _ in range(3)]}


def run(model, d, workdir):
    tr = Trainer(model, 1e-3)
    xs, ys = torch.from_numpy(d["xs"]), torch.from_numpy(d["ys"])
    log = [tr.step(xs, ys, e) for e in range(4)]
    opt = torch.optim.SGD(list(model.enc.parameters()) + list(model.dec.parameters()), lr=0.5)
    return log + reconstruct(model, opt, [torch.from_numpy(x) for x in d["ae"]])
