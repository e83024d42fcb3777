"""Mean-teacher training: an EMA copy of the student (``copy.deepcopy``) updated in place after
every step (``ema_p.data.mul_(d).add_(p.data, alpha=1 - d)``), a consistency loss against the
teacher's softened outputs under ``no_grad``, OneCycleLR stepped per batch and the learning rate
read back from ``param_groups`` for the log."""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.GELU())
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.out(self.body(x))


def build():
    return Net(5, 12, 4)


def data(rng):
    return {"x": rng.normal(size=(60, 5)).astype(np.float32), "y": rng.integers(0, 4, 60),
            "u": rng.normal(size=(60, 5)).astype(np.float32)}


def update_ema(teacher, student, decay):
    with torch.no_grad():
        for ema_p, p in zip(teacher.parameters(), student.parameters()):
            ema_p.data.mul_(decay).add_(p.data, alpha=1 - decay)


def run(model, d, workdir):
    x, y, u = torch.from_numpy(d["x"]), torch.from_numpy(d["y"]), torch.from_numpy(d["u"])
    teacher = copy.deepcopy(model)
    for p in teacher.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.2, total_steps=12)
    log = []
    for step in range(12):
        xb, yb, ub = x[step % 3 * 20:(step % 3 + 1) * 20], y[step % 3 * 20:(step % 3 + 1) * 20], u[step % 3 * 20:(step % 3 + 1) * 20]
        logits = model(xb)
        with torch.no_grad():
            target = F.softmax(teacher(ub) / 2.0, dim=-1)
        consistency = F.kl_div(F.log_softmax(model(ub) / 2.0, dim=-1), target, reduction="batchmean")
        loss = F.cross_entropy(logits, yb) + 0.5 * consistency
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        update_ema(teacher, model, 0.9)
        log += [loss.item(), optimizer.param_groups[0]["lr"]]
    with torch.no_grad():
        log.append(float(teacher(x).sum()))
        log.append(float(F.cross_entropy(model(x), y)))
    return log
