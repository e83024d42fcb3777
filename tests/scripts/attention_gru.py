"""A GRU with attention pooling over padded sequences: a Dataset of dicts, a collate function
padding them, AdamW with parameter groups (no decay on biases) and gradient accumulation."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class SeqData(Dataset):
    def __init__(self, seqs, labels):
        self.seqs, self.labels = seqs, labels

    def __len__(self):
        return len(self.seqs)

    def __getitem__(self, i):
        return {"ids": torch.tensor(self.seqs[i], dtype=torch.long), "label": self.labels[i]}


def collate(batch):
    lengths = torch.tensor([len(b["ids"]) for b in batch])
    ids = nn.utils.rnn.pad_sequence([b["ids"] for b in batch], batch_first=True, padding_value=0)
    return ids, lengths, torch.tensor([b["label"] for b in batch])


class Attn(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=0)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.query = nn.Parameter(torch.randn(dim) * 0.1)
        self.out = nn.Linear(dim, 2)

    def forward(self, ids, lengths):
        h, _ = self.rnn(self.emb(ids))
        scores = torch.matmul(h, self.query)
        mask = torch.arange(ids.size(1))[None, :] >= lengths[:, None]
        alpha = F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        return self.out(torch.bmm(alpha.unsqueeze(1), h).squeeze(1))


def build():
    return Attn(20, 6)


def data(rng):
    seqs = [[int(t) for t in rng.integers(1, 20, rng.integers(2, 7))] for _ in range(16)]
    return {"seqs": seqs, "labels": [int(s[0] > 10) for s in seqs]}


def run(model, d, workdir, accum=2):
    no_decay = ["bias"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=5e-3)
    loader = DataLoader(SeqData(d["seqs"], d["labels"]), batch_size=4, collate_fn=collate)
    losses = []
    opt.zero_grad()
    for step, (ids, lengths, y) in enumerate(loader):
        loss = F.cross_entropy(model(ids, lengths), y) / accum
        loss.backward()
        if (step + 1) % accum == 0:
            opt.step()
            opt.zero_grad()
        losses.append(loss.item())
    return losses + [float(p.detach().sum()) for p in model.parameters()]
