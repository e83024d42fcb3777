"""The training step as a function of its own (``train_step(model, batch, optimizer, criterion)``
returning ``loss.item()``), called from an epoch loop over a DataLoader of a TensorDataset;
Adagrad with weight decay; dropout switched off by ``model.eval()`` for validation; the best
validation loss kept with its epoch."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 10), nn.Softplus(), nn.Dropout(0.0), nn.Linear(10, 1))

    def forward(self, x):
        return self.net(x).view(-1)


def build():
    return Regressor(4)


def data(rng):
    x = rng.normal(size=(64, 4)).astype(np.float32)
    return {"x": x, "y": (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) + 0.1).astype(np.float32)}


def train_step(model, batch, optimizer, criterion):
    model.train()
    x, y = batch
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def evaluate(model, x, y, criterion):
    model.eval()
    with torch.no_grad():
        return criterion(model(x), y).item()


def run(model, d, workdir):
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    loader = DataLoader(TensorDataset(x[:48], y[:48]), batch_size=16, shuffle=False)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.1, weight_decay=1e-4)
    criterion = nn.SmoothL1Loss()
    log, best = [], (float("inf"), -1)
    for epoch in range(4):
        losses = [train_step(model, batch, optimizer, criterion) for batch in loader]
        val = evaluate(model, x[48:], y[48:], criterion)
        if val < best[0]:
            best = (val, epoch)
        log += losses + [val]
    return log + list(best)
