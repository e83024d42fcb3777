"""Episode rules (hand-checked example + loop reference), splits, and the npz cache."""
from __future__ import annotations

import os
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from reference_torch.data import (Episodes, Features, RawData, build_episodes, cache_path, default_cache_dir,
                                  load_episodes, parse_ml100k, read_episodes, save_episodes)


def make_raw(rows, n_users, n_items, n_classes=5) -> RawData:
    u, i, y, t = (np.array(c, dtype=np.int64) for c in zip(*rows))
    feats = Features(user_vocab=(3,), item_vocab=(2,), item_multihot=(2,),
                     user_x=(np.arange(n_users, dtype=np.int64) % 3)[:, None],
                     item_x=(np.arange(n_items, dtype=np.int64) % 2)[:, None],
                     item_multi=np.eye(2, dtype=np.uint8)[np.arange(n_items) % 2], n_classes=n_classes)
    return RawData(feats, pd.DataFrame({"user": u, "item": i, "rating": y, "timestamp": t}), source="mem")


def crafted():
    """25 ratings, 6 users, 9 items; see test_crafted_rules for the expected outcome."""
    seq = {0: ([0, 1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15]),   # 6th rating (item 5) beyond the cutoff
           2: ([5, 6, 7, 3], [20, 21, 22, 23]),                 # only 4 ratings -> dropped
           3: ([4, 0, 1, 5, 3], [100, 101, 102, 103, 104]),
           4: ([0, 6, 7, 3, 1], [200, 201, 202, 203, 204])}     # first rating == split_time -> cold
    rows = [(1, 1, 0, 50)]  # user 1: item 1 and item 0 tie at t=50; item 1 comes first in the file
    for u, (items, ts) in seq.items():
        rows += [(u, it, 0, t) for it, t in zip(items, ts)]
    rows += [(1, 0, 0, 50), (1, 7, 0, 52), (1, 6, 0, 51), (1, 2, 0, 53)]  # file order != time order
    rows = [(u, it, (u + it) % 5 + 1, t) for u, it, _, t in rows]      # rating depends on the pair
    return make_raw(rows, n_users=6, n_items=9)


def test_crafted_rules():
    ep = build_episodes(crafted(), "crafted", support_size=3, query_size=2, warm_item_min_ratings=2)
    # 25 sorted timestamps: 10..15, 20..23, 50,50,51,52,53, 100..104, 200..204 -> index round(0.8*25)=20 -> 200
    assert ep.split_time == 200
    assert ep.user_index.tolist() == [0, 1, 3, 4]                 # user 2 (4 ratings) and 5 (none) dropped
    assert ep.user_warm.tolist() == [True, True, True, False]     # user 4 starts at 200, not < 200
    kept = [[0, 1, 2, 3, 4], [1, 0, 6, 7, 2], [4, 0, 1, 5, 3], [0, 6, 7, 3, 1]]  # first 5 by time, stable ties
    assert ep.support_items.tolist() == [k[:3] for k in kept]
    assert ep.query_items.tolist() == [k[3:] for k in kept]
    users = [0, 1, 3, 4]
    assert ep.support_y.tolist() == [[(u + it) % 5 for it in k[:3]] for u, k in zip(users, kept)]
    assert ep.query_y.tolist() == [[(u + it) % 5 for it in k[3:]] for u, k in zip(users, kept)]
    # kept counts per item: 0:4 1:4 2:2 3:3 4:2 5:1 6:2 7:2 8:0 -> warm iff > 2
    assert ep.item_warm.tolist() == [True, True, False, True, False, False, False, False, False]
    assert ep.support_scenario.tolist() == [[0, 0, 1], [0, 0, 1], [1, 0, 0], [2, 3, 3]]
    assert ep.query_scenario.tolist() == [[0, 1], [1, 1], [1, 0], [2, 2]]
    assert ep.support_scenario.dtype == np.int8 and ep.user_warm.dtype == bool
    # 80/20 users: floor(0.8 * 4) = 3 meta-train, by default_rng(seed).permutation
    perm = np.random.default_rng(100).permutation(4)
    assert ep.is_train.tolist() == np.isin(np.arange(4), perm[:3]).tolist()


