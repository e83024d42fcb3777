"""Weight-decay groups chosen by parameter name, as BERT-style fine-tuning writes them:
``no_decay = ["bias", "LayerNorm.weight", "norm.weight"]`` over ``named_parameters()``, biases
and normalisation weights without decay, embeddings listed by name in a third group with their
own learning rate; a LayerNorm, a BatchNorm1d and an Embedding, whose parameters MindSpore names
``gamma``/``beta`` and ``embedding_table``."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embeddings = nn.Embedding(vocab, dim)
        self.LayerNorm = nn.LayerNorm(dim)
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.BatchNorm1d(dim)
        self.classifier = nn.Linear(dim, 2)

    def forward(self, ids):
        h = self.LayerNorm(self.embeddings(ids).mean(1))
        h = self.norm(F.gelu(self.dense(h)))
        return self.classifier(h)


def build():
    return Encoder(20, 8)


def data(rng):
    return {"ids": rng.integers(0, 20, (16, 5)), "y": rng.integers(0, 2, 16)}


def run(model, d, workdir):
    ids, y = torch.from_numpy(d["ids"]), torch.from_numpy(d["y"])
    no_decay = ["bias", "LayerNorm.weight", "norm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(nd in n for nd in no_decay) and "embeddings" not in n], "weight_decay": 0.5},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
        {"params": [p for n, p in model.named_parameters() if "embeddings" in n], "weight_decay": 0.1, "lr": 0.05},
    ]
    opt = torch.optim.AdamW(groups, lr=0.02)
    log = [len(g["params"]) for g in groups]
    model.train()
    for step in range(6):
        loss = F.cross_entropy(model(ids), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())
    with torch.no_grad():
        for n, p in model.named_parameters():
            log.append(float(p.double().pow(2).sum()))
    return log
