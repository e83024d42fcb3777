"""The committed migrated_mindspore/ is exactly what the tool generates, and it trains."""
import re
from pathlib import Path

import numpy as np
import pytest

from migrate.__main__ import main as migrate_main

ROOT = Path(__file__).resolve().parents[1]


def test_migrated_package_is_what_the_tool_generates():
    code = migrate_main([str(ROOT / "reference_torch"), str(ROOT / "migrated_mindspore"), "--check"])
    assert code == 0, "migrated_mindspore/ is stale: run `python -m migrate reference_torch/ migrated_mindspore/ --force`"


def test_migrated_package_never_imports_torch():
    for path in (ROOT / "migrated_mindspore").rglob("*.py"):
        imports = re.findall(r"^\s*(?:import|from)\s+(torch|migrate)\b", path.read_text(), flags=re.M)
        assert not imports, path


@pytest.mark.slow
def test_migrated_model_trains_on_mindspore(tmp_path):
    """`python -m migrated_mindspore.train --data synthetic` runs, and the query loss falls."""
    from migrated_mindspore.config import Config
    from migrated_mindspore.data import load_episodes, write_raw
    from migrated_mindspore.trainer import MAMOTrainer

    raw = write_raw("ml-1m", tmp_path / "raw", n_users=120, n_items=150, n_ratings=5000, seed=3)
    episodes = load_episodes("ml-1m", raw, tmp_path / "cache")
    cfg = Config(embedding_dim=8, users_per_epoch=12, meta_batch_size=6, eval_batch_size=12)
    trainer = MAMOTrainer(cfg, episodes.features)
    test = episodes.test().subset(np.arange(12))
    before = trainer.evaluate(test)["query_loss"]
    for _ in range(2):
        trainer.train_epoch(episodes.train())
    after = trainer.evaluate(test)["query_loss"]
    assert np.isfinite(after) and after < before, (before, after)
