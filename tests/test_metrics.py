"""Metrics against hand-computed cases."""
import math

import pytest
import torch

from reference_torch.metrics import ndcg_at_k, predicted_rating, scenario_metrics


def dcg(gains):
    return sum((2 ** g - 1) / math.log2(r + 2) for r, g in enumerate(gains))


def test_predicted_rating_is_argmax_plus_one_first_max_wins():
    logits = torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0]])
    assert predicted_rating(logits).tolist() == [2, 1]


def test_ndcg_hand_case_with_ties_broken_by_position():
    pred = torch.tensor([[5, 3, 5, 1, 2]])
    true = torch.tensor([[4, 5, 2, 1, 3]])
    # ranking: item0 (5, pos0), item2 (5, pos2), item1 (3) -> true 4, 2, 5
    expected = dcg([4, 2, 5]) / dcg([5, 4, 3])
    got = ndcg_at_k(pred, true, torch.ones_like(pred, dtype=torch.bool))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_ndcg_is_one_for_a_perfect_ranking():
    true = torch.tensor([[1, 2, 3, 4, 5]])
    assert ndcg_at_k(true, true, torch.ones_like(true, dtype=torch.bool)).item() == pytest.approx(1.0)


def test_scenario_metrics_hand_case():
    pred = torch.tensor([[5, 4, 3, 2, 1], [1, 1, 1, 1, 1]])
    true = torch.tensor([[5, 5, 3, 1, 1], [2, 1, 1, 1, 4]])
    scen = torch.tensor([[0, 0, 1, 1, 1], [2, 2, 2, 2, 2]])
    m = scenario_metrics(pred, true, scen)
    assert m["W-W"]["mae"] == pytest.approx(0.5)          # |0|, |1|
    assert m["W-C"]["mae"] == pytest.approx(1 / 3)        # 0, 1, 0
    assert m["C-W"]["mae"] == pytest.approx(4 / 5)        # 1,0,0,0,3
    assert m["C-W"]["rmse"] == pytest.approx(math.sqrt(10 / 5))
    assert m["C-C"]["n_pairs"] == 0 and m["C-C"]["mae"] is None
    assert m["overall"]["mae"] == pytest.approx((1 + 0 + 1 + 0 + 4) / 10)
    # W-W subset of user 0: items (5,5),(4,5): ranked by pred -> true 5,5 -> ideal
    assert m["W-W"]["ndcg@3"] == pytest.approx(1.0)
    # C-W, user 1: all predictions tie -> position order -> true 2,1,1 vs ideal 4,2,1
    assert m["C-W"]["ndcg@3"] == pytest.approx(dcg([2, 1, 1]) / dcg([4, 2, 1]))
    assert m["overall"]["n_users"] == 2
