"""Whole files: tests/golden/<name>.py converts to <name>.expected.py, the
result is stable, and the converted model computes what the torch one does.

Set MIGRATE_UPDATE_GOLDEN=1 to rewrite the expected files (then review the diff).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from migrate import helpers
from migrate.codemod import convert_source
from migrate.spec import load_spec

GOLDEN = Path(__file__).parent / "golden"
SOURCES = sorted(p for p in GOLDEN.glob("*.py") if not p.name.endswith(".expected.py"))
SPEC = load_spec()


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_golden_file(source: Path):
    expected = source.with_name(source.stem + ".expected.py")
    out = convert_source(source.read_text(), SPEC, source.name).code
    if os.environ.get("MIGRATE_UPDATE_GOLDEN") == "1":
        expected.write_text(out)
    assert expected.exists(), f"run with MIGRATE_UPDATE_GOLDEN=1 to create {expected.name}"
    assert out == expected.read_text()
    compile(out, str(expected), "exec")
    assert convert_source(out, SPEC, source.name).code == out, "not idempotent"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import does: mindspore.jit resolves globals through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recommender_pair(tmp_path_factory):
    torch = pytest.importorskip("torch")
    mindspore = pytest.importorskip("mindspore")
    tmp = tmp_path_factory.mktemp("golden")
    shutil.copy(GOLDEN / "recommender.expected.py", tmp / "ms_recommender.py")
    (tmp / "_torch_compat.py").write_text(helpers.source("_torch_compat"))
    sys.path.insert(0, str(tmp))
    try:
        ms_mod = _load(tmp / "ms_recommender.py", "ms_recommender")
    finally:
        sys.path.remove(str(tmp))
    torch_mod = _load(GOLDEN / "recommender.py", "torch_recommender")
    torch.manual_seed(0)
    t_model = torch_mod.Recommender(10, 20)
    m_model = ms_mod.Recommender(10, 20)
    state = {k: v.detach().numpy() for k, v in t_model.state_dict().items()}
    renames = {"embedding_table": "weight", "gamma": "weight", "beta": "bias"}
    for name, param in m_model.parameters_and_names():
        head, _, last = name.rpartition(".")
        torch_name = f"{head}.{renames.get(last, last)}" if head else renames.get(last, last)
        param.set_data(mindspore.Tensor(state[torch_name]))
    return torch, mindspore, torch_mod, ms_mod, t_model, m_model


def test_converted_model_matches_torch(recommender_pair):
    torch, mindspore, torch_mod, ms_mod, t_model, m_model = recommender_pair
    rng = np.random.default_rng(1)
    users, items = rng.integers(0, 10, 16), rng.integers(0, 20, 16)
    labels = rng.integers(0, 5, 16)
    t_model.eval()
    m_model.set_train(False)
    with torch.no_grad():
        t_logits = t_model(torch.from_numpy(users), torch.from_numpy(items)).numpy()
        t_score = t_model.score(torch.from_numpy(users), torch.from_numpy(items)).numpy()
    m_logits = m_model(mindspore.Tensor(users), mindspore.Tensor(items)).asnumpy()
    m_score = m_model.score(mindspore.Tensor(users), mindspore.Tensor(items)).asnumpy()
    np.testing.assert_allclose(m_logits, t_logits, atol=1e-5)
    np.testing.assert_allclose(m_score, t_score, atol=1e-5)
    t_loss, t_acc = torch_mod.evaluate(t_model, *(torch.from_numpy(a) for a in (users, items, labels)))
    m_loss, m_acc = ms_mod.evaluate(m_model, *(mindspore.Tensor(a) for a in (users, items, labels)))
    assert abs(t_loss - m_loss) < 1e-5 and t_acc == m_acc


def test_converted_dataset_keeps_its_protocol(recommender_pair):
    _, _, _, ms_mod, _, _ = recommender_pair
    ds = ms_mod.Ratings([1, 2], [3, 4], [0, 1])
    assert len(ds) == 2 and ds[1] == (2, 4, 1)
