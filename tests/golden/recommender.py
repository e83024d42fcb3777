"""A small PyTorch recommender: the kind of research code the tool targets."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Ratings(Dataset):
    def __init__(self, users, items, labels):
        self.users = users
        self.items = items
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.users[i], self.items[i], self.labels[i]


class Recommender(nn.Module):
    """Embeddings + an MLP scoring head."""

    def __init__(self, n_users, n_items, dim=8, hidden=16):
        super().__init__()
        self.user_emb = nn.Embedding(n_users, dim)
        self.item_emb = nn.Embedding(n_items, dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * dim, hidden),
            nn.LeakyReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, 5),
        )
        self.norm = nn.LayerNorm(2 * dim)
        self.register_buffer("bias", torch.zeros(5))

    def forward(self, users, items):
        u = self.user_emb(users)
        v = self.item_emb(items)
        h = torch.cat([u, v], dim=-1)
        h = self.norm(h)
        logits = self.mlp(h) + self.bias
        return logits

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        probs = F.softmax(self.forward(users, items), dim=-1)
        stars = torch.arange(1, 6, dtype=torch.float32)
        return (probs * stars).sum(dim=-1)


def evaluate(model: Recommender, users, items, labels):
    model.eval()
    with torch.no_grad():
        logits = model(users, items)
        loss = F.cross_entropy(logits, labels)
        pred = torch.argmax(logits, dim=1)
    acc = (pred == labels).float().mean().item()
    return loss.item(), acc


def train_step(model: Recommender, opt, users, items, labels):
    model.train()
    opt.zero_grad()
    loss = F.cross_entropy(model(users, items), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


def main(seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    users = torch.from_numpy(rng.integers(0, 10, 32))
    items = torch.from_numpy(rng.integers(0, 20, 32))
    labels = torch.from_numpy(rng.integers(0, 5, 32))
    model = Recommender(10, 20).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        train_step(model, opt, users.to(DEVICE), items.to(DEVICE), labels.to(DEVICE))
    torch.save(model.state_dict(), "recommender.pt")
    return evaluate(model, users, items, labels)
