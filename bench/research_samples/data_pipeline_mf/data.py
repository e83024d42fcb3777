import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, DataLoader


class RatingDataset(Dataset):
    def __init__(self, df: pd.DataFrame):
        self.users = df["user"].values
        self.items = df["item"].values
        self.ratings = df["rating"].values.astype(np.float32)

    def __len__(self):
        return len(self.users)

    def __getitem__(self, idx):
        return {
            "user": torch.tensor(self.users[idx], dtype=torch.long),
            "item": torch.tensor(self.items[idx], dtype=torch.long),
            "rating": torch.tensor(self.ratings[idx]),
        }


def collate(batch):
    return {k: torch.stack([b[k] for b in batch]) for k in batch[0]}


def make_loader(df, batch_size=32, shuffle=True):
    return DataLoader(RatingDataset(df), batch_size=batch_size, shuffle=shuffle, collate_fn=collate, num_workers=0)
