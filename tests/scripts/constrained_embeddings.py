"""Constraints applied to the weights between steps, and a hand-decayed learning rate: an
embedding with a padding row (``padding_idx``: zero, and no gradient), item vectors renormalised
to unit length after each step (``.data`` rebound), a critic clipped WGAN-style
(``p.data.clamp_``), and the learning rate halved through ``param_groups`` every other epoch."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Scorer(nn.Module):
    def __init__(self, n_items, dim):
        super().__init__()
        self.items = nn.Embedding(n_items, dim, padding_idx=0)
        self.critic = nn.Sequential(nn.Linear(dim, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, history):
        mask = (history != 0).float().unsqueeze(-1)
        pooled = (self.items(history) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.critic(pooled).squeeze(-1)


def build():
    return Scorer(9, 4)


def data(rng):
    history = rng.integers(0, 9, (12, 5))
    history[:, 3:] = 0  # padded tails
    return {"history": history, "score": rng.normal(size=12).astype(np.float32)}


def run(model, d, workdir, epochs=5):
    history, score = torch.from_numpy(d["history"]), torch.from_numpy(d["score"])
    opt = torch.optim.RMSprop(model.parameters(), lr=0.05)
    log = []
    for epoch in range(epochs):
        if epoch and epoch % 2 == 0:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        for start in (0, 6):
            opt.zero_grad()
            loss = F.mse_loss(model(history[start:start + 6]), score[start:start + 6])
            loss.backward()
            opt.step()
            with torch.no_grad():
                weight = model.items.weight
                weight.data = F.normalize(weight.data, dim=1) * (weight.data.norm(dim=1, keepdim=True) > 0)
            for p in model.critic.parameters():
                p.data.clamp_(-0.5, 0.5)
            log.append(loss.item())
    log.append(float(model.items.weight[0].abs().sum()))  # the padding row stays zero
    with torch.no_grad():
        for p in model.parameters():
            log.append(float(p.double().sum()))
    return log
