"""The MAMO authors' own release (dongmanqing/Code-for-MAMO), migrated by this tool and run
side by side with the original on synthetic users: times, and how far the two runs drift apart.

    python bench/mamo_release.py PATH/TO/Code-for-MAMO [--users 30] [--perturb 1e-7]

The release is not part of this repository (its licence is its authors'); point the script at a
checkout.  It is copied (torch) and migrated with ``python -m migrate`` (MindSpore) into a
temporary folder, where both read the same synthetic MovieLens-shaped users written in the
release's own pickle layout (``data_processed/movielens/raw/sample_<u>_{x1,x2,y,y0}.p``).
Then the release's training (``MAMRec.train_with_meta_optimization``: 100 meta-train users,
the global update, then a local update of every test user) runs once in each framework from the
same state: the torch run saves its initial weights and memories, the MindSpore run loads them.

What the harness fixes, identically on both sides (the release itself is unchanged):
- the attention layer the release builds anew at every memory read (``Attention(n_k)``, random
  init) gets fixed weights;
- ``--rho`` (default 0.0005, the release's 0.01): at the release's rate the local updates
  saturate the softmax output within a few users, every gradient is 0 and a comparison would
  compare zeros;
- the task memory ``memory_UI`` is scaled by 0.01 for the same reason (N(0, 1) over 200x200).

Printed: each framework's training time and the ratio, the largest relative difference of each
user's returned gradients (every 5th user), and of the final global weights (phi) and memories.
``--perturb EPS`` adds a third run: torch again from the same state with its weights multiplied
by (1 + EPS * noise), which shows how fast the release's training amplifies rounding on its own
(measured: it tracks the torch-MindSpore difference user by user).
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_users(root: Path, n_users: int, seed: int = 0) -> None:
    """n_users synthetic users in the release's layout (ML-1M's vocabularies: 2 genders, 7 ages,
    21 occupations; items: rate, year, 25 genre and 2,186 director columns; 20 ratings each)."""
    path = root / "data_processed" / "movielens" / "raw"
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for u in range(1, n_users + 1):
        x1 = np.array([rng.integers(2), rng.integers(7), rng.integers(21)])
        x2 = np.zeros((20, 2 + 25 + 2186), dtype=np.int64)
        x2[:, 0] = rng.integers(6, size=20)
        x2[:, 1] = rng.integers(81, size=20)
        for r in range(20):
            x2[r, 2 + rng.integers(25, size=2)] = 1
            x2[r, 27 + rng.integers(2186)] = 1
        values = {"x1": x1, "x2": x2, "y": rng.integers(1, 6, size=20), "y0": rng.integers(4, size=20)}
        for name, value in values.items():
            with open(path / f"sample_{u}_{name}.p", "wb") as f:
                pickle.dump(value, f)


def run_side(framework: str, package: Path, state: Path, out: Path, rho: float, perturb: float) -> None:
    """One run of the release in ``framework`` (in this process): the torch run without a saved
    state writes it, every other run loads it."""
    import random
    import time

    os.chdir(package)
    sys.path.insert(0, str(package))
    import configs
    configs.config_settings["n_epoch"] = 1
    configs.config_settings["rho"] = rho
    import mamoRec
    import models
    from modules import memories

    n_k = configs.config_settings["n_k"]
    fixed_w = np.linspace(-0.5, 0.5, n_k * n_k, dtype=np.float32).reshape(n_k, n_k)
    fixed_b = np.linspace(0.1, -0.1, n_k, dtype=np.float32)
    if framework == "torch":
        import torch

        def arr(t):
            return t.detach().cpu().numpy()

        def put(t, a):
            t.data.copy_(torch.from_numpy(a))

        def tensor(a):
            return torch.from_numpy(a)

        def named(m):
            return dict(m.state_dict())
    else:
        import mindspore
        from _torch_compat import assign_data

        def arr(t):
            return t.asnumpy()

        def put(t, a):
            assign_data(t, mindspore.Tensor(a))

        def tensor(a):
            return mindspore.Tensor(a)

        def named(m):
            return {k.replace("embedding_table", "weight"): v for k, v in m.parameters_and_names()}

    init = memories.Attention.__init__

    def fixed_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        put(self.fc_layer.weight, fixed_w)
        put(self.fc_layer.bias, fixed_b)

    memories.Attention.__init__ = fixed_init
    random.seed(0)  # the release shuffles its users with Python's random
    train = mamoRec.MAMRec.train_with_meta_optimization
    mamoRec.MAMRec.train_with_meta_optimization = lambda self: None  # its __init__ trains at once
    rec = mamoRec.MAMRec()
    mamoRec.MAMRec.train_with_meta_optimization = train
    if not state.exists():
        rec.TaskMEM.memory_UI = rec.TaskMEM.memory_UI * 0.01
        saved = {"model." + k: arr(v) for k, v in named(rec.model).items()}
        saved["p_memory"] = arr(rec.FeatureMEM.p_memory)
        saved["memory_UI"] = arr(rec.TaskMEM.memory_UI)
        for j, t in enumerate(rec.FeatureMEM.u_memory[0]):  # every slot holds the same tensors
            saved[f"u_memory.{j}"] = arr(t)
        np.savez(state, **saved)
    else:
        saved = dict(np.load(state))
        rng = np.random.default_rng(1)
        for k, v in named(rec.model).items():
            value = saved["model." + k]
            if perturb:
                value = (value * (1 + perturb * rng.standard_normal(value.shape))).astype(value.dtype)
            put(v, value)
        rec.FeatureMEM.p_memory = tensor(saved["p_memory"])
        rec.TaskMEM.memory_UI = tensor(saved["memory_UI"])
        for j, t in enumerate(rec.FeatureMEM.u_memory[0]):
            put(t, saved[f"u_memory.{j}"])
        rec.phi_u, rec.phi_i, rec.phi_r = rec.model.get_weights()
    grads = {}
    local_train = models.LOCALUpdate.train

    def traced(self):
        result = local_train(self)
        grads[f"user.{len(grads):04d}"] = np.concatenate([arr(g).ravel() for group in result for g in group])
        return result

    models.LOCALUpdate.train = traced
    start = time.perf_counter()
    rec.train_with_meta_optimization()
    results = {"time": np.array(time.perf_counter() - start), **grads}
    for name in ("phi_u", "phi_i", "phi_r"):
        for j, t in enumerate(getattr(rec, name)):
            results[f"{name}.{j}"] = arr(t)
    results["p_memory"] = arr(rec.FeatureMEM.p_memory)
    results["memory_UI"] = arr(rec.TaskMEM.memory_UI)
    np.savez(out, **results)


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("release", type=Path, help="a checkout of the MAMO authors' release (Code-for-MAMO)")
    parser.add_argument("--users", type=int, default=30, help="synthetic users (80%% meta-train, at most 100 "
                                                              "of them trained; the rest tested)")
    parser.add_argument("--rho", type=float, default=0.0005, help="local learning rate (see above)")
    parser.add_argument("--perturb", type=float, default=0.0, help="also run torch from the state perturbed by "
                                                                   "this relative noise")
    parser.add_argument("--keep", type=Path, help="work in this folder (must not exist) and keep it")
    parser.add_argument("--side", nargs=4, metavar=("FRAMEWORK", "PACKAGE", "STATE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        framework, package, state, out = args.side
        run_side(framework, Path(package), Path(state), Path(out), args.rho, args.perturb)
        return 0
    if not (args.release / "mamoRec.py").is_file():
        parser.error(f"{args.release}: not the MAMO release (no mamoRec.py)")
    if args.keep is not None and args.keep.exists():
        parser.error(f"{args.keep} exists; give a new folder")
    work = args.keep or Path(tempfile.mkdtemp(prefix="mamo_release_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        torch_dir, ms_dir = work / "torch", work / "mindspore"
        shutil.copytree(args.release, torch_dir, ignore=shutil.ignore_patterns("__pycache__", "data_processed"))
        migrated = subprocess.run([sys.executable, "-m", "migrate", str(args.release), str(ms_dir)],
                                  cwd=ROOT, capture_output=True, text=True)
        print(migrated.stdout.strip().splitlines()[-3] if migrated.stdout.strip() else "")
        if migrated.returncode != 0:
            print(migrated.stdout, migrated.stderr, file=sys.stderr)
            return 1
        for folder in (torch_dir, ms_dir):
            write_users(folder, args.users)
        state = work / "state.npz"
        runs = [("torch", torch_dir, 0.0), ("mindspore", ms_dir, 0.0)]
        if args.perturb:
            runs.append(("torch", torch_dir, args.perturb))
        outputs = []
        for framework, folder, perturb in runs:
            out = work / f"{framework}{'_perturbed' if perturb else ''}.npz"
            command = [sys.executable, str(Path(__file__).resolve()), str(args.release), "--rho", str(args.rho),
                       "--perturb", str(perturb), "--side", framework, str(folder), str(state), str(out)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"the {framework} run failed:\n{done.stderr[-3000:]}", file=sys.stderr)
                return 1
            outputs.append(dict(np.load(out)))
        t, m = outputs[0], outputs[1]
        print(f"training (1 epoch, {args.users} synthetic users): torch {float(t['time']):.2f} s, "
              f"MindSpore {float(m['time']):.2f} s, ratio {float(m['time']) / float(t['time']):.2f}x")
        users = sorted(k for k in t if k.startswith("user."))
        header = "user   torch vs MindSpore" + ("   torch vs torch perturbed" if args.perturb else "")
        print("largest relative difference of each user's gradients:\n" + header)
        for k in users[::5]:
            line = f"{int(k[5:]):4d}   {_relative(t[k], m[k]):18.1e}"
            if args.perturb:
                line += f"   {_relative(t[k], outputs[2][k]):24.1e}"
            print(line)
        finals = [k for k in t if k.startswith(("phi_", "p_memory", "memory_UI"))]
        print("after the epoch (phi, memories): " + ", ".join(f"{k} {_relative(t[k], m[k]):.1e}" for k in finals))
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