def test_default_sizes_cutoff_and_order():
    rng = np.random.default_rng(0)
    rows = []
    for u, n in ((0, 25), (1, 19), (2, 20)):
        ts = rng.permutation(1000)[:n] + 1000 * u
        rows += [(u, k, k % 5 + 1, t) for k, t in enumerate(ts)]
    rows = [rows[k] for k in rng.permutation(len(rows))]           # shuffle the file order
    ep = build_episodes(make_raw(rows, 3, 25), "x")
    assert ep.user_index.tolist() == [0, 2]                        # 19 ratings < 20 -> dropped
    assert ep.support_items.shape == (2, 15) and ep.query_items.shape == (2, 5)
    for row, u in enumerate([0, 2]):
        mine = sorted((t, it) for uu, it, _, t in rows if uu == u)[:20]
        assert ep.support_items[row].tolist() == [it for _, it in mine[:15]]
        assert ep.query_items[row].tolist() == [it for _, it in mine[15:]]
        assert ep.support_y[row].tolist() == [it % 5 for _, it in mine[:15]]


def reference_build(raw, S, Q, min_item, ratio, seed):
    """Plain per-user loops, written independently of the vectorised code."""
    r = raw.ratings.reset_index(drop=True)
    n = len(r)
    ts = sorted(r["timestamp"])
    split = ts[min(int(np.floor(0.8 * n + 0.5)), n - 1)]
    per_user = {}
    for row in r.itertuples():
        per_user.setdefault(row.user, []).append((row.timestamp, row.Index, row.item, row.rating))
    users = sorted(u for u, lst in per_user.items() if len(lst) >= S + Q)
    kept = {u: sorted(per_user[u])[: S + Q] for u in users}
    counts = np.zeros(raw.features.n_items, int)
    for u in users:
        for _, _, it, _ in kept[u]:
            counts[it] += 1
    item_warm = counts > min_item
    out = {"user_index": users, "user_warm": [kept[u][0][0] < split for u in users], "item_warm": item_warm}
    out["items"] = [[it for _, _, it, _ in kept[u]] for u in users]
    out["y"] = [[y - 1 for _, _, _, y in kept[u]] for u in users]
    out["scen"] = [[2 * (not w) + (not item_warm[it]) for it in its] for w, its in zip(out["user_warm"], out["items"])]
    perm = np.random.default_rng(seed).permutation(len(users))
    out["is_train"] = np.isin(np.arange(len(users)), perm[: int(ratio * len(users) + 1e-9)])
    return split, out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, n = 60, 40, 1500
    rows = list(zip(rng.integers(0, n_users, n), rng.integers(0, n_items, n), rng.integers(1, 6, n),
                    rng.integers(0, 300, n)))  # many timestamp ties
    raw = make_raw(rows, n_users, n_items)
    S, Q, m = 15, 5, 3
    ep = build_episodes(raw, "r", support_size=S, query_size=Q, warm_item_min_ratings=m, seed=seed)
    split, ref = reference_build(raw, S, Q, m, 0.8, seed)
    assert ep.split_time == split
    assert ep.user_index.tolist() == ref["user_index"]
    assert ep.user_warm.tolist() == ref["user_warm"]
    assert ep.item_warm.tolist() == ref["item_warm"].tolist()
    assert np.concatenate([ep.support_items, ep.query_items], 1).tolist() == ref["items"]
    assert np.concatenate([ep.support_y, ep.query_y], 1).tolist() == ref["y"]
    assert np.concatenate([ep.support_scenario, ep.query_scenario], 1).tolist() == ref["scen"]
    assert ep.is_train.tolist() == ref["is_train"].tolist()


