"""Synthetic raw data: deterministic, all four scenarios, learnable signal."""
from __future__ import annotations

import numpy as np
import pytest

from reference_torch.data import build_episodes, parse_bookcrossing, parse_ml1m, parse_ml100k, write_raw

PARSERS = {"ml-1m": parse_ml1m, "ml-100k": parse_ml100k, "bookcrossing": parse_bookcrossing}


@pytest.mark.parametrize("layout", sorted(PARSERS))
def test_deterministic(layout, tmp_path):
    a = write_raw(layout, tmp_path / "a", 60, 80, 1500, seed=3)
    b = write_raw(layout, tmp_path / "b", 60, 80, 1500, seed=3)
    c = write_raw(layout, tmp_path / "c", 60, 80, 1500, seed=4)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    assert any((a / n).read_bytes() != (c / n).read_bytes() for n in names)


@pytest.mark.parametrize("layout", sorted(PARSERS))
def test_all_four_scenarios(layout, synthetic_raw):
    ep = build_episodes(PARSERS[layout](synthetic_raw(layout)), layout)
    for part in (ep.support_scenario, ep.query_scenario):
        assert set(np.unique(part)) == {0, 1, 2, 3}
    assert ep.user_warm.any() and (~ep.user_warm).any()
    for sub in (ep.train(), ep.test()):
        assert set(np.unique(sub.query_scenario)) >= {0, 1}


@pytest.mark.parametrize("layout", sorted(PARSERS))
def test_signal_is_learnable(layout, synthetic_raw):
    """An additive per-feature-value mean model (a few backfitting sweeps of shrunk means of the
    residual) beats the global mean on held-out ratings."""
    raw = PARSERS[layout](synthetic_raw(layout))
    f, r = raw.features, raw.ratings
    y = r["rating"].to_numpy(float)
    test = np.random.default_rng(0).random(len(y)) < 0.25
    u, it = r["user"].to_numpy(), r["item"].to_numpy()
    codes = [f.user_x[u, k] for k in range(f.user_x.shape[1])] + [f.item_x[it, k] for k in range(f.item_x.shape[1])]
    mu = y[~test].mean()
    eff = [np.zeros(c.max() + 1) for c in codes]
    for _ in range(5):
        for k, c in enumerate(codes):
            resid = y - mu - sum(e[cc] for j, (e, cc) in enumerate(zip(eff, codes)) if j != k)
            eff[k] = (np.bincount(c[~test], weights=resid[~test], minlength=c.max() + 1)
                      / (np.bincount(c[~test], minlength=c.max() + 1) + 5.0))
    pred = mu + sum(e[c] for e, c in zip(eff, codes))
    rmse_mean = np.sqrt(np.mean((y[test] - mu) ** 2))
    rmse_feat = np.sqrt(np.mean((y[test] - pred[test]) ** 2))
    assert rmse_feat < 0.95 * rmse_mean, (rmse_feat, rmse_mean)


def test_bookcrossing_time_is_file_order_with_implicit_rows(synthetic_raw):
    d = synthetic_raw("bookcrossing")
    lines = (d / "BX-Book-Ratings.csv").read_text(encoding="latin-1").splitlines()[1:]
    assert any(l.endswith('"0"') for l in lines)  # implicit rows present (and dropped by the parser)
    raw = parse_bookcrossing(d)
    assert len(raw.ratings) == 4800 and np.all(np.diff(raw.ratings["timestamp"]) > 0)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown layout"):
        write_raw("netflix", tmp_path, 10, 10, 10)
    with pytest.raises(ValueError, match="exceeds"):
        write_raw("ml-1m", tmp_path, 10, 10, 60)
