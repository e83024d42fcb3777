"""What each table entry costs to compile inside ``mindspore.jit``, to find the expensive targets.

    python bench/compile_costs.py                 # every entry with a numeric case, slowest first
    python bench/compile_costs.py --top 20 torch.arange torch.Tensor.view

MindSpore's graph compiler spends most of a graph's compilation in its frontend (type
inference), and its cost differs widely between targets that compute the same thing:
``ops.arange`` cost ~40 ms per call where ``ops.range`` cost ~7 ms (MindSpore 2.10), because
the former sorts its arguments' types out in Python-level code that is compiled with the graph.
This script converts each numeric case of ``tests/test_migrate_numeric.py`` (one small torch
function per table entry) with the real table, compiles the converted function with
``mindspore.jit`` on the case's inputs, and prints the first call's time (compilation and one
run) per converted call site, beside a trivial function's (``return x``) as the baseline.  Each
case is compiled in this one process, one after another, so the numbers compare with each
other; the absolute figures move with the machine.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def first_call_seconds(f, args) -> float:
    import mindspore

    start = time.perf_counter()
    out = mindspore.jit(f)(*args)
    for leaf in out if isinstance(out, (tuple, list)) else (out,):
        if hasattr(leaf, "asnumpy"):
            leaf.asnumpy()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", help="table entries to measure (default: every numeric case)")
    parser.add_argument("--top", type=int, default=30, help="print the N slowest (default 30)")
    args = parser.parse_args(argv)

    import mindspore
    import numpy as np
    import test_migrate_numeric as numeric  # the cases and their inputs (tests/, a neighbour)
    from migrate import helpers
    from migrate.codemod import convert_source

    keys = args.keys or sorted(set(numeric.CASES) - numeric._BUILDS_A_CELL)
    unknown = [k for k in keys if k not in numeric.CASES]
    if unknown:
        raise SystemExit(f"compile_costs.py: no numeric case for {', '.join(unknown)}")
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        (Path(tmp) / "_torch_compat.py").write_text(helpers.source("_torch_compat"))  # as migrate writes it

        def load(key: str, body: str):
            source, used = numeric._source(body)
            converted = convert_source(source, numeric.SPEC, "case.py")
            module = f"costcase_{zlib.crc32(key.encode())}"
            (Path(tmp) / f"{module}.py").write_text(converted.code)
            f = importlib.import_module(module).f
            rng = np.random.default_rng(zlib.crc32(key.encode()))
            inputs = {n: numeric._draw(numeric.INPUTS[n], rng) for n in used}
            call_args = [inputs[n] if numeric.INPUTS[n][0] == "numpy" else mindspore.Tensor(inputs[n].copy())
                         for n in used]
            sites = sum(1 for s in converted.sites if s.kind == "converted")
            return f, call_args, max(sites, 1)

        base_f, base_args, _ = load("baseline", "return x")
        baseline = first_call_seconds(base_f, base_args)
        for n, key in enumerate(keys, 1):
            try:
                f, call_args, sites = load(key, numeric.CASES[key])
                seconds = first_call_seconds(f, call_args)
            except Exception as exc:  # a target that does not compile is reported, not fatal
                failed.append((key, str(exc).splitlines()[0][:100]))
                continue
            rows.append(((seconds - baseline) / sites, seconds, sites, key))
            print(f"\r{n}/{len(keys)} compiled", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    rows.sort(reverse=True)
    print(f"baseline (return x): {baseline * 1000:.1f} ms; {len(rows)} cases, slowest first "
          f"(first call minus baseline, per converted call site):")
    for per_site, seconds, sites, key in rows[: args.top]:
        print(f"  {per_site * 1000:7.1f} ms/site  {seconds * 1000:7.1f} ms  {sites:2d} site(s)  {key}")
    total = sum(r[1] for r in rows)
    print(f"all {len(rows)} cases: {total:.1f} s; median per site "
          f"{sorted(r[0] for r in rows)[len(rows) // 2] * 1000:.1f} ms")
    for key, reason in failed:
        print(f"  did not compile: {key}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
