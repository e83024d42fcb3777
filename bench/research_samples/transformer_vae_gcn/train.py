import argparse
import os
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm
from models import VAE, vae_loss, Block


def get_loader(n, batch_size, device):
    x = torch.rand(n, 784)
    ds = TensorDataset(x)
    return DataLoader(ds, batch_size=batch_size, shuffle=True)


def evaluate(model, loader, device):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for (x,) in loader:
            x = x.to(device)
            recon, mu, logvar = model(x)
            total += vae_loss(recon, x, mu, logvar).item()
    return total / len(loader.dataset)


def train(args):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    loader = get_loader(512, args.batch_size, device)
    for epoch in range(args.epochs):
        model.train()
        for (x,) in tqdm(loader):
            x = x.to(device)
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = vae_loss(recon, x, mu, logvar)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        scheduler.step()
        print(epoch, evaluate(model, loader, device))
    os.makedirs(args.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, "vae.pt"))
    block = Block(64, 4)
    y = block(torch.randn(2, 10, 64))
    print(y.shape, np.mean(y.detach().cpu().numpy()))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs")
    train(p.parse_args())
