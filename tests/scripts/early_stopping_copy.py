"""Early stopping that keeps the best model as a deep copy (``copy.deepcopy(model)``), evaluates
the copy, trains on, and at the end restores the original from the copy's ``state_dict``; a
multi-task loss weighted by learned log-variances (``nn.Parameter`` on the model); and the
task head chosen by name from an ``nn.ModuleDict``."""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiTask(nn.Module):
    def __init__(self, n_in, hidden):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU())
        self.heads = nn.ModuleDict({"rating": nn.Linear(hidden, 1), "click": nn.Linear(hidden, 1)})
        self.log_vars = nn.Parameter(torch.zeros(2))

    def forward(self, x, task):
        return self.heads[task](self.shared(x)).squeeze(-1)


def build():
    return MultiTask(5, 8)


def data(rng):
    x = rng.normal(size=(40, 5)).astype(np.float32)
    return {"x": x, "rating": (x @ rng.normal(size=5)).astype(np.float32),
            "click": (rng.uniform(size=40) < 0.4).astype(np.float32)}


def loss_of(model, x, rating, click):
    l_rating = F.mse_loss(model(x, "rating"), rating)
    l_click = F.binary_cross_entropy_with_logits(model(x, "click"), click)
    precision = torch.exp(-model.log_vars)
    return precision[0] * l_rating + model.log_vars[0] + precision[1] * l_click + model.log_vars[1]


def run(model, d, workdir, epochs=8):
    x, rating, click = (torch.from_numpy(d[k]) for k in ("x", "rating", "click"))
    train, val = slice(0, 30), slice(30, 40)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    best_loss, best_model, log = float("inf"), None, []
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        loss = loss_of(model, x[train], rating[train], click[train])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_of(model, x[val], rating[val], click[val]).item()
        if val_loss < best_loss:
            best_loss, best_model = val_loss, copy.deepcopy(model)
        log += [loss.item(), val_loss]
    with torch.no_grad():
        log.append(loss_of(best_model, x, rating, click).item())  # the copy computes as it was copied
        log.append(loss_of(model, x, rating, click).item())
        model.load_state_dict(best_model.state_dict())
        log.append(loss_of(model, x, rating, click).item())
        log.append(float(model.log_vars.sum()))
    return log
