"""Staged fine-tuning: the encoder frozen (``requires_grad = False``) for the first epochs while
the head trains, then unfrozen with a lower learning rate for it (a second parameter group);
tied input/output embeddings; Adam with weight decay. torch gives a frozen parameter no gradient,
so its optimizer leaves it (and its state) alone until it is unfrozen."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TiedLM(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.encoder = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, dim))
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def build():
    return TiedLM(11, 6)


def data(rng):
    return {"tokens": rng.integers(0, 11, (16, 4)), "target": rng.integers(0, 11, 16)}


def run(model, d, workdir, epochs=6):
    tokens, target = torch.from_numpy(d["tokens"]), torch.from_numpy(d["target"])
    encoder_params = list(model.encoder.parameters())
    others = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    opt = torch.optim.Adam([{"params": others}, {"params": encoder_params, "lr": 0.003}], lr=0.02,
                           weight_decay=1e-4)
    log = []
    for epoch in range(epochs):
        frozen = epoch < 3
        for p in encoder_params:
            p.requires_grad = not frozen
        for start in (0, 8):
            opt.zero_grad()
            loss = F.cross_entropy(model(tokens[start:start + 8]), target[start:start + 8])
            loss.backward()
            opt.step()
            log.append(loss.item())
    with torch.no_grad():
        for p in model.parameters():
            log.append(float(p.double().sum()))
    return log
