"""A Transformer-encoder classifier: a sinusoidal positional-encoding buffer filled by slices, a
key padding mask, masked mean pooling, F.normalize, AdamW with a LambdaLR warm-up, label
smoothing, then softmax / torch.where / einsum statistics."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=50):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        return x + self.pe[:, :x.size(1)]


class Classifier(nn.Module):
    def __init__(self, vocab, d_model=8, nhead=2, layers=1, n_cls=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, d_model, padding_idx=0)
        self.pos = PositionalEncoding(d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers)
        self.head = nn.Linear(d_model, n_cls)

    def forward(self, ids):
        pad = ids == 0
        h = self.encoder(self.pos(self.emb(ids) * math.sqrt(self.emb.embedding_dim)), src_key_padding_mask=pad)
        h = h.masked_fill(pad.unsqueeze(-1), 0.0)
        pooled = h.sum(1) / (~pad).sum(1, keepdim=True).clamp(min=1)
        return self.head(F.normalize(pooled, dim=-1))


def build():
    return Classifier(20)


def data(rng):
    ids = rng.integers(1, 20, (10, 6))
    ids[:, 4:][rng.random((10, 2)) < 0.5] = 0
    return {"ids": ids, "labels": rng.integers(0, 3, 10)}


def run(model, d, workdir, epochs=3, warmup=2):
    ids, labels = torch.from_numpy(d["ids"]), torch.from_numpy(d["labels"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
    loader = DataLoader(TensorDataset(ids, labels), batch_size=4, shuffle=False, drop_last=True)
    crit = nn.CrossEntropyLoss(label_smoothing=0.05)
    log = []
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            log.append(loss.item())
        model.eval()
        with torch.no_grad():
            probs = torch.softmax(model(ids), dim=-1)
            conf = torch.where(probs.max(-1).values > 0.4, torch.ones_like(labels), torch.zeros_like(labels))
            log += [float(conf.float().mean()), float(torch.einsum("bc,bc->b", probs, probs).mean())]
    return log