def test_split_deterministic_and_subsets():
    raw = make_raw([(u, k, 3, 100 * u + k) for u in range(50) for k in range(20)], 50, 20)
    a, b = build_episodes(raw, "x", seed=100), build_episodes(raw, "x", seed=100)
    c = build_episodes(raw, "x", seed=101)
    assert a == b and a.is_train.tolist() == b.is_train.tolist()
    assert a.is_train.tolist() != c.is_train.tolist()
    assert a.is_train.sum() == 40
    tr, te = a.train(), a.test()
    assert len(tr) == 40 and len(te) == 10 and tr.is_train.all() and not te.is_train.any()
    assert sorted(tr.user_index.tolist() + te.user_index.tolist()) == a.user_index.tolist()
    sub = a.subset([3, 1])
    assert sub.user_index.tolist() == [3, 1] and sub.support_items.shape == (2, 15)
    assert sub.features is a.features and sub.item_warm is a.item_warm


# ------------------------------------------------------------------ cache
def test_cache_round_trip(tmp_path):
    ep = build_episodes(crafted(), "crafted", support_size=3, query_size=2)
    p = save_episodes(ep, tmp_path / "c" / "ep.npz")
    back = read_episodes(p)
    assert back == ep
    assert back.features == ep.features and back.name == "crafted" and back.split_time == ep.split_time
    with np.load(p, allow_pickle=False) as z:  # no object arrays inside
        assert all(z[k].dtype != object for k in z.files)
    assert zipfile.is_zipfile(p)
    assert os.listdir(p.parent) == ["ep.npz"]  # temp file renamed away


def test_load_episodes_uses_cache(synthetic_raw, tmp_path, monkeypatch):
    import reference_torch.data.cache as cache_mod
    raw_dir = synthetic_raw("ml-100k")
    ep = load_episodes("ml-100k", raw_dir, cache_dir=tmp_path)
    files = list(tmp_path.glob("ml-100k-*.npz"))
    assert len(files) == 1 and files[0] == cache_path("ml-100k", raw_dir, tmp_path)

    def boom(_):
        raise AssertionError("parsed although cached")
    monkeypatch.setitem(cache_mod.DATASETS, "ml-100k", (boom, cache_mod.DATASETS["ml-100k"][1]))
    assert load_episodes("ml-100k", raw_dir, cache_dir=tmp_path) == ep
    # other build kwargs -> another cache file
    assert cache_path("ml-100k", raw_dir, tmp_path, seed=1) != files[0]
    assert cache_path("ml-100k", raw_dir, tmp_path, seed=100) == files[0]  # defaults are part of the key


def test_cache_key_follows_raw_files(tiny_raw, tmp_path):
    d = tiny_raw("ml-100k")
    k1 = cache_path("ml-100k", d, tmp_path)
    st = os.stat(d / "u.data")
    os.utime(d / "u.data", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert cache_path("ml-100k", d, tmp_path) != k1


def test_default_cache_dir(tmp_path, monkeypatch):
    w = tmp_path / "writable"
    w.mkdir()
    assert default_cache_dir(w) == w / ".cache" and (w / ".cache").is_dir()
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)  # root ignores the bits, default_cache_dir must not
    try:
        monkeypatch.setenv("MAMO_CACHE_DIR", str(tmp_path / "user-cache"))
        assert default_cache_dir(ro) == tmp_path / "user-cache"
        assert not (ro / ".cache").exists()
    finally:
        ro.chmod(0o755)


@pytest.mark.shared
def test_real_ml100k_counts_and_cache(shared_data_dir, tmp_path):
    d = shared_data_dir / "ml-100k"
    if not (d / "u.data").is_file():
        pytest.skip("ml-100k not available")
    ep = load_episodes("ml-100k", d, cache_dir=tmp_path)
    assert ep == build_episodes(parse_ml100k(d), "ml-100k")
    s = ep.summary()
    assert (s["users"], s["meta_train_users"], s["meta_test_users"]) == (943, 754, 189)


@pytest.mark.slow
def test_ml1m_sized_preprocess_fast(tmp_path):
    from reference_torch.data import parse_ml1m, write_raw
    write_raw("ml-1m", tmp_path, 6040, 3706, 1_000_209, seed=0)
    t0 = time.perf_counter()
    ep = build_episodes(parse_ml1m(tmp_path), "ml-1m")
    elapsed = time.perf_counter() - t0
    assert elapsed < 15, f"parse + build took {elapsed:.1f}s"
    assert isinstance(ep, Episodes) and set(np.unique(ep.query_scenario)) == {0, 1, 2, 3}
