"""Two reference points for MAMO's numbers, scored by the same metric code.

    python -m reference_torch.baselines --data ml-100k --raw ../shared/data/ml-100k

- global mean: every query pair gets the mean rating of all known ratings;
- item mean: the item's mean known rating (the global mean for items never seen).
Known ratings = every rating of the meta-train users plus the support sets of the
meta-test users (what a model may see before predicting a query set). Predictions
are rounded to the nearest rating, as MAMO's are whole ratings too.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .data import DataError, Episodes, load_episodes
from .metrics import scenario_metrics
import mindspore


def known_ratings(episodes: Episodes) -> tuple[np.ndarray, np.ndarray]:
    train, test = episodes.train(), episodes.test()
    items = np.concatenate([train.support_items.ravel(), train.query_items.ravel(), test.support_items.ravel()])
    labels = np.concatenate([train.support_y.ravel(), train.query_y.ravel(), test.support_y.ravel()])
    return items, labels + 1


def baseline_metrics(episodes: Episodes) -> dict:
    items, ratings = known_ratings(episodes)
    n_items = len(episodes.features.item_x)
    n_classes = episodes.features.n_classes
    global_mean = ratings.mean()
    sums = np.bincount(items, weights=ratings, minlength=n_items)
    counts = np.bincount(items, minlength=n_items)
    item_mean = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
    test = episodes.test()
    true = mindspore.Tensor.from_numpy(test.query_y + 1)
    scenario = mindspore.Tensor.from_numpy(test.query_scenario.astype(np.int64))
    predictions = {
        "global mean": np.full(test.query_items.shape, global_mean),
        "item mean": item_mean[test.query_items],
    }
    out = {}
    for name, pred in predictions.items():
        rounded = np.clip(np.rint(pred), 1, n_classes).astype(np.int64)
        out[name] = scenario_metrics(mindspore.Tensor.from_numpy(rounded), true, scenario)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=("ml-1m", "ml-100k", "bookcrossing"), required=True)
    parser.add_argument("--raw", required=True)
    parser.add_argument("--cache")
    args = parser.parse_args(argv)
    try:
        episodes = load_episodes(args.data, args.raw, args.cache)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(baseline_metrics(episodes), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
