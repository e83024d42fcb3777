"""NCF (GMF + MLP towers) with BCEWithLogitsLoss, legacy LongTensor/FloatTensor batches, the
module's own zero_grad(), and hit@k / NDCG@k through topk and take."""
import numpy as np
import torch
import torch.nn as nn


class NCF(nn.Module):
    def __init__(self, n_users, n_items, dim, layers=(16, 8)):
        super().__init__()
        self.gmf_u = nn.Embedding(n_users, dim)
        self.gmf_i = nn.Embedding(n_items, dim)
        self.mlp_u = nn.Embedding(n_users, dim)
        self.mlp_i = nn.Embedding(n_items, dim)
        mods, d = [], 2 * dim
        for h in layers:
            mods += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.mlp = nn.Sequential(*mods)
        self.predict = nn.Linear(dim + d, 1)

    def forward(self, user, item):
        gmf = self.gmf_u(user) * self.gmf_i(item)
        mlp = self.mlp(torch.cat([self.mlp_u(user), self.mlp_i(item)], dim=-1))
        return self.predict(torch.cat((gmf, mlp), -1)).view(-1)


def build():
    return NCF(8, 12, 4)


def data(rng):
    return {"users": rng.integers(0, 8, 50), "items": rng.integers(0, 12, 50),
            "labels": rng.integers(0, 2, 50).astype(np.float32),
            "negs": [rng.choice(np.arange(6, 12), 4, replace=False) for _ in range(5)]}


def hit_ndcg(model, users, pos, negs, k=3):
    model.eval()
    hits, ndcgs = [], []
    with torch.no_grad():
        for u, p, ns in zip(users, pos, negs):
            items = torch.tensor([p] + [int(n) for n in ns])
            scores = model(torch.full_like(items, u), items)
            _, idx = torch.topk(scores, k)
            rec = torch.take(items, idx).tolist()
            hits.append(int(p in rec))
            ndcgs.append(float(np.log(2) / np.log(rec.index(p) + 2)) if p in rec else 0.0)
    return float(np.mean(hits)), float(np.mean(ndcgs))


def run(model, d, workdir, epochs=3):
    crit = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    out = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for b in range(0, len(d["labels"]), 10):
            u = torch.LongTensor(d["users"][b:b + 10])
            i = torch.LongTensor(d["items"][b:b + 10])
            y = torch.FloatTensor(d["labels"][b:b + 10])
            model.zero_grad()
            loss = crit(model(u, i), y)
            loss.backward()
            opt.step()
            total += loss.item()
        out += [total, *hit_ndcg(model, range(5), [1, 2, 3, 4, 5], d["negs"])]
    return out
