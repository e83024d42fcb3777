"""Multi-gate mixture of experts: ModuleLists of experts, gates and towers, model.apply(init),
RMSprop, a weighted sum of task losses and clip_grad_value_."""
import numpy as np
import torch
import torch.nn as nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0.01)


class MMoE(nn.Module):
    def __init__(self, d_in, n_experts, d_exp, n_tasks):
        super().__init__()
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(d_in, d_exp), nn.ReLU()) for _ in range(n_experts)])
        self.gates = nn.ModuleList([nn.Linear(d_in, n_experts) for _ in range(n_tasks)])
        self.towers = nn.ModuleList([nn.Linear(d_exp, 1) for _ in range(n_tasks)])

    def forward(self, x):
        expert_out = torch.stack([e(x) for e in self.experts], dim=1)
        outs = []
        for gate, tower in zip(self.gates, self.towers):
            w = torch.softmax(gate(x), dim=-1).unsqueeze(-1)
            outs.append(torch.sigmoid(tower((w * expert_out).sum(dim=1))).squeeze(-1))
        return outs


def build():
    model = MMoE(4, 3, 4, 2)
    model.apply(init_weights)
    return model


def data(rng):
    return {"X": rng.standard_normal((8, 4)).astype(np.float32),
            "Ys": [rng.integers(0, 2, 8).astype(np.float32) for _ in range(2)]}


def run(model, d, workdir, steps=6):
    X, Ys = torch.from_numpy(d["X"]), [torch.from_numpy(y) for y in d["Ys"]]
    opt = torch.optim.RMSprop(model.parameters(), lr=0.01)
    bce = nn.BCELoss()
    task_w = [1.0, 0.5]
    log = []
    for _ in range(steps):
        opt.zero_grad()
        loss = sum(w * bce(o, y) for w, o, y in zip(task_w, model(X), Ys))
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.5)
        opt.step()
        log.append(loss.item())
    return log
