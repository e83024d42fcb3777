"""Time the data layer: synthetic write, parse, build_episodes, cache write, cache read.

    python bench/preprocess.py                       # ML-1M-sized synthetic (6,040 / 3,706 / 1,000,209)
    python bench/preprocess.py --users 943 --items 1682 --ratings 100000 --synthetic-layout ml-100k
    python bench/preprocess.py --real ../shared/data/ml-100k --layout ml-100k [--no-synthetic]

The synthetic raw dir and the cache go to a temporary directory (removed
unless --keep); a real raw dir is only read (its cache goes to the temp dir).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_torch.data import (DATASETS, build_episodes, load_episodes, read_episodes,  # noqa: E402
                                  save_episodes, write_raw)


def _timed(label, fn, times):
    t0 = time.perf_counter()
    out = fn()
    times[label] = time.perf_counter() - t0
    print(f"  {label:<22s} {times[label]:8.3f} s", flush=True)
    return out


def run(layout: str, raw_dir: Path, work: Path, write=None) -> dict:
    times: dict[str, float] = {}
    if write is not None:
        _timed("write synthetic raw", write, times)
    parse = DATASETS[layout][0]
    raw = _timed("parse", lambda: parse(raw_dir), times)
    ep = _timed("build_episodes", lambda: build_episodes(raw, layout), times)
    path = work / f"{layout}.npz"
    _timed("cache write", lambda: save_episodes(ep, path), times)
    back = _timed("cache read", lambda: read_episodes(path), times)
    assert back == ep, "cache round trip differs"
    cache = work / "cache"
    _timed("load_episodes (cold)", lambda: load_episodes(layout, raw_dir, cache_dir=cache), times)
    _timed("load_episodes (warm)", lambda: load_episodes(layout, raw_dir, cache_dir=cache), times)
    times["parse + build"] = times["parse"] + times["build_episodes"]
    print(f"  {'parse + build':<22s} {times['parse + build']:8.3f} s")
    print(f"  ratings {len(raw.ratings):,}  cache file {path.stat().st_size / 1e6:.1f} MB")
    s = ep.summary()
    print("  " + json.dumps(s))
    return {"layout": layout, "times": times, "summary": s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=6040)
    ap.add_argument("--items", type=int, default=3706)
    ap.add_argument("--ratings", type=int, default=1_000_209)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synthetic-layout", choices=sorted(DATASETS), default="ml-1m")
    ap.add_argument("--layout", choices=sorted(DATASETS), default="ml-100k", help="layout of --real")
    ap.add_argument("--real", type=Path, default=None, help="also time this real raw directory")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mamo-preprocess-"))
    results = []
    try:
        if not args.no_synthetic:
            layout = args.synthetic_layout
            raw_dir = work / f"raw-{layout}"
            print(f"synthetic {layout}: {args.users:,} users, {args.items:,} items, {args.ratings:,} ratings "
                  f"-> {raw_dir}")
            results.append(run(layout, raw_dir, work / "syn",
                               write=lambda: write_raw(layout, raw_dir, args.users, args.items, args.ratings,
                                                       seed=args.seed)))
        if args.real is not None:
            layout = args.layout
            print(f"real {layout}: {args.real}")
            results.append(run(layout, args.real, work / "real"))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
