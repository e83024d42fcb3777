"""Deep knowledge tracing: one-hot interactions, an LSTM over packed padded sequences, the
prediction gathered for the next question, a masked BCE loss, ReduceLROnPlateau on the
validation loss and the best weights kept as cloned tensors."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class DKT(nn.Module):
    def __init__(self, n_questions, hidden):
        super().__init__()
        self.n_questions = n_questions
        self.rnn = nn.LSTM(2 * n_questions, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_questions)

    def forward(self, questions, answers, lengths):
        x = F.one_hot(questions + self.n_questions * answers, 2 * self.n_questions).float()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=questions.size(1))
        return torch.sigmoid(self.out(h))


def build():
    return DKT(5, 6)


def data(rng):
    lengths = rng.integers(3, 8, 6)
    q = np.zeros((6, 7), np.int64)
    a = np.zeros((6, 7), np.int64)
    for i, n in enumerate(lengths):
        q[i, :n] = rng.integers(0, 5, n)
        a[i, :n] = rng.integers(0, 2, n)
    return {"q": q, "a": a, "lengths": lengths}


def loss_of(model, q, a, lengths):
    pred = model(q, a, lengths)[:, :-1]
    target_q, target_a = q[:, 1:], a[:, 1:].float()
    p = torch.gather(pred, 2, target_q.unsqueeze(-1)).squeeze(-1)
    mask = torch.arange(q.size(1) - 1)[None, :] < (lengths[:, None] - 1)
    return F.binary_cross_entropy(p[mask], target_a[mask])


def run(model, d, workdir, epochs=4):
    q, a, lengths = torch.from_numpy(d["q"]), torch.from_numpy(d["a"]), torch.from_numpy(d["lengths"])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0)
    best, best_state, log = float("inf"), None, []
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = loss_of(model, q[:4], a[:4], lengths[:4])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            val = loss_of(model, q[4:], a[4:], lengths[4:]).item()
        sched.step(val)
        log += [loss.item(), val, opt.param_groups[0]["lr"]]
        if val < best:
            best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    with torch.no_grad():
        return log + [loss_of(model, q, a, lengths).item()]
