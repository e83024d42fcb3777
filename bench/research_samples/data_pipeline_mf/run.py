import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from data import make_loader

torch.backends.cudnn.deterministic = True


class MF(nn.Module):
    def __init__(self, n_users, n_items, k=16):
        super().__init__()
        self.P = nn.Embedding(n_users, k)
        self.Q = nn.Embedding(n_items, k)
        self.bu = nn.Embedding(n_users, 1)
        self.bi = nn.Embedding(n_items, 1)

    def forward(self, u, i):
        dot = (self.P(u) * self.Q(i)).sum(dim=1)
        return dot + self.bu(u).squeeze(1) + self.bi(i).squeeze(1)


def main():
    df = pd.DataFrame({"user": np.random.randint(0, 50, 500), "item": np.random.randint(0, 40, 500),
                       "rating": np.random.randint(1, 6, 500)})
    loader = make_loader(df)
    model = MF(50, 40)
    if torch.cuda.is_available():
        model = model.cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.MSELoss()
    for epoch in range(3):
        total = 0.0
        for batch in loader:
            u, i, r = batch["user"], batch["item"], batch["rating"]
            pred = model(u, i)
            loss = loss_fn(pred, r)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(r)
        print(epoch, total / len(df))
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, "ckpt.pt")
    ckpt = torch.load("ckpt.pt", map_location="cpu")
    model.load_state_dict(ckpt["model"])
    with torch.no_grad():
        preds = model(torch.arange(10), torch.arange(10)).numpy()
    print(preds)


if __name__ == "__main__":
    main()
