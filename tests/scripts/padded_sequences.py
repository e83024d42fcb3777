"""Variable-length token sequences: ``pad_sequence`` with a padding value, an embedding with
``padding_idx`` (its row gets no gradient and stays as built), a bidirectional LSTM whose last
forward and backward states are concatenated (``torch.cat([h[-2], h[-1]], dim=1)``), a masked mean
over the non-padding positions, ``F.cross_entropy`` with class weights and ``ignore_index``, and
a focal loss written as a module (``gather`` of the log-probabilities, ``(1 - p) ** gamma``)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence


class FocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        logp = F.log_softmax(logits, dim=-1).gather(1, target.unsqueeze(1)).squeeze(1)
        return (-(1 - logp.exp()) ** self.gamma * logp).mean()


class Tagger(nn.Module):
    def __init__(self, vocab, dim, n_classes):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=0)
        self.rnn = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.out = nn.Linear(3 * dim, n_classes)

    def forward(self, tokens):
        mask = (tokens != 0).float()
        x = self.emb(tokens)
        _, (h, _) = self.rnn(x)
        last = torch.cat([h[-2], h[-1]], dim=1)
        mean = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return self.out(torch.cat([last, mean], dim=1))


def build():
    return Tagger(12, 6, 3)


def data(rng):
    lengths = rng.integers(2, 7, 10)
    return {"seqs": [rng.integers(1, 12, n) for n in lengths], "y": rng.integers(0, 3, 10)}


def run(model, d, workdir):
    tokens = pad_sequence([torch.from_numpy(s) for s in d["seqs"]], batch_first=True, padding_value=0)
    y = torch.from_numpy(d["y"])
    y_ignored = y.clone()
    y_ignored[0] = -100
    focal = FocalLoss(gamma=2.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    log = []
    for step in range(6):
        logits = model(tokens)
        loss = F.cross_entropy(logits, y_ignored, weight=torch.tensor([1.0, 2.0, 0.5]), ignore_index=-100) \
            + focal(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())
    with torch.no_grad():
        log.append(float(model.emb.weight[0].abs().sum()))  # the padding row: never trained
        pred = model(tokens).argmax(dim=1)
        log.append((pred == y).float().mean().item())
    return log
