"""Time MAMO's epoch workload (mamo.md): local updates for 100 meta-train users, one
global update, then evaluation of every meta-test user, on ML-1M-sized synthetic data.

    python bench/epoch.py                      # torch reference, and the migrated
                                               # MindSpore model where it is importable
    python bench/epoch.py --framework torch --users 6040 --items 3706 --ratings 1000209
    python bench/epoch.py --epochs 2           # the second epoch has no graph compilation
    python bench/epoch.py --compile-cache DIR  # MindSpore's own compile cache in DIR: run it
                                               # twice, the second run loads the graphs

Frameworks run one after the other in this process, on the same episodes, and the
ratio is printed: the figures are only comparable within one run on one machine.
"""
from __future__ import annotations

import argparse
import importlib
import os
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


def setup_trainer(package: str, episodes, cfg_kwargs: dict, test_users: int | None):
    """A ``package`` trainer with ``Config(**cfg_kwargs)``, the meta-train episodes and the
    meta-test episodes (only the first ``test_users`` when given)."""
    config = importlib.import_module(f"{package}.config")
    trainer_mod = importlib.import_module(f"{package}.trainer")
    trainer = trainer_mod.MAMOTrainer(config.Config(**cfg_kwargs), episodes.features)
    train, test = episodes.train(), episodes.test()
    if test_users:
        test = test.subset(list(range(min(test_users, len(test.user_index)))))
    return trainer, train, test


def run_epochs(package: str, episodes, cfg_kwargs: dict, test_users: int | None, epochs: int) -> list[dict]:
    """Time ``epochs`` epochs of one trainer; the first includes every graph compilation."""
    trainer, train, test = setup_trainer(package, episodes, cfg_kwargs, test_users)
    results = []
    for _ in range(epochs):
        start = time.perf_counter()
        stats = trainer.train_epoch(train)
        mid = time.perf_counter()
        metrics = trainer.evaluate(test)
        end = time.perf_counter()
        results.append({"train_s": mid - start, "eval_s": end - mid, "epoch_s": end - start,
                        "n_train": stats["n_users"], "n_test": len(test.user_index),
                        "query_loss": metrics["query_loss"], "mae": metrics["overall"]["mae"]})
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=("torch", "mindspore", "both"), default="both")
    parser.add_argument("--users", type=int, default=6040)
    parser.add_argument("--items", type=int, default=3706)
    parser.add_argument("--ratings", type=int, default=1000209)
    parser.add_argument("--test-users", type=int, help="evaluate only the first N meta-test users")
    parser.add_argument("--raw", type=Path, help="reuse a raw folder (else a synthetic one is written)")
    parser.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                        help="override a Config field for both frameworks, e.g. --set rho=0.001 (repeatable)")
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs per framework (default 1); the first includes MindSpore's graph "
                        "compilation, later ones show the steady state")
    parser.add_argument("--compile-cache", type=Path, metavar="DIR",
                        help="turn on MindSpore's compile cache (MS_COMPILER_CACHE_ENABLE/_PATH) in DIR; "
                        "a second run with the same DIR loads the compiled graphs instead of compiling")
    args = parser.parse_args(argv)
    if args.compile_cache is not None:
        if "mindspore" in sys.modules:
            parser.error("--compile-cache must be set before MindSpore is imported")
        args.compile_cache.mkdir(parents=True, exist_ok=True)
        os.environ["MS_COMPILER_CACHE_ENABLE"] = "1"
        os.environ["MS_COMPILER_CACHE_PATH"] = str(args.compile_cache.resolve())
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item}: use NAME=VALUE")
        overrides[name] = float(value) if "." in value or "e" in value.lower() else int(value)

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
            results[fw] = run_epochs(PACKAGES[fw], episodes, overrides, args.test_users, args.epochs)
            for i, r in enumerate(results[fw]):
                print(f"{fw:>9}: epoch {i + 1} {r['epoch_s']:7.2f} s  (train {r['n_train']} users {r['train_s']:.2f} s, "
                      f"evaluate {r['n_test']} users {r['eval_s']:.2f} s)  query loss {r['query_loss']:.4f}  "
                      f"MAE {r['mae']:.4f}  peak RSS so far {peak_rss_mb():.0f} MB")
        if len(results) == 2:
            for i, (m, t) in enumerate(zip(results["mindspore"], results["torch"])):
                print(f"ratio mindspore/torch, epoch {i + 1}: {m['epoch_s'] / t['epoch_s']:.2f}x "
                      f"(train {m['train_s'] / t['train_s']:.2f}x, evaluate {m['eval_s'] / t['eval_s']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
