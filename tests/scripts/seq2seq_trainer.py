"""An LSTM encoder-decoder with teacher forcing (outputs written into a preallocated tensor), a
Trainer class holding the model in self.model, clipping and early stopping."""
import numpy as np
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, vocab, emb, hid):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hid, batch_first=True)

    def forward(self, src):
        _, (hidden, cell) = self.rnn(self.embedding(src))
        return hidden, cell


class Decoder(nn.Module):
    def __init__(self, vocab, emb, hid):
        super().__init__()
        self.vocab = vocab
        self.embedding = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hid, batch_first=True)
        self.fc_out = nn.Linear(hid, vocab)

    def forward(self, inp, hidden, cell):
        output, (hidden, cell) = self.rnn(self.embedding(inp.unsqueeze(1)), (hidden, cell))
        return self.fc_out(output.squeeze(1)), hidden, cell


class Seq2Seq(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, src, trg, teacher=True):
        batch_size, trg_len = trg.shape
        outputs = torch.zeros(batch_size, trg_len, self.decoder.vocab)
        hidden, cell = self.encoder(src)
        inp = trg[:, 0]
        for t in range(1, trg_len):
            out, hidden, cell = self.decoder(inp, hidden, cell)
            outputs[:, t] = out
            inp = trg[:, t] if teacher else out.argmax(1)
        return outputs


class Trainer:
    def __init__(self, model, lr=0.01, clip=1.0, patience=2):
        self.model = model
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.criterion = nn.CrossEntropyLoss(ignore_index=0)
        self.clip, self.patience, self.best, self.bad = clip, patience, float("inf"), 0

    def train_epoch(self, batches):
        self.model.train()
        epoch_loss = 0
        for src, trg in batches:
            self.optimizer.zero_grad()
            output = self.model(src, trg)
            output_dim = output.shape[-1]
            output = output[:, 1:].reshape(-1, output_dim)
            trg = trg[:, 1:].reshape(-1)
            loss = self.criterion(output, trg)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.optimizer.step()
            epoch_loss += loss.item()
        return epoch_loss / len(batches)

    def evaluate(self, batches):
        self.model.eval()
        total = 0
        with torch.no_grad():
            for src, trg in batches:
                output = self.model(src, trg, teacher=False)
                total += self.criterion(output[:, 1:].reshape(-1, output.shape[-1]), trg[:, 1:].reshape(-1)).item()
        return total / len(batches)

    def fit(self, train, valid, epochs):
        history = []
        for _ in range(epochs):
            history += [self.train_epoch(train), self.evaluate(valid)]
            if history[-1] < self.best:
                self.best, self.bad = history[-1], 0
            else:
                self.bad += 1
                if self.bad >= self.patience:
                    break
        return history


def build():
    return Seq2Seq(Encoder(12, 5, 7), Decoder(12, 5, 7))


def data(rng):
    pairs = []
    for _ in range(6):
        src = rng.integers(1, 12, (3, 5))
        pairs.append((src, np.concatenate([np.ones((3, 1), np.int64), src[:, ::-1][:, :4]], 1)))
    return {"pairs": pairs}


def run(model, d, workdir):
    batches = [(torch.from_numpy(s), torch.from_numpy(t)) for s, t in d["pairs"]]
    return Trainer(model).fit(batches[:4], batches[4:], 4)
