"""Conversion speed on real PyTorch code: the installed torch package's own
nn/, optim/ and utils/data/ sources (~70k lines).

    .venv/bin/python bench/migrate_speed.py [--jobs 1 2] [--parts nn optim utils/data]

Prints lines/s per --jobs value, file counts and the conversion statistics.
PaConvert is reported at ~2,500 lines/s on this kind of code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migrate.report import counts  # noqa: E402
from migrate.runner import run  # noqa: E402
from migrate.spec import load_spec  # noqa: E402


def torch_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("torch is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def build_source(parts, into: Path) -> Path:
    """Copy the chosen torch subpackages (Python files only) into one tree."""
    root = torch_root()
    src = into / "src"
    for part in parts:
        base = root / part
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if name.endswith(".py"):
                    rel = Path(dirpath, name).relative_to(root)
                    target = src / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(Path(dirpath, name), target)
    return src


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--parts", nargs="+", default=["nn", "optim", "utils/data"])
    args = parser.parse_args(argv)
    spec = load_spec()
    with tempfile.TemporaryDirectory(prefix="migrate-bench-") as tmp:
        tmp = Path(tmp)
        src = build_source(args.parts, tmp)
        result = None
        for jobs in args.jobs:
            dst = tmp / f"out{jobs}"
            started = time.perf_counter()
            result = run(src, dst, jobs=jobs, spec=spec, progress=False)
            seconds = time.perf_counter() - started
            c = counts(result)
            print(f"jobs={jobs}: {c['lines']} lines in {seconds:.2f} s = {c['lines'] / seconds:,.0f} lines/s")
        c = counts(result)
        f, s = c["files"], c["sites"]
        print(f"torch parts: {', '.join(args.parts)} from {torch_root()}")
        print(f"files: {f['converted']} changed, {f['unchanged']} unchanged, {f['failed']} failed, {f['copied']} copied")
        print(
            f"sites: {s['converted']} converted, {s['uncertain']} uncertain, {s['unsupported']} unsupported"
            f" — conversion rate {c['conversion_rate']:.1%}"
        )
        for fr in result.files:
            if fr.status == "failed":
                print(f"  failed: {fr.path}:{fr.error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
