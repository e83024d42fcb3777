"""Truncated back-propagation through time, as word-level language models train: one long
sequence cut into chunks, the LSTM's (h, c) carried from chunk to chunk and detached
(``repackage_hidden``), an embedding tied to nothing, clipping by norm, SGD with a learning rate
divided by 4 when validation stalls, and perplexity."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RNNModel(nn.Module):
    def __init__(self, vocab, dim, hidden):
        super().__init__()
        self.encoder = nn.Embedding(vocab, dim)
        self.rnn = nn.LSTM(dim, hidden, num_layers=2)
        self.decoder = nn.Linear(hidden, vocab)
        self.nhid = hidden

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.encoder(tokens), hidden)
        return self.decoder(output), hidden

    def init_hidden(self, batch):
        weight = next(self.parameters())
        return (weight.new_zeros(2, batch, self.nhid), weight.new_zeros(2, batch, self.nhid))


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def build():
    return RNNModel(13, 6, 7)


def data(rng):
    return {"train": rng.integers(0, 13, (24, 3)), "valid": rng.integers(0, 13, (9, 3))}


def evaluate(model, source, bptt):
    model.eval()
    total, hidden = 0.0, model.init_hidden(source.size(1))
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            seq_len = min(bptt, source.size(0) - 1 - i)
            output, hidden = model(source[i:i + seq_len], hidden)
            total += seq_len * F.cross_entropy(output.view(-1, 13), source[i + 1:i + 1 + seq_len].reshape(-1)).item()
    return total / (source.size(0) - 1)


def run(model, d, workdir, epochs=3, bptt=5):
    train, valid = torch.from_numpy(d["train"]), torch.from_numpy(d["valid"])
    lr, best, log = 1.0, None, []
    for epoch in range(epochs):
        model.train()
        hidden = model.init_hidden(train.size(1))
        for i in range(0, train.size(0) - 1, bptt):
            seq_len = min(bptt, train.size(0) - 1 - i)
            inputs, targets = train[i:i + seq_len], train[i + 1:i + 1 + seq_len].reshape(-1)
            hidden = repackage_hidden(hidden)
            model.zero_grad()
            output, hidden = model(inputs, hidden)
            loss = F.cross_entropy(output.view(-1, 13), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            log.append(loss.item())
        val_loss = evaluate(model, valid, bptt)
        log += [val_loss, math.exp(val_loss)]
        if best is None or val_loss < best:
            best = val_loss
        else:
            lr /= 4.0
    return log
