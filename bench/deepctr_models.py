"""Run DeepCTR-Torch's models migrated, against torch: the same weights, the same inputs.

    python bench/deepctr_models.py PATH/TO/DeepCTR-Torch           # every model below
    python bench/deepctr_models.py PATH/TO/DeepCTR-Torch DIN DIEN  # some of them

Migrates the checkout (``python -m migrate``, into a temporary folder), builds each model in
both frameworks on the example data of its ``examples/run_din.py`` / ``run_dien.py`` (four
users, sparse, dense and variable-length features), draws torch's weights from N(0, 0.3^2)
(DeepCTR's own initialisation is near zero, which would hide differences), copies them into the
MindSpore model under ``migrate.weights.name_map``'s names and compares the predictions in
evaluation mode.  Prints one line per model and exits 1 when one fails or differs by more than
``--tol``.  DeepCTR imports scikit-learn, TensorFlow's Keras callbacks and requests at the top of
its modules; where they are not installed this script puts empty stand-ins in ``sys.modules``
(the forward pass uses none of them).  A benchmark of the tool on third-party code, not a test:
it needs a checkout of DeepCTR-Torch (the session notes used v0.2.9).
"""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: model -> how it is built: "din"/"dien" take the behaviour features, "both" takes the feature
#: columns twice (linear and dnn), "one" once, "sparse" both sparse-only
MODELS = {
    "DIN": "din", "DIEN": "dien", "DeepFM": "both", "WDL": "both", "xDeepFM": "both", "AutoInt": "both",
    "DCN": "both", "DCNMix": "both", "NFM": "both", "AFM": "sparse", "PNN": "one", "CCPM": "sparse",
    "FiBiNET": "both", "ONN": "both", "IFM": "both", "DIFM": "both", "AFN": "both", "MLR": "one",
}
DIEN_VARIANTS = [(gru, neg) for gru in ("GRU", "AIGRU", "AGRU", "AUGRU") for neg in (False, True)]


def stand_ins() -> None:
    """Empty modules for DeepCTR's imports that the forward pass does not use, where missing."""
    needed = {"sklearn": [], "sklearn.metrics": [], "requests": [], "tensorflow": [], "tensorflow.python": [],
              "tensorflow.python.keras": [],
              "tensorflow.python.keras.callbacks": ["CallbackList", "EarlyStopping", "ModelCheckpoint", "History"]}
    for name, classes in needed.items():
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            module.__all__ = []
            for cls in classes:
                setattr(module, cls, type(cls, (), {}))
            sys.modules[name] = module


def load(root: Path, example: str):
    """``deepctr_torch.models`` and ``examples/<example>`` from ``root``, imported afresh."""
    for name in [m for m in sys.modules if m.startswith("deepctr_torch") or m in ("run_din", "run_dien", "_torch_compat")]:
        del sys.modules[name]
    sys.path[:0] = [str(root), str(root / "examples")]
    try:
        return importlib.import_module("deepctr_torch.models"), importlib.import_module(example)
    finally:
        del sys.path[:2]


def build(models, name: str, how: str, columns, behaviour, variant):
    cls = getattr(models, name)
    if how == "din":
        return cls(columns, behaviour, device="cpu", dnn_dropout=0.0)
    if how == "dien":
        gru, neg = variant
        return cls(columns, behaviour, dnn_hidden_units=[4, 4, 4], dnn_dropout=0.0, gru_type=gru,
                   use_negsampling=neg, device="cpu")
    if how == "sparse":
        sparse = [c for c in columns if type(c).__name__ == "SparseFeat"]
        return cls(sparse, sparse, device="cpu")
    return cls(columns, columns, device="cpu") if how == "both" else cls(columns, device="cpu")


def compare(torch_root: Path, ms_root: Path, name: str, variant=None) -> float:
    """The largest difference between the two models' predictions (raises what a side raises)."""
    import mindspore
    import torch

    from migrate.weights import name_map

    how = MODELS[name]
    example = "run_dien" if how == "dien" else "run_din"
    options = {"use_neg": variant[1]} if how == "dien" else {}
    t_models, t_example = load(torch_root, example)
    x, y, columns, behaviour = t_example.get_xy_fd(**options)
    torch.manual_seed(0)
    t_model = build(t_models, name, how, columns, behaviour, variant)
    t_model.eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in t_model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    inputs = np.concatenate([np.asarray(x[f]).reshape(len(y), -1).astype(np.float32) for f in t_model.feature_index],
                            axis=1)
    want = t_model(torch.from_numpy(inputs)).detach().numpy()

    ms_models, ms_example = load(ms_root, example)
    _, _, ms_columns, ms_behaviour = ms_example.get_xy_fd(**options)
    ms_model = build(ms_models, name, how, ms_columns, ms_behaviour, variant)
    ms_model.set_train(False)
    params = ms_model.parameters_dict()
    state = t_model.state_dict()
    for t_name, ms_name in dict(name_map(t_model)).items():
        if ms_name in params:  # a Parameter registered twice in torch is one in MindSpore
            params[ms_name].set_data(mindspore.Tensor(state[t_name].numpy()))
    got = ms_model(mindspore.Tensor(inputs)).asnumpy()
    return float(np.abs(got - want).max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", type=Path, help="a DeepCTR-Torch checkout (the folder holding deepctr_torch/)")
    parser.add_argument("models", nargs="*", help=f"models to run (default: all of {', '.join(MODELS)})")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest difference accepted (default 1e-5)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    torch_root = args.checkout.resolve()
    if not (torch_root / "deepctr_torch").is_dir():
        parser.error(f"{torch_root} holds no deepctr_torch/ package")
    stand_ins()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        ms_root = Path(tmp) / "migrated"
        run = subprocess.run([sys.executable, "-m", "migrate", str(torch_root), str(ms_root)], cwd=ROOT,
                             capture_output=True, text=True)
        print(run.stdout.splitlines()[1] if run.stdout.count("\n") > 1 else run.stdout.strip())
        if run.returncode not in (0, 1):  # 1: sites left for a person, the report says which
            print(run.stderr, file=sys.stderr)
            return 1
        for name in args.models or MODELS:
            for variant in (DIEN_VARIANTS if MODELS[name] == "dien" else [None]):
                label = name if variant is None else f"{name} ({variant[0]}{', negative sampling' if variant[1] else ''})"
                try:
                    diff = compare(torch_root, ms_root, name, variant)
                except Exception as exc:  # a model that fails to build or run: report it, go on
                    failed += 1
                    print(f"{label:40s} FAILED  {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                    continue
                ok = diff <= args.tol
                failed += not ok
                print(f"{label:40s} {'ok     ' if ok else 'DIFFERS'} largest difference {diff:.2e}")
    print(f"{failed} of the runs failed or differ" if failed else "all runs give torch's predictions")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
