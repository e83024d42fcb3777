"""Episodes as a torch Dataset: one item per user (support set, query set, features)."""
from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from .data import Episodes

FIELDS = ("user_x", "support_x", "support_multi", "support_y", "query_x", "query_multi", "query_y", "query_scenario")


class EpisodeDataset(Dataset):
    """Yields, per user, the arrays named in ``FIELDS`` (features gathered per item)."""

    def __init__(self, episodes: Episodes, float_dtype=np.float32):
        features = episodes.features
        self.float_dtype = float_dtype
        self.episodes = episodes
        self.user_x = features.user_x[episodes.user_index]
        self.item_x = features.item_x
        self.item_multi = features.item_multi

    def __len__(self) -> int:
        return len(self.episodes.user_index)

    def __getitem__(self, index: int):
        ep = self.episodes
        support, query = ep.support_items[index], ep.query_items[index]
        return (
            self.user_x[index],
            self.item_x[support],
            self.item_multi[support].astype(self.float_dtype),
            ep.support_y[index],
            self.item_x[query],
            self.item_multi[query].astype(self.float_dtype),
            ep.query_y[index],
            ep.query_scenario[index].astype(np.int64),
        )
