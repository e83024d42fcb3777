"""Rating metrics per scenario: MAE, RMSE and nDCG@3 (mamo.md, "Global update and evaluation").

Conventions (documented in the README):
- Predicted rating = argmax class + 1. The class with the largest logit wins; equal
  logits go to the lower class (first maximum).
- nDCG@3 ranks a user's query items by predicted rating, ties broken by the item's
  position in the query set (earlier first), so the ranking is deterministic and does
  not depend on a sort's stability. Gain 2^y - 1, discount 1/log2(rank + 1), divided
  by the ideal DCG of the same items.
- Scenario-mixed query sets: MAE and RMSE of a scenario use every (user, item) pair of
  that scenario. nDCG@3 of a scenario ranks, per user, only that user's query items in
  the scenario, and counts users with at least two such items (one item is trivially
  ranked). "overall" ranks all query items of every user.
"""
from __future__ import annotations

import numpy as np
import mindspore
from ._torch_compat import arange, tensor_any
from mindspore import ops

SCENARIOS = ("W-W", "W-C", "C-W", "C-C")
TOP_K = 3


def predicted_rating(logits: mindspore.Tensor) -> mindspore.Tensor:
    return ops.argmax(logits, dim=-1) + 1


def ndcg_at_k(pred: mindspore.Tensor, true: mindspore.Tensor, mask: mindspore.Tensor, k: int = TOP_K) -> mindspore.Tensor:
    """Per-user nDCG@k over the masked items. pred, true: (N, Q) ratings; mask (N, Q) bool."""
    n_items = pred.shape[1]
    position = arange(n_items).view(1, -1)
    # Unique integer keys: higher predicted rating first, then earlier position.
    key = ops.where(mask, pred * n_items + (n_items - 1 - position), ops.full_like(pred, -1))
    gain = ops.where(mask, ops.pow(2.0, true.float()) - 1.0, ops.zeros_like(true, dtype=mindspore.float32))
    order = ops.sort(key, axis=1, descending=True)[1]
    ideal = ops.sort(gain, axis=1, descending=True)[0]
    ranked_gain = ops.gather_elements(gain, 1, order)
    discount = mindspore.Tensor.from_numpy(1.0 / np.log2(np.arange(2, k + 2))).float().view(1, -1)
    dcg = ops.sum(ranked_gain[:, :k] * discount, dim=1)
    idcg = ops.sum(ideal[:, :k] * discount, dim=1)
    return dcg / idcg


def scenario_metrics(pred: mindspore.Tensor, true: mindspore.Tensor, scenario: mindspore.Tensor) -> dict:
    """MAE, RMSE and nDCG@3 per scenario and overall. pred, true: (N, Q) ratings; scenario (N, Q)."""
    results = {}
    groups = [(name, scenario == code) for code, name in enumerate(SCENARIOS)]
    groups.append(("overall", ops.ones_like(scenario, dtype=mindspore.bool_)))
    error = ops.abs(pred - true).float()
    for name, mask in groups:
        n_pairs = int(mask.sum())
        if n_pairs == 0:
            results[name] = {"n_pairs": 0, "n_users": 0, "mae": None, "rmse": None, "ndcg@3": None}
            continue
        err = error[mask]
        users = mask.sum(dim=1) >= (1 if name == "overall" else 2)
        ndcg = ndcg_at_k(pred[users], true[users], mask[users]) if bool(tensor_any(users)) else None
        results[name] = {
            "n_pairs": n_pairs,
            "n_users": int(users.sum()),
            "mae": float(ops.mean(err)),
            "rmse": float(ops.sqrt(ops.mean(err * err))),
            "ndcg@3": float(ops.mean(ndcg)) if ndcg is not None else None,
        }
    return results
