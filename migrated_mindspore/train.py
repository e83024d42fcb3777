"""Train and evaluate MAMO.

    python -m reference_torch.train --data synthetic
    python -m reference_torch.train --data ml-100k --raw ../shared/data/ml-100k --epochs 5

Writes ``checkpoint.npz`` (the whole trainer state as named arrays, written atomically
after every epoch; ``--resume`` continues from it to the same result) and
``results.json`` (config, per-epoch metrics) into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from .config import Config
from .data import DataError, load_episodes
from .data.cache import write_npz_atomic
from .data.synthetic import write_raw
from .metrics import SCENARIOS
from .trainer import MAMOTrainer

DATASETS = ("ml-1m", "ml-100k", "bookcrossing", "synthetic")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m " + __package__ + ".train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=DATASETS, required=True, help="dataset layout to read")
    parser.add_argument("--raw", type=Path, help="folder with the raw files (for synthetic: where to write them)")
    parser.add_argument("--cache", type=Path, help="folder for the preprocessed episode cache")
    parser.add_argument("--out", type=Path, help="output folder (default runs/<data>)")
    parser.add_argument("--epochs", type=int, help="number of epochs (default: config n_epoch)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")
    parser.add_argument("--synthetic-users", type=int, default=300)
    parser.add_argument("--synthetic-items", type=int, default=400)
    parser.add_argument("--synthetic-ratings", type=int, default=15000)
    parser.add_argument("--synthetic-layout", choices=DATASETS[:3], default="ml-1m")
    parser.add_argument("--max-test-users", type=int, help="evaluate only the first N meta-test users")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    for f in fields(Config):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), dest=f.name, default=None,
                            help=f"default {f.default}")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    return Config(**overrides)


def load_data(args: argparse.Namespace, cfg: Config):
    build = dict(support_size=cfg.support_size, query_size=cfg.query_size,
                 split_ratio=cfg.split_ratio, seed=cfg.random_state)
    if args.data == "synthetic":
        raw = args.raw or Path(".cache") / f"synthetic-{args.synthetic_layout}-{args.synthetic_users}"
        if not raw.exists() or not any(raw.iterdir()):
            write_raw(args.synthetic_layout, raw, args.synthetic_users, args.synthetic_items,
                      args.synthetic_ratings, seed=cfg.seed)
        return load_episodes(args.synthetic_layout, raw, args.cache, **build)
    if args.raw is None:
        raise DataError(f"--raw DIR is required for --data {args.data}")
    return load_episodes(args.data, args.raw, args.cache, **build)


def format_row(epoch: int, train: dict, test: dict, seconds: float) -> str:
    cells = [f"{epoch:>5}", f"{train['train_query_loss']:>10.4f}", f"{test['query_loss']:>9.4f}"]
    for name in SCENARIOS + ("overall",):
        m = test[name]
        cells.append("     -/-    " if m["mae"] is None else f"{m['mae']:.4f}/{(m['ndcg@3'] or 0):.4f}")
    cells.append(f"{seconds:>6.1f}s")
    return "  ".join(cells)


HEADER = "  ".join(["epoch", "train-loss", "test-loss"] + [f"{s:^11}" for s in SCENARIOS + ("overall",)] + ["  time"])


def save_checkpoint(path: Path, trainer: MAMOTrainer, history: list, cfg: Config) -> None:
    """Atomically write the trainer state and the run's history."""
    arrays = dict(trainer.state_arrays())
    arrays["__meta__"] = np.array(json.dumps({"epoch": trainer.epoch, "history": history, "config": cfg.to_dict()}))
    write_npz_atomic(path, arrays)


def load_checkpoint(path: Path) -> tuple[dict, dict]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("__meta__")))
    except Exception as exc:  # a truncated or foreign file: say which one
        raise DataError(f"{path}: not a readable checkpoint ({exc})") from exc
    return arrays, meta


def run(argv=None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    episodes = load_data(args, cfg)
    train, test = episodes.train(), episodes.test()
    if args.max_test_users:
        test = test.subset(np.arange(min(args.max_test_users, len(test.user_index))))
    out = args.out or Path("runs") / args.data
    out.mkdir(parents=True, exist_ok=True)
    trainer = MAMOTrainer(cfg, episodes.features)
    history = []
    ckpt = out / "checkpoint.npz"
    if args.resume:
        if not ckpt.exists():
            raise DataError(f"{ckpt}: no checkpoint to resume from")
        arrays, meta = load_checkpoint(ckpt)
        trainer.load_state_arrays(arrays)
        trainer.epoch, history = meta["epoch"], meta["history"]
    n_epoch = args.epochs if args.epochs is not None else cfg.n_epoch
    print(f"{args.data}: {len(train.user_index)} meta-train users, {len(test.user_index)} meta-test users; "
          f"epochs {trainer.epoch + 1}..{n_epoch}", file=sys.stderr)
    print(HEADER)
    for row in history:
        print(format_row(row["epoch"], row["train"], row["test"], row["seconds"]))
    while trainer.epoch < n_epoch:
        start = time.perf_counter()
        train_stats = trainer.train_epoch(train, progress=not args.no_progress)
        test_stats = trainer.evaluate(test, progress=not args.no_progress)
        seconds = time.perf_counter() - start
        history.append({"epoch": trainer.epoch, "train": train_stats, "test": test_stats, "seconds": seconds})
        print(format_row(trainer.epoch, train_stats, test_stats, seconds), flush=True)
        save_checkpoint(ckpt, trainer, history, cfg)
    results = {"data": args.data, "config": cfg.to_dict(), "history": history,
               "final": history[-1]["test"] if history else None}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {out / 'results.json'} and {ckpt}", file=sys.stderr)
    return results


def main(argv=None) -> int:
    try:
        run(argv)
    except (DataError, ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
