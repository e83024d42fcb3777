"""Feature tables, parsed ratings and MAMO episodes (one task per user).

:func:`build_episodes` implements the "Episodes" section of ``docs/mamo.md``,
fully vectorised (sorts, ``bincount`` and reshapes; no per-user Python loop):

1. Ratings are ordered by ``timestamp``; ties keep the original row order
   (stable sort).  ``split_time`` is the timestamp at 0-based position
   ``floor(time_quantile * n + 0.5)`` (round half up, clipped to ``n - 1``)
   of that order, over **all** ratings -- the definition of the authors'
   release, ``sorted_time['time'][round(0.8 * len(ratings))]`` (identical for
   q = 0.8, where 0.8 n is never a half-integer).  It differs from
   ``np.quantile(t, 0.8, method="lower")`` (position ``floor(0.8 (n-1))``)
   by at most one position; we follow the release.
2. Users with at least ``support_size + query_size`` (= L, 20) ratings are
   kept, each with their first L ratings by time.
3. A user is warm iff their first rating has ``timestamp < split_time``
   (strict).  An item is warm iff it has more than ``warm_item_min_ratings``
   (10) ratings among the kept ones; items without kept ratings are cold.
4. Scenario code of a pair = ``2 * user_cold + item_cold``: 0 W-W, 1 W-C
   (warm user, cold item), 2 C-W, 3 C-C.
5. Support = the first ``support_size`` kept ratings, query = the last
   ``query_size`` -- both in time order.
6. Meta-train / meta-test: ``perm = np.random.default_rng(seed).permutation(N)``
   over the kept users (sorted by dense user index); the first
   ``floor(split_ratio * N)`` of ``perm`` are meta-train.  (The release
   shuffles ``range(1, n_users)`` -- an off-by-one that drops the last user
   and yields 1,207 ML-1M test users; we keep all users: 4,832 / 1,208.)

Pure numpy/pandas: this package must not import torch.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["Features", "RawData", "Episodes", "build_episodes", "SCENARIOS"]

SCENARIOS = ("W-W", "W-C", "C-W", "C-C")
RATING_COLUMNS = ("user", "item", "rating", "timestamp")


def _arrays_equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    return a == b


@dataclass(frozen=True, eq=False)
class Features:
    """Side information of users and items (dense indices = rows)."""

    user_vocab: tuple[int, ...]
    item_vocab: tuple[int, ...]
    item_multihot: tuple[int, ...]
    user_x: np.ndarray      # (n_users, len(user_vocab)) int64
    item_x: np.ndarray      # (n_items, len(item_vocab)) int64
    item_multi: np.ndarray  # (n_items, sum(item_multihot)) uint8
    n_classes: int

    @property
    def n_users(self) -> int:
        return int(self.user_x.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_x.shape[0])

    def __eq__(self, other):
        if not isinstance(other, Features):
            return NotImplemented
        return all(_arrays_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None

    def __repr__(self):
        return (f"Features(users={self.n_users}, items={self.n_items}, user_vocab={self.user_vocab}, "
                f"item_vocab={self.item_vocab}, item_multihot={self.item_multihot}, n_classes={self.n_classes})")

    def validate(self, where="features") -> None:
        """Shape/dtype/range checks; raises DataError (used on cache reads)."""
        def bad(msg):
            raise DataError(where, f"inconsistent features: {msg}")
        if self.user_x.ndim != 2 or self.user_x.shape[1] != len(self.user_vocab) or self.user_x.dtype != np.int64:
            bad(f"user_x shape {self.user_x.shape} / dtype {self.user_x.dtype}")
        if self.item_x.ndim != 2 or self.item_x.shape[1] != len(self.item_vocab) or self.item_x.dtype != np.int64:
            bad(f"item_x shape {self.item_x.shape} / dtype {self.item_x.dtype}")
        if (self.item_multi.shape != (self.item_x.shape[0], int(sum(self.item_multihot)))
                or self.item_multi.dtype != np.uint8):
            bad(f"item_multi shape {self.item_multi.shape} / dtype {self.item_multi.dtype}")
        for x, voc, nm in ((self.user_x, self.user_vocab, "user_x"), (self.item_x, self.item_vocab, "item_x")):
            if x.size and ((x < 0).any() or (x >= np.asarray(voc, dtype=np.int64)[None, :]).any()):
                bad(f"{nm} index outside its vocabulary")
        if self.item_multi.size and self.item_multi.max() > 1:
            bad("item_multi is not 0/1")
        if self.n_classes < 2:
            bad(f"n_classes={self.n_classes}")


@dataclass(frozen=True, eq=False)
class RawData:
    """Parsed dataset: features plus all ratings in original file order.

    ``ratings`` columns: user (dense idx), item (dense idx), rating
    (1..n_classes), timestamp -- all int64.  ``source`` names where the
    ratings came from (for error messages).
    """

    features: Features
    ratings: pd.DataFrame
    source: str = ""

    def __repr__(self):
        return f"RawData({self.features!r}, ratings={len(self.ratings)}, source={self.source!r})"


_PER_USER = ("user_index", "support_items", "support_y", "query_items", "query_y",
             "support_scenario", "query_scenario", "user_warm", "is_train")


@dataclass(frozen=True, eq=False)
class Episodes:
    """One row per kept user: support/query items, labels and scenarios."""

    name: str
    features: Features
    user_index: np.ndarray        # (N,) int64
    support_items: np.ndarray     # (N, S) int64
    support_y: np.ndarray         # (N, S) int64, rating - 1
    query_items: np.ndarray       # (N, Q) int64
    query_y: np.ndarray           # (N, Q) int64
    support_scenario: np.ndarray  # (N, S) int8
    query_scenario: np.ndarray    # (N, Q) int8
    user_warm: np.ndarray         # (N,) bool
    item_warm: np.ndarray         # (n_items,) bool
    is_train: np.ndarray          # (N,) bool
    split_time: int

    def __len__(self) -> int:
        return int(self.user_index.shape[0])

    @property
    def n_users(self) -> int:
        return len(self)

    @property
    def support_size(self) -> int:
        return int(self.support_items.shape[1])

    @property
    def query_size(self) -> int:
        return int(self.query_items.shape[1])

    def subset(self, rows) -> "Episodes":
        """Users selected by an index array or a boolean mask (features/items unchanged)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise ValueError(f"boolean mask of shape {rows.shape} for {len(self)} users")
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64, copy=False)
        return replace(self, **{k: getattr(self, k)[rows] for k in _PER_USER})

    def train(self) -> "Episodes":
        return self.subset(self.is_train)

    def test(self) -> "Episodes":
        return self.subset(~self.is_train)

    def summary(self) -> dict:
        """Counts: users (warm/cold, train/test), items (warm/cold among the rated), scenario pairs."""
        sup = np.bincount(self.support_scenario.ravel().astype(np.int64), minlength=4)
        qry = np.bincount(self.query_scenario.ravel().astype(np.int64), minlength=4)
        rated = np.zeros(self.features.n_items, bool)
        rated[self.support_items.ravel()] = True
        rated[self.query_items.ravel()] = True
        return {
            "name": self.name,
            "users": len(self),
            "warm_users": int(self.user_warm.sum()),
            "cold_users": int((~self.user_warm).sum()),
            "meta_train_users": int(self.is_train.sum()),
            "meta_test_users": int((~self.is_train).sum()),
            "items_rated": int(rated.sum()),
            "warm_items": int(self.item_warm.sum()),
            "cold_items_rated": int((rated & ~self.item_warm).sum()),
            "split_time": int(self.split_time),
            "support_pairs_by_scenario": dict(zip(SCENARIOS, sup.tolist())),
            "query_pairs_by_scenario": dict(zip(SCENARIOS, qry.tolist())),
        }

    def __repr__(self):
        return (f"Episodes(name={self.name!r}, users={len(self)} (train {int(self.is_train.sum())}), "
                f"S={self.support_size}, Q={self.query_size}, split_time={self.split_time}, {self.features!r})")

    def __eq__(self, other):
        if not isinstance(other, Episodes):
            return NotImplemented
        return all(_arrays_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None

    def validate(self, where="episodes") -> None:
        """Shape/dtype/range checks; raises DataError (used on cache reads)."""
        self.features.validate(where)
        n = len(self)

        def bad(msg):
            raise DataError(where, f"inconsistent episodes: {msg}")
        spec = {"user_index": ((n,), np.int64), "user_warm": ((n,), np.bool_), "is_train": ((n,), np.bool_),
                "item_warm": ((self.features.n_items,), np.bool_)}
        s, q = self.support_items.shape[-1], self.query_items.shape[-1]
        for k, dt in (("support_items", np.int64), ("support_y", np.int64), ("support_scenario", np.int8)):
            spec[k] = ((n, s), dt)
        for k, dt in (("query_items", np.int64), ("query_y", np.int64), ("query_scenario", np.int8)):
            spec[k] = ((n, q), dt)
        for k, (shape, dt) in spec.items():
            a = getattr(self, k)
            if a.shape != shape or a.dtype != dt:
                bad(f"{k} has shape {a.shape} dtype {a.dtype}, expected {shape} {np.dtype(dt)}")
        if n and (self.user_index.min() < 0 or self.user_index.max() >= self.features.n_users):
            bad("user_index out of range")
        for k in ("support_items", "query_items"):
            a = getattr(self, k)
            if a.size and (a.min() < 0 or a.max() >= self.features.n_items):
                bad(f"{k} out of range")
        for k in ("support_y", "query_y"):
            a = getattr(self, k)
            if a.size and (a.min() < 0 or a.max() >= self.features.n_classes):
                bad(f"{k} outside 0..n_classes-1")
        for k in ("support_scenario", "query_scenario"):
            a = getattr(self, k)
            if a.size and (a.min() < 0 or a.max() > 3):
                bad(f"{k} outside 0..3")


def scenario_codes(user_warm: np.ndarray, item_warm: np.ndarray) -> np.ndarray:
    """0 W-W, 1 W-C, 2 C-W, 3 C-C (broadcasting)."""
    return (2 * (~np.asarray(user_warm, bool)).astype(np.int8)
            + (~np.asarray(item_warm, bool)).astype(np.int8)).astype(np.int8)


def build_episodes(raw: RawData, name: str, support_size: int = 15, query_size: int = 5,
                   split_ratio: float = 0.8, seed: int = 100, warm_item_min_ratings: int = 10,
                   time_quantile: float = 0.8) -> Episodes:
    """Build the per-user support/query episodes (see the module docstring)."""
    where = raw.source or name
    for k, v in (("support_size", support_size), ("query_size", query_size)):
        if int(v) != v or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")
    if not 0.0 <= split_ratio <= 1.0:
        raise ValueError(f"split_ratio must be in [0, 1], got {split_ratio!r}")
    if not 0.0 <= time_quantile <= 1.0:
        raise ValueError(f"time_quantile must be in [0, 1], got {time_quantile!r}")
    S, Q = int(support_size), int(query_size)
    L = S + Q
    feats = raw.features
    r = raw.ratings
    missing = [c for c in RATING_COLUMNS if c not in r.columns]
    if missing:
        raise ValueError(f"ratings frame lacks columns {missing}")
    n = len(r)
    if n == 0:
        raise DataError(where, "no ratings")
    u = r["user"].to_numpy(np.int64)
    it = r["item"].to_numpy(np.int64)
    y = r["rating"].to_numpy(np.int64)
    t = r["timestamp"].to_numpy(np.int64)
    if u.min() < 0 or u.max() >= feats.n_users or it.min() < 0 or it.max() >= feats.n_items:
        raise ValueError("ratings reference users/items outside the feature tables")
    if y.min() < 1 or y.max() > feats.n_classes:
        raise DataError(where, f"ratings outside 1..{feats.n_classes}")

    # 1. global time order (stable => ties keep file order) and split time
    t_sorted = np.sort(t, kind="stable")
    split_time = int(t_sorted[min(int(np.floor(time_quantile * n + 0.5)), n - 1)])

    # 2. per-user time order; rank of each rating within its user
    order = np.lexsort((np.arange(n), t, u))  # by user, then time, then file row
    us = u[order]
    counts = np.bincount(us, minlength=feats.n_users)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n) - first[us]
    keep_user = counts >= L
    if not keep_user.any():
        raise DataError(where, f"no user has at least {L} ratings (support {S} + query {Q}); "
                               f"the most active user has {int(counts.max())}")
    sel = order[keep_user[us] & (rank < L)]  # grouped by user (ascending), time order inside
    user_index = np.flatnonzero(keep_user).astype(np.int64)
    N = len(user_index)
    items = it[sel].reshape(N, L)
    labels = (y[sel] - 1).reshape(N, L)
    times = t[sel].reshape(N, L)

    # 3. warm/cold
    user_warm = times[:, 0] < split_time
    item_counts = np.bincount(items.ravel(), minlength=feats.n_items)
    item_warm = item_counts > warm_item_min_ratings

    # 4. scenarios
    scen = scenario_codes(user_warm[:, None], item_warm[items])

    # 6. meta-train / meta-test split over kept users
    perm = np.random.default_rng(seed).permutation(N)
    n_train = int(np.floor(split_ratio * N + 1e-9))
    is_train = np.zeros(N, dtype=bool)
    is_train[perm[:n_train]] = True

    # 5. support = first S, query = last Q
    return Episodes(
        name=name, features=feats, user_index=user_index,
        support_items=np.ascontiguousarray(items[:, :S]), support_y=np.ascontiguousarray(labels[:, :S]),
        query_items=np.ascontiguousarray(items[:, S:]), query_y=np.ascontiguousarray(labels[:, S:]),
        support_scenario=np.ascontiguousarray(scen[:, :S]), query_scenario=np.ascontiguousarray(scen[:, S:]),
        user_warm=user_warm, item_warm=item_warm, is_train=is_train, split_time=split_time)
