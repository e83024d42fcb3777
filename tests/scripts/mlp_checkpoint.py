"""An MLP with BatchNorm, a DataLoader, StepLR, clipping, evaluation under no_grad and reloading
the best checkpoint."""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self, d_in, hidden, n_cls, p=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(p), nn.Linear(hidden, n_cls))
        self.bn = nn.BatchNorm1d(d_in)

    def forward(self, x):
        return self.net(self.bn(x))


def build():
    return MLP(5, 16, 3)


def data(rng):
    X = rng.standard_normal((40, 5)).astype(np.float32)
    return {"X": X, "Y": (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64)}


def evaluate(model, loader, device):
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(dim=1) == y).sum().item()
            total += y.size(0)
    return correct / total, loss_sum / total


def run(model, d, workdir, epochs=3):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ds = TensorDataset(torch.from_numpy(d["X"]), torch.from_numpy(d["Y"]))
    loader = DataLoader(ds, batch_size=8, shuffle=False)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    criterion = nn.CrossEntropyLoss()
    best, out = -1.0, []
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            running += loss.item() * x.size(0)
        scheduler.step()
        acc, val_loss = evaluate(model, loader, device)
        out += [running / len(ds), acc, val_loss, optimizer.param_groups[0]["lr"]]
        if acc > best:
            best = acc
            torch.save(model.state_dict(), os.path.join(workdir, "best.pt"))
    model.load_state_dict(torch.load(os.path.join(workdir, "best.pt")))
    return out + list(evaluate(model, loader, device))
