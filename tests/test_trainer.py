"""The MAMO reference trainer: semantics of one user, batching, determinism, learning, state."""
import json

import numpy as np
import pytest
import torch

from reference_torch import train as train_cli
from reference_torch.config import Config
from reference_torch.data import load_episodes, write_raw
from reference_torch.dataset import EpisodeDataset
from reference_torch.trainer import MAMOTrainer, PerUserClip
from torch.utils.data import DataLoader


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    raw = write_raw("ml-1m", tmp_path_factory.mktemp("raw"), n_users=160, n_items=200, n_ratings=7000, seed=3)
    return load_episodes("ml-1m", raw, tmp_path_factory.mktemp("cache"))


def small_config(**kw):
    base = dict(embedding_dim=16, users_per_epoch=24, meta_batch_size=8, eval_batch_size=7)
    base.update(kw)
    return Config(**base)


def batch_of(episodes, rows):
    return next(iter(DataLoader(EpisodeDataset(episodes.subset(rows)), batch_size=len(rows), shuffle=False)))


def test_learner_at_phi_reproduces_phi_and_its_gradients(episodes):
    """With tao = 0 and every task-memory slot equal to phi's mem layer, the local learner
    is phi itself: same logits, and global_gradients() equals autograd through MAMO.forward
    except for phi's mem-layer weight, which the learner never reads (its gradient is 0)."""
    trainer = MAMOTrainer(small_config(tao=0.0), episodes.features)
    trainer.memory.task.data.copy_(trainer.model.mem_layer.weight.detach().expand_as(trainer.memory.task))
    user_x, sx, smulti, sy = batch_of(episodes.train(), [0])[:4]
    learner = trainer.make_learner(user_x, smulti, write_profile=False)
    logits = learner(user_x, sx, smulti)
    loss = trainer.criterion(logits, sy).sum()
    loss.backward()
    expected = trainer.model(user_x.repeat(sx.shape[1], 1), sx[0], smulti[0])
    torch.testing.assert_close(logits[0], expected, rtol=1e-5, atol=1e-6)
    trainer.model.zero_grad()
    trainer.criterion(expected.unsqueeze(0), sy).sum().backward()
    mapped = learner.global_gradients([p.grad for p in learner.parameters()])
    for (name, param), grad in zip(trainer.model.named_parameters(), mapped):
        expected_grad = torch.zeros_like(param) if name == "mem_layer.weight" else param.grad
        torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-6, msg=name)


def test_no_state_leaks_between_users(episodes):
    trainer = MAMOTrainer(small_config(), episodes.features)
    before = trainer.state_arrays()
    test = episodes.test()
    alone = trainer.adapt(batch_of(test, [1]))
    trainer.adapt(batch_of(test, [0]))
    after_other = trainer.adapt(batch_of(test, [1]))
    assert alone.query_loss == after_other.query_loss
    for name, value in trainer.state_arrays().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_query_without_gradients_gives_the_same_loss_and_logits(episodes):
    """Evaluation's adapt(query_grads=False) skips only the query backward pass."""
    trainer = MAMOTrainer(small_config(), episodes.features)
    batch = batch_of(episodes.test(), [0, 1, 2])
    with_grads = trainer.adapt(batch)
    without = trainer.adapt(batch, query_grads=False)
    assert without.grads is None and len(with_grads.grads) == len(list(with_grads.learner.parameters()))
    assert without.query_loss == with_grads.query_loss
    assert without.support_losses == with_grads.support_losses
    torch.testing.assert_close(without.query_logits, with_grads.query_logits, rtol=0, atol=0)


def test_batched_evaluation_equals_one_by_one(episodes):
    trainer = MAMOTrainer(small_config(), episodes.features)
    trainer.train_epoch(episodes.train())
    test = episodes.test()
    one = trainer.evaluate(test, batch_size=1)
    many = trainer.evaluate(test, batch_size=len(test))
    assert one["query_loss"] == pytest.approx(many["query_loss"], rel=1e-5)
    for scenario in ("W-W", "W-C", "C-W", "C-C", "overall"):
        assert one[scenario] == many[scenario], scenario


def test_per_user_clipping_matches_clip_grad_norm_for_each_user():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3, 4, 5)), torch.nn.Parameter(torch.randn(3, 5))]
    for p in params:
        p.grad = torch.randn_like(p) * torch.tensor([0.1, 10.0, 3.0]).view(-1, *([1] * (p.dim() - 1)))
    expected = []
    for u in range(3):
        single = [torch.nn.Parameter(p.detach()[u].clone()) for p in params]
        for s, p in zip(single, params):
            s.grad = p.grad[u].clone()
        torch.nn.utils.clip_grad_norm_(single, 5.0)
        expected.append([s.grad for s in single])
    clipped = PerUserClip(5.0)(*[p.grad for p in params])
    for u in range(3):
        for g, e in zip(clipped, expected[u]):
            torch.testing.assert_close(g[u], e, rtol=1e-6, atol=1e-7)


def test_same_seed_same_result(episodes):
    states = []
    for _ in range(2):
        trainer = MAMOTrainer(small_config(), episodes.features)
        trainer.train_epoch(episodes.train())
        states.append(trainer.state_arrays())
    for name in states[0]:
        np.testing.assert_array_equal(states[0][name], states[1][name], err_msg=name)


def test_training_writes_memories_and_moves_phi(episodes):
    trainer = MAMOTrainer(small_config(), episodes.features)
    before = trainer.state_arrays()
    trainer.train_epoch(episodes.train())
    after = trainer.state_arrays()
    for name in ("memory.profile", "memory.fast_grad", "memory.task", "model.rec_net.2.weight",
                 "model.user_loading.embedding.weight"):
        assert not np.array_equal(before[name], after[name]), name
    np.testing.assert_array_equal(before["model.user_loading.offsets"], after["model.user_loading.offsets"])


def test_training_lowers_the_query_loss(episodes):
    trainer = MAMOTrainer(small_config(users_per_epoch=64, meta_batch_size=16), episodes.features)
    start = trainer.evaluate(episodes.test())["query_loss"]
    for _ in range(4):
        trainer.train_epoch(episodes.train())
    end = trainer.evaluate(episodes.test())["query_loss"]
    assert end < start - 0.05, (start, end)


def test_state_arrays_round_trip(episodes):
    a = MAMOTrainer(small_config(), episodes.features)
    a.train_epoch(episodes.train())
    b = MAMOTrainer(small_config(seed=7), episodes.features)
    b.load_state_arrays(a.state_arrays())
    test = episodes.test()
    assert a.evaluate(test) == b.evaluate(test)


def test_cli_resume_gives_the_same_result(tmp_path):
    common = ["--data", "synthetic", "--raw", str(tmp_path / "raw"), "--cache", str(tmp_path / "cache"),
              "--synthetic-users", "120", "--synthetic-items", "150", "--synthetic-ratings", "5000",
              "--embedding-dim", "8", "--users-per-epoch", "16", "--no-progress"]
    straight = train_cli.run(common + ["--out", str(tmp_path / "a"), "--epochs", "2"])
    train_cli.run(common + ["--out", str(tmp_path / "b"), "--epochs", "1"])
    resumed = train_cli.run(common + ["--out", str(tmp_path / "b"), "--epochs", "2", "--resume"])
    assert straight["final"] == resumed["final"]
    saved = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [row["epoch"] for row in saved["history"]] == [1, 2]


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    code = train_cli.main(["--data", "ml-100k", "--raw", str(tmp_path / "missing")])
    assert code == 2
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err
