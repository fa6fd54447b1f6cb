from __future__ import annotations

import math

import pytest
import torch

from models.data import EvalSet
from models.evaluate import metrics_from_ranks, ranks_from_scores, sample_candidates


def test_ranks_hand_computed() -> None:
    scores = torch.tensor([[0.9, 0.5, 0.1, 0.7], [0.2, 0.2, 0.3, 0.1], [1.0, 0.0, -1.0, -math.inf]])
    # user 0: target 0.5 -> 0.9, 0.7 above -> rank 2; user 1: target 0.2 tied with one, 0.3 above -> rank 2
    # (ties count against the model); user 2: target 1.0 is first -> rank 0
    ranks = ranks_from_scores(scores, torch.tensor([0.5, 0.2, 1.0]))
    assert ranks.tolist() == [2, 2, 0]


def test_metrics_hand_computed() -> None:
    ranks = torch.tensor([0, 2, 9, 10, 50])
    m = metrics_from_ranks(ranks, ks=(10, 1))
    assert m["hr@10"] == pytest.approx(3 / 5)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1 / math.log2(4) + 1 / math.log2(11)) / 5)
    assert m["hr@1"] == pytest.approx(1 / 5) and m["ndcg@1"] == pytest.approx(1 / 5)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 10 + 1 / 11 + 1 / 51) / 5)


def test_sampled_candidates_exclude_specials_target_and_seen() -> None:
    n_items = 30
    seen = [[2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [20, 21]]
    items = torch.tensor([i for s in seen for i in s])
    offsets = torch.tensor([0, len(seen[0]), len(items)])
    ev = EvalSet(
        "test",
        torch.zeros(2, 4, dtype=torch.int64),
        torch.zeros(2, 4, 1, dtype=torch.int64),
        torch.tensor([12, 22]),
        items,
        offsets,
    )
    cands = sample_candidates(ev, n_items, 15, torch.Generator().manual_seed(0))
    assert cands.shape == (2, 16) and cands[:, 0].tolist() == [12, 22]
    for u in range(2):
        negs = set(cands[u, 1:].tolist())
        assert min(negs) >= 2 and max(negs) < n_items
        assert not negs & set(seen[u]) and cands[u, 0].item() not in negs
