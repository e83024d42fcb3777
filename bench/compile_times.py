"""Where the migrated MindSpore model's first epoch spends its graph compilation.

    python bench/compile_times.py                  # the epoch workload of bench/epoch.py
    python bench/compile_times.py --test-users 320

Runs one epoch of the migrated MAMO (meta-training, then evaluation of the meta-test users) on
the same ML-1M-sized synthetic data as ``bench/epoch.py`` and prints, per part, each compiled
function's compilation time (every ``mindspore.jit`` graph, shape by shape: a function compiled
for two shapes is listed twice) and their total beside the part's wall time.  A second epoch is
timed too: it compiles nothing, so ``epoch 1 - epoch 2`` is what the first epoch pays for
compilation and warm-up.  The times come from wrapping MindSpore's own (private) ``compile``
method of its jit executor; a MindSpore without it is reported and the script stops.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from epoch import PACKAGES, setup_trainer  # noqa: E402 - bench/epoch.py, this script's neighbour


def record_compiles():
    """Wrap MindSpore's jit executor's ``compile``: returns the list it appends (seconds, name) to."""
    try:
        from mindspore.common import api
        executor = api._JitExecutor
        original = executor.compile
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"compile_times.py: this MindSpore has no _JitExecutor.compile to time ({exc})")
    log = []

    def compile(self, *args, **kwargs):
        start = time.perf_counter()
        result = original(self, *args, **kwargs)
        seconds = time.perf_counter() - start
        if seconds > 0.01:  # a cache hit costs ~0.3 ms; anything longer compiled a graph
            fn = getattr(self, "fn", None)
            name = getattr(fn, "__qualname__", str(fn)).replace(".<locals>", "")
            if name.endswith("after_grad"):  # mindspore.jit(value_and_grad(...)): the helper's compiled step
                name = "compiled training step (compiled_value_and_grad)"
            log.append((seconds, name))
        return result

    executor.compile = compile
    return log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-users", type=int, default=None, help="evaluate only the first N meta-test users")
    args = parser.parse_args(argv)
    from reference_torch.data import load_episodes, write_raw

    with tempfile.TemporaryDirectory() as tmp:
        raw = write_raw("ml-1m", Path(tmp) / "raw", 6040, 3706, 1000209, seed=0)
        episodes = load_episodes("ml-1m", raw, Path(tmp) / "cache")
        trainer, train, test = setup_trainer(PACKAGES["mindspore"], episodes, {}, args.test_users)
        log = record_compiles()
        walls = defaultdict(dict)
        for epoch in (1, 2):
            for part, run in (("meta-train", lambda: trainer.train_epoch(train)),
                              ("evaluate", lambda: trainer.evaluate(test))):
                log.clear()
                start = time.perf_counter()
                run()
                walls[part][epoch] = time.perf_counter() - start
                if epoch == 1:
                    total = sum(seconds for seconds, _ in log)
                    print(f"{part}, epoch 1: {walls[part][1]:.2f} s, of which {total:.2f} s compiling "
                          f"{len(log)} graph(s):")
                    for seconds, name in sorted(log, reverse=True):
                        print(f"    {seconds:6.2f} s  {name}")
                elif log:
                    print(f"{part}, epoch 2: {len(log)} graph(s) compiled again")
        for part, wall in walls.items():
            print(f"{part}: epoch 1 {wall[1]:.2f} s, epoch 2 {wall[2]:.2f} s (first-epoch extra {wall[1] - wall[2]:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
