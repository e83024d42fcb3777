"""Gradients handled by hand, as DQN-style and evolution-strategy code does: each
``param.grad.data.clamp_(-1, 1)`` after ``backward()``, a gradient scaled in place
(``p.grad.mul_(0.5)``), the parameters flattened with ``parameters_to_vector`` and written back
with ``vector_to_parameters`` (a perturbation), ``torch.no_grad()`` as a decorator on the
evaluation, Huber loss on gathered Q-values (``gather(1, actions.unsqueeze(1))``)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters


class QNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def build():
    return QNet()


def data(rng):
    return {"s": rng.normal(size=(32, 4)).astype(np.float32), "a": rng.integers(0, 3, 32),
            "r": rng.normal(size=32).astype(np.float32), "noise": rng.normal(size=4 * 16 + 16 + 16 * 3 + 3).astype(np.float32)}


@torch.no_grad()
def evaluate(net, s):
    return net(s).max(1)[0].mean().item()


def run(model, d, workdir):
    s, a, r = torch.from_numpy(d["s"]), torch.from_numpy(d["a"]), torch.from_numpy(d["r"])
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
    log = []
    for step in range(5):
        q = model(s).gather(1, a.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(q, r * 5.0)
        opt.zero_grad()
        loss.backward()
        for param in model.parameters():
            param.grad.data.clamp_(-0.1, 0.1)
        model.fc2.bias.grad.mul_(0.5)
        opt.step()
        log += [loss.item(), evaluate(model, s)]
    vec = parameters_to_vector(model.parameters())
    log.append(float(vec.norm()))
    vector_to_parameters(vec + 0.01 * torch.from_numpy(d["noise"]), model.parameters())
    log.append(evaluate(model, s))
    return log
