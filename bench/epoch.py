"""Time MAMO's epoch workload (mamo.md): local updates for 100 meta-train users, one
global update, then evaluation of every meta-test user, on ML-1M-sized synthetic data.

    python bench/epoch.py                      # torch reference, and the migrated
                                               # MindSpore model where it is importable
    python bench/epoch.py --framework torch --users 6040 --items 3706 --ratings 1000209
    python bench/epoch.py --epochs 2           # the second epoch has no graph compilation
    python bench/epoch.py --compile-cache DIR  # MindSpore's own compile cache in DIR: run it
                                               # twice, the second run loads the graphs
    python bench/epoch.py --repeat 3           # three fresh processes on the same data: each
                                               # run's figures, then median and range

Frameworks run one after the other in this process, on the same episodes, and the
ratio is printed: the figures are only comparable within one run on one machine.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
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
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the whole measurement N times, each in a fresh process on the same data "
                        "(so each includes its own compilation), and print the median and range")
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)  # a --repeat child's results
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.repeat > 1:
        return repeat(args, argv if argv is not None else sys.argv[1:])
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
        if args.json is not None:
            args.json.write_text(json.dumps({"results": results, "peak_rss_mb": peak_rss_mb()}))
        if len(results) == 2:
            for i, (m, t) in enumerate(zip(results["mindspore"], results["torch"])):
                print(f"ratio mindspore/torch, epoch {i + 1}: {m['epoch_s'] / t['epoch_s']:.2f}x "
                      f"(train {m['train_s'] / t['train_s']:.2f}x, evaluate {m['eval_s'] / t['eval_s']:.2f}x)")
    return 0


def _without(argv: list[str], flag: str) -> list[str]:
    """argv without ``flag`` and its value (``--flag V`` or ``--flag=V``)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        elif not item.startswith(flag + "="):
            out.append(item)
    return out


def repeat(args, argv: list[str]) -> int:
    """Run this script ``args.repeat`` times in fresh processes on one synthetic data set."""
    from reference_torch.data import write_raw

    child_argv = _without(_without(argv, "--repeat"), "--json")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.raw is None:
            raw = write_raw("ml-1m", Path(tmp) / "raw", args.users, args.items, args.ratings, seed=0)
            child_argv = _without(child_argv, "--raw") + ["--raw", str(raw)]
        for run in range(args.repeat):
            out = Path(tmp) / f"run{run}.json"
            print(f"--- run {run + 1} of {args.repeat}", flush=True)
            done = subprocess.run([sys.executable, __file__, *child_argv, "--json", str(out)])
            if done.returncode != 0:
                print(f"run {run + 1} failed (exit {done.returncode})", file=sys.stderr)
                return done.returncode
            runs.append(json.loads(out.read_text()))

    def summary(values: list[float], unit: str) -> str:
        return f"median {statistics.median(values):.2f}{unit} (range {min(values):.2f}-{max(values):.2f}{unit})"

    print(f"=== {args.repeat} runs")
    frameworks = [fw for fw in ("torch", "mindspore") if all(fw in r["results"] for r in runs)]
    for fw in frameworks:
        for epoch in range(len(runs[0]["results"][fw])):
            rows = [r["results"][fw][epoch] for r in runs]
            print(f"{fw:>9}: epoch {epoch + 1} {summary([x['epoch_s'] for x in rows], ' s')}; "
                  f"train {summary([x['train_s'] for x in rows], ' s')}; evaluate {summary([x['eval_s'] for x in rows], ' s')}")
    if len(frameworks) == 2:
        for epoch in range(len(runs[0]["results"]["torch"])):
            ratios = [r["results"]["mindspore"][epoch]["epoch_s"] / r["results"]["torch"][epoch]["epoch_s"] for r in runs]
            print(f"ratio mindspore/torch, epoch {epoch + 1}: {summary(ratios, 'x')}")
    print(f"peak RSS per run (both frameworks in one process): {summary([r['peak_rss_mb'] for r in runs], ' MB')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
