"""Where an epoch's time goes, phase by phase, in both frameworks (the README's breakdown).

    python bench/phases.py                    # both frameworks, 320 meta-test users
    python bench/phases.py --test-users 1177 --framework mindspore

Each framework runs one warm-up epoch (compilation), then one timed epoch in which these
phases are timed: building a batch's learner (memory read and reset), computing the gradients
(``loss.backward()`` in torch, ``mindspore.value_and_grad`` in the migrated code), clipping and
the Adam step.  MindSpore runs compiled graphs asynchronously, so after each phase the timer
reads a result back to the host: the phases add up to more than an unsynchronised run (by the
waits it forces), and the remainder ("other") is everything else (memory writes, global
gradients, data loading, metrics).  Same ML-1M-sized synthetic data as ``bench/epoch.py``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from epoch import PACKAGES, setup_trainer  # noqa: E402 - bench/epoch.py, this script's neighbour


def _first_tensor(value):
    while isinstance(value, (tuple, list)):
        value = value[-1]
    return value


def _timed(owner, name: str, label: str, totals: dict, sync) -> None:
    """Replace owner.name by a wrapper adding its (synchronised) time to totals[label]."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = original(*args, **kwargs)
        sync(result, args)
        totals[label] += time.perf_counter() - start
        return result

    setattr(owner, name, wrapper)


def instrument(framework: str, trainer_mod, totals: dict) -> None:
    if framework == "torch":
        import torch

        no_sync = lambda result, args: None  # noqa: E731 - torch on a CPU is synchronous
        _timed(torch.Tensor, "backward", "gradients", totals, no_sync)
        _timed(torch.optim.Adam, "step", "adam", totals, no_sync)
        _timed(trainer_mod.MAMOTrainer, "clip", "clip", totals, no_sync)
        _timed(trainer_mod.MAMOTrainer, "make_learner", "make_learner", totals, no_sync)
        return
    import mindspore

    compat = importlib.import_module(f"{PACKAGES[framework]}._torch_compat")

    def read_back(tensor):
        if tensor is not None and hasattr(tensor, "asnumpy"):
            tensor.asnumpy()

    def after_step(result, args):  # the optimizer: its last parameter
        read_back(args[0].param_groups[0]["params"][-1])

    def after_clip(result, args):  # the learner's last gradient
        read_back(list(args[1].trainable_params())[-1].grad)

    _timed(compat.Adam, "step", "adam", totals, after_step)
    _timed(trainer_mod.MAMOTrainer, "clip", "clip", totals, after_clip)
    _timed(trainer_mod.MAMOTrainer, "make_learner", "make_learner",
           totals, lambda result, args: read_back(list(result.trainable_params())[-1]))
    def timed_gradients(make):
        def wrapped(*args, **kwargs):
            fn = make(*args, **kwargs)

            def run(*call_args):
                start = time.perf_counter()
                result = fn(*call_args)
                read_back(_first_tensor(result[1]))
                totals["gradients"] += time.perf_counter() - start
                return result

            return run

        return wrapped

    # the gradients come from the helper's compiled form where the tool found the steps pure,
    # else from mindspore.value_and_grad (patched on MindSpore's module itself, which the
    # helper's compiled form calls too: so only one of the two is timed)
    if hasattr(trainer_mod, "compiled_value_and_grad"):
        trainer_mod.compiled_value_and_grad = timed_gradients(trainer_mod.compiled_value_and_grad)
    else:
        trainer_mod.mindspore.value_and_grad = timed_gradients(mindspore.value_and_grad)


def run(framework: str, episodes, test_users: int) -> dict:
    trainer, train, test = setup_trainer(PACKAGES[framework], episodes, {}, test_users)
    totals = defaultdict(float)
    instrument(framework, importlib.import_module(f"{PACKAGES[framework]}.trainer"), totals)
    result = {}
    for epoch in range(2):
        totals.clear()
        start = time.perf_counter()
        trainer.train_epoch(train)
        mid = time.perf_counter()
        train_totals = dict(totals)
        totals.clear()
        trainer.evaluate(test)
        end = time.perf_counter()
        result = {"train": (mid - start, train_totals), "evaluate": (end - mid, dict(totals))}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framework", choices=("torch", "mindspore", "both"), default="both")
    parser.add_argument("--test-users", type=int, default=320, help="meta-test users evaluated (default 320)")
    args = parser.parse_args(argv)
    from reference_torch.data import load_episodes, write_raw

    with tempfile.TemporaryDirectory() as tmp:
        raw = write_raw("ml-1m", Path(tmp) / "raw", 6040, 3706, 1000209, seed=0)
        episodes = load_episodes("ml-1m", raw, Path(tmp) / "cache")
        frameworks = ["torch", "mindspore"] if args.framework == "both" else [args.framework]
        for framework in frameworks:
            for part, (total, phases) in run(framework, episodes, args.test_users).items():
                shown = ", ".join(f"{name} {seconds:.2f}" for name, seconds in sorted(phases.items()))
                other = total - sum(phases.values())
                print(f"{framework:>9} {part:8s} {total:6.2f} s (second epoch): {shown}, other {other:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
