import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.01)


class ConvNet(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 7 * 7, n_classes)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc(self.drop(x))


class SeqEncoder(nn.Module):
    def __init__(self, vocab, dim, hidden, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=0)
        self.rnn = nn.LSTM(dim, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.heads = nn.ModuleList([nn.Linear(2 * hidden, 1) for _ in range(3)])
        self.apply(init_weights)

    def forward(self, tokens, lengths):
        e = self.emb(tokens)
        out, (h, c) = self.rnn(e)
        mask = (tokens != 0).unsqueeze(-1).float()
        pooled = (out * mask).sum(1) / lengths.unsqueeze(-1).float()
        scores = torch.cat([head(pooled) for head in self.heads], dim=-1)
        return scores, torch.topk(scores, k=2, dim=-1).indices


class NCF(nn.Module):
    def __init__(self, n_users, n_items, dim=32):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, 1))

    def forward(self, u, i):
        x = torch.cat([self.user(u), self.item(i)], dim=1)
        return torch.sigmoid(self.mlp(x)).squeeze(-1)


def bpr_loss(pos, neg):
    return -torch.log(torch.sigmoid(pos - neg) + 1e-8).mean()


def batchify(seqs):
    tensors = [torch.tensor(s, dtype=torch.long) for s in seqs]
    lengths = torch.tensor([len(s) for s in seqs])
    return pad_sequence(tensors, batch_first=True), lengths


def train_ncf(n_users=100, n_items=50, steps=20, device="cpu"):
    set_seed(0)
    model = NCF(n_users, n_items).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for step in range(steps):
        u = torch.randint(0, n_users, (64,))
        i = torch.randint(0, n_items, (64,))
        j = torch.randint(0, n_items, (64,))
        pos = model(u, i)
        neg = model(u, j)
        loss = bpr_loss(pos, neg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            print(step, loss.item())
    torch.save(model.state_dict(), "ncf.pt")
    model.load_state_dict(torch.load("ncf.pt"))
    model.eval()
    with torch.no_grad():
        scores = model(torch.arange(n_users), torch.zeros(n_users, dtype=torch.long))
        top = scores.argsort(descending=True)[:10].cpu().numpy()
    return top
