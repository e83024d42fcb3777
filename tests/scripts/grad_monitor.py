"""Training with gradient monitoring, as research code logs it: per-parameter gradient norms by
name after ``backward()`` (``p.grad is not None`` for the ones the loss reached), the total norm
``clip_grad_norm_`` returns, a parameter whose gradient is None on some steps (a branch not
taken), gradients accumulated over two batches with ``zero_grad(set_to_none=False)`` between
steps, and a BatchNorm whose running statistics are checked in eval mode."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 6)
        self.bn = nn.BatchNorm1d(6, momentum=0.2)
        self.side = nn.Linear(6, 6)
        self.out = nn.Linear(6, 2)

    def forward(self, x, use_side):
        h = F.relu(self.bn(self.fc(x)))
        if use_side:
            h = h + torch.sigmoid(self.side(h))
        return self.out(h)


def build():
    return Net()


def data(rng):
    return {"x": rng.normal(size=(32, 5)).astype(np.float32), "y": rng.integers(0, 2, 32)}


def run(model, d, workdir):
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    log = []
    for step in range(4):
        opt.zero_grad(set_to_none=False)
        for half in range(2):
            xb, yb = x[half * 16:(half + 1) * 16], y[half * 16:(half + 1) * 16]
            loss = F.cross_entropy(model(xb, use_side=step % 2 == 0), yb) / 2
            loss.backward()
            log.append(loss.item())
        norms = {n: p.grad.norm().item() for n, p in model.named_parameters() if p.grad is not None}
        log.append(norms["side.weight"] if "side.weight" in norms else -1.0)
        log.append(sum(norms.values()))
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        log.append(total.item())
        opt.step()
    model.eval()
    with torch.no_grad():
        log.append(float(model.bn.running_mean.sum()))
        log.append(float(model.bn.running_var.sum()))
        log.append(float(model(x, use_side=True).sum()))
    return log
