"""Next-basket metrics and baselines against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from models.nbr_baselines import g_topfreq, gp_topfreq, p_topfreq, personal_top, tifu_knn, tifu_vector
from models.nbr_metrics import evaluate_baskets, mae, user_scores


def test_user_scores_by_hand() -> None:
    s = user_scores(["a", "x", "b"], {"a", "b", "c", "d"}, k=10)
    assert s.recall == 0.5 and s.precision == pytest.approx(2 / 3) and s.hit == 1.0
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4) + 1 / math.log2(5)
    assert s.ndcg == pytest.approx(dcg / idcg)
    cut = user_scores(["x", "a"], {"a"}, k=1)
    assert cut.recall == 0.0 and cut.precision == 0.0 and cut.n_pred == 1
    with pytest.raises(ValueError):
        user_scores(["a"], set(), k=3)


def test_precision_is_not_phr() -> None:
    # user 1: one predicted item, a hit -> precision 1; user 2: ten predicted items, no hit -> precision 0
    # user 3: ten items, one hit -> precision 0.1. Mean precision 0.3667, but PHR (customers with a hit) 2/3.
    preds = {"1": ["a"], "2": [f"n{i}" for i in range(10)], "3": ["b"] + [f"m{i}" for i in range(9)]}
    truths = {"1": {"a", "z"}, "2": {"a"}, "3": {"b", "c", "d", "e"}}
    r = evaluate_baskets(preds, truths, k=10)
    assert r["precision"] == pytest.approx((1 + 0 + 0.1) / 3)
    assert r["phr"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx((0.5 + 0 + 0.25) / 3)
    assert r["f1"] == pytest.approx(2 * r["recall"] * r["precision"] / (r["recall"] + r["precision"]))
    assert r["mean_pred_size"] == pytest.approx(7.0) and r["users"] == 3


def test_paper_f1_is_of_the_means() -> None:
    r, p = 0.1255, 0.4032  # Table 2, LENS2000
    assert 2 * r * p / (r + p) == pytest.approx(0.1914, abs=1e-4)


def test_repeat_and_explore_split() -> None:
    preds = {"u": ["a", "x", "q"]}
    truths = {"u": {"a", "b", "x", "y"}}
    hist = {"u": {"a", "b", "q"}}  # repeat truth {a, b}, explore truth {x, y}
    r = evaluate_baskets(preds, truths, k=3, histories=hist)
    assert r["recall_repeat"] == 0.5 and r["recall_explore"] == 0.5
    assert r["repeat_share"] == pytest.approx(2 / 3)  # a, q were bought before; x was not


def test_topfreq_baselines() -> None:
    hist = {"u": [["a", "b"], ["a", "c"], ["c"]], "v": [["d"], ["d", "a"]]}
    assert personal_top(hist["u"], 3) == ["c", "a", "b"]  # a and c twice; c more recent
    assert g_topfreq(hist, ["u"], 2)["u"] == ["a", "c"]  # a in 3 baskets, c and d in 2 (c < d)
    assert p_topfreq(hist, ["v"], 5)["v"] == ["d", "a"]  # shorter than k: only what v bought
    assert gp_topfreq(hist, ["v"], 4)["v"] == ["d", "a", "c", "b"]


def test_tifu_vector_by_hand() -> None:
    # 3 baskets, groups of 2 from the newest: [[0]], [[1], [0, 2]]; r_b 0.5, r_g 0.25
    v = tifu_vector([[0], [1], [0, 2]], group_size=2, r_b=0.5, r_g=0.25)
    older = torch.tensor([1.0, 0, 0])
    newer = (0.5 * torch.tensor([0, 1.0, 0]) + torch.tensor([1.0, 0, 1.0])) / 2
    dense = torch.tensor([v.get(i, 0.0) for i in range(3)])
    assert torch.allclose(dense, (0.25 * older + newer) / 2)


def test_tifu_knn_blends_neighbours() -> None:
    hist = {"u": [["a"], ["a"]], "v": [["a"], ["a", "b"]], "w": [["c"], ["c"]]}
    own = tifu_knn(hist, ["u"], k=3, n_neighbours=1, alpha=1.0)["u"]
    assert own == ["a"]
    blended = tifu_knn(hist, ["u"], k=3, n_neighbours=1, alpha=0.5)["u"]
    assert blended == ["a", "b"]  # the nearest customer is v (not w), who also buys b


def test_mae() -> None:
    assert mae([1.0, 4.0], [2.0, 2.0]) == 1.5
    with pytest.raises(ValueError):
        mae([1.0], [])
