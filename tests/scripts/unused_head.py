"""A classifier with parameters the loss does not always reach: an auxiliary head used only in
pre-training, a layer only some steps' branch takes, and a projection defined but never called
(common in research code). AdamW with its default weight decay and Adam with L2 decay: torch
steps only the parameters that got a gradient (``p.grad is None`` for the others), so the unused
ones keep their values and their optimizer state stays as the last step that reached them left
it."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self, n_in, hidden, n_classes):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_classes)
        self.aux_head = nn.Linear(hidden, n_in)  # reconstruction, pre-training only
        self.extra = nn.Linear(hidden, hidden)  # taken on some steps only
        self.unused_proj = nn.Linear(hidden, 3)  # never called
        self.pretraining = True

    def forward(self, x, deep=False):
        h = self.encoder(x)
        if deep:
            h = torch.relu(self.extra(h)) + h
        if self.pretraining:
            return self.aux_head(h)
        return self.head(h)


def build():
    return Classifier(6, 8, 3)


def data(rng):
    x = rng.normal(size=(48, 6)).astype(np.float32)
    return {"x": x, "y": rng.integers(0, 3, 48)}


def run(model, d, workdir):
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    log = []
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    for step in range(4):  # pre-training: reconstruct the input
        model.pretraining = True
        loss = F.mse_loss(model(x, deep=step % 2 == 0), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())
    model.pretraining = False
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
    for step in range(6):  # fine-tuning: classify
        loss = F.cross_entropy(model(x, deep=step >= 3), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())
    with torch.no_grad():
        for p in model.parameters():
            log.append(float(p.double().sum()))
    return log
