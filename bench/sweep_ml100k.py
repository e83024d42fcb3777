"""Hyper-parameter grid for MAMO on the real MovieLens-100K, one run after the other.

    python bench/sweep_ml100k.py --epochs 5 --grid rho=0.01,0.001 lamda=0.05,0.0005
    python bench/sweep_ml100k.py --epochs 5 --set users_per_epoch=754 meta_batch_size=25 \
        --grid rho=0.001 lamda=0.002 --grid-seeds random_state=100,101,102

Every run goes through ``reference_torch.train.run([...])`` (so through the CLI's own config
handling); its per-epoch output is kept in ``<out>/<tag>/log.txt``. ``--grid KEY=V1,V2,...``
values are crossed; ``--set KEY=V`` is fixed for all runs. A ``random_state`` in the grid
changes the meta-train/meta-test split, so the baselines (global / item mean) are printed
for every split used. Table: final-epoch test metrics (no epoch is picked on the test set),
the largest test query loss over the epochs (a divergence flag) and the time per run.
MAE / nDCG@3 per scenario.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference_torch.baselines import baseline_metrics  # noqa: E402
from reference_torch.config import Config  # noqa: E402
from reference_torch.data import load_episodes  # noqa: E402
from reference_torch.train import run  # noqa: E402

SCEN = ("W-W", "W-C", "C-W", "C-C", "overall")


def parse_pairs(items, multi: bool) -> dict:
    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        key = key.replace("-", "_")
        if not hasattr(Config, key):
            raise SystemExit(f"unknown Config field {key!r}")
        kind = type(getattr(Config, key))
        values = [kind(v) for v in value.split(",")] if multi else kind(value)
        out[key] = values
    return out


def cells(metrics: dict) -> str:
    parts = []
    for s in SCEN:
        m = metrics[s]
        parts.append("  -/-  " if m["mae"] is None else f"{m['mae']:.3f}/{(m['ndcg@3'] or 0):.3f}")
    return " ".join(f"{p:>11}" for p in parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", default="/work/shared/data/ml-100k")
    parser.add_argument("--cache", default="/tmp/c100k")
    parser.add_argument("--out", default="/tmp/sweep")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--grid", nargs="*", help="KEY=V1,V2,... (crossed)")
    parser.add_argument("--set", nargs="*", dest="fixed", help="KEY=V (fixed)")
    args = parser.parse_args(argv)
    grid = parse_pairs(args.grid, multi=True)
    fixed = parse_pairs(args.fixed, multi=False)
    keys = list(grid)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*[grid[k] for k in keys])] or [{}]

    splits = sorted({c.get("random_state", fixed.get("random_state", Config.random_state)) for c in combos})
    head = f"{'':<44}" + " ".join(f"{s:>11}" for s in SCEN)
    print("baselines (MAE/nDCG@3), rounded predictions, same metric code")
    print(head)
    for rs in splits:
        eps = load_episodes("ml-100k", args.raw, args.cache, seed=rs)
        for name, metrics in baseline_metrics(eps).items():
            print(f"{name + f' (split {rs})':<44}" + cells(metrics))
    print()
    print(f"{'run':<44}" + " ".join(f"{s:>11}" for s in SCEN) + f"{'test-loss':>10}{'max-loss':>10}{'time':>7}")
    for combo in combos:
        conf = {**fixed, **combo}
        tag = "_".join(f"{k}={v}" for k, v in conf.items()) or "defaults"
        out = Path(args.out) / tag
        argv_run = ["--data", "ml-100k", "--raw", args.raw, "--cache", args.cache, "--out", str(out),
                    "--no-progress", "--epochs", str(args.epochs)]
        for k, v in conf.items():
            argv_run += ["--" + k.replace("_", "-"), str(v)]
        log = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            results = run(argv_run)
        seconds = time.perf_counter() - start
        out.mkdir(parents=True, exist_ok=True)
        (out / "log.txt").write_text(log.getvalue())
        final = results["final"]
        worst = max(h["test"]["query_loss"] for h in results["history"])
        label = " ".join(f"{k}={v}" for k, v in combo.items()) or "defaults"
        print(f"{label:<44}" + cells(final) + f"{final['query_loss']:>10.4g}{worst:>10.3g}{seconds:>6.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
