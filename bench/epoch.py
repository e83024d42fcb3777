"""Time MAMO's epoch workload (mamo.md): local updates for 100 meta-train users, one
global update, then evaluation of every meta-test user, on ML-1M-sized synthetic data.

    python bench/epoch.py                      # torch reference, and the migrated
                                               # MindSpore model where it is importable
    python bench/epoch.py --framework torch --users 6040 --items 3706 --ratings 1000209

Frameworks run one after the other in this process, on the same episodes, and the
ratio is printed: the figures are only comparable within one run on one machine.
"""
from __future__ import annotations

import argparse
import importlib
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PACKAGES = {"torch": "reference_torch", "mindspore": "migrated_mindspore"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_epoch(package: str, episodes, cfg_kwargs: dict, test_users: int | None) -> dict:
    config = importlib.import_module(f"{package}.config")
    trainer_mod = importlib.import_module(f"{package}.trainer")
    cfg = config.Config(**cfg_kwargs)
    trainer = trainer_mod.MAMOTrainer(cfg, episodes.features)
    train, test = episodes.train(), episodes.test()
    if test_users:
        test = test.subset(list(range(min(test_users, len(test.user_index)))))
    start = time.perf_counter()
    stats = trainer.train_epoch(train)
    mid = time.perf_counter()
    metrics = trainer.evaluate(test)
    end = time.perf_counter()
    return {"train_s": mid - start, "eval_s": end - mid, "epoch_s": end - start,
            "n_train": stats["n_users"], "n_test": len(test.user_index),
            "query_loss": metrics["query_loss"], "mae": metrics["overall"]["mae"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=("torch", "mindspore", "both"), default="both")
    parser.add_argument("--users", type=int, default=6040)
    parser.add_argument("--items", type=int, default=3706)
    parser.add_argument("--ratings", type=int, default=1000209)
    parser.add_argument("--test-users", type=int, help="evaluate only the first N meta-test users")
    parser.add_argument("--raw", type=Path, help="reuse a raw folder (else a synthetic one is written)")
    args = parser.parse_args(argv)

    from reference_torch.data import load_episodes, write_raw

    with tempfile.TemporaryDirectory() as tmp:
        raw = args.raw
        t0 = time.perf_counter()
        if raw is None:
            raw = write_raw("ml-1m", Path(tmp) / "raw", args.users, args.items, args.ratings, seed=0)
        t1 = time.perf_counter()
        episodes = load_episodes("ml-1m", raw, Path(tmp) / "cache")
        t2 = time.perf_counter()
        print(f"data: {len(episodes.user_index)} users ({int(episodes.is_train.sum())} meta-train, "
              f"{int((~episodes.is_train).sum())} meta-test); synthetic write {t1 - t0:.1f} s, "
              f"preprocess (parse + episodes + cache) {t2 - t1:.1f} s")
        frameworks = ["torch", "mindspore"] if args.framework == "both" else [args.framework]
        results = {}
        for fw in frameworks:
            try:
                importlib.import_module(f"{PACKAGES[fw]}.trainer")
            except Exception as exc:  # the migrated package may not exist yet
                print(f"{fw}: skipped ({PACKAGES[fw]} not importable: {exc})")
                continue
            results[fw] = r = run_epoch(PACKAGES[fw], episodes, {}, args.test_users)
            print(f"{fw:>9}: epoch {r['epoch_s']:7.2f} s  (train {r['n_train']} users {r['train_s']:.2f} s, "
                  f"evaluate {r['n_test']} users {r['eval_s']:.2f} s)  query loss {r['query_loss']:.4f}  "
                  f"MAE {r['mae']:.4f}  peak RSS so far {peak_rss_mb():.0f} MB")
        if len(results) == 2:
            print(f"ratio mindspore/torch: {results['mindspore']['epoch_s'] / results['torch']['epoch_s']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
