"""Next-basket metrics: the LENS paper's protocol and the Next-Basket Reality Check's.

Per customer, with predicted list ``P`` (ranked; possibly shorter than k) and true next basket ``B`` (a set):

* ``recall = |P ∩ B| / |B|``, ``precision = |P ∩ B| / |P|`` (0 for an empty P). The paper reports the *means* over
  customers and ``F1 = 2 R P / (R + P)`` of those means (its Table 2: 2 x 0.1255 x 0.4032 / 0.5287 = 0.1914).
* ``PHR`` (personal hit ratio): the share of customers with at least one hit, ``|P ∩ B| > 0``. The paper says its
  precision "represents the same metric" as HR@k; it does not: precision counts hits per predicted item, PHR counts
  customers. Both are reported side by side.
* ``ndcg@k``: binary relevance, ``DCG = sum 1/log2(rank + 2)`` over hits, ideal DCG over ``min(|B|, k)`` hits.
* Repeat vs explore (Reality Check): ``B_rep = B ∩ items in the customer's history``, ``B_expl = B \\ B_rep``;
  ``recall_repeat`` is the mean of ``|P ∩ B_rep| / |B_rep|`` over customers with a non-empty ``B_rep`` (same for
  explore), and ``repeat_share`` the share of predicted items the customer had bought before.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class UserScores:
    recall: float
    precision: float
    hit: float
    ndcg: float
    n_pred: int


def user_scores(pred: Sequence[str], truth: Collection[str], k: int) -> UserScores:
    """Scores of one customer's ranked prediction (cut at ``k``) against the true basket (non-empty)."""
    if not truth:
        raise ValueError("the true basket is empty")
    p = list(dict.fromkeys(pred))[:k]
    t = set(truth)
    hits = [i for i in p if i in t]
    dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(p) if i in t)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(t), k)))
    return UserScores(
        recall=len(hits) / len(t),
        precision=len(hits) / len(p) if p else 0.0,
        hit=1.0 if hits else 0.0,
        ndcg=dcg / idcg,
        n_pred=len(p),
    )


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def evaluate_baskets(
    preds: Mapping[str, Sequence[str]],
    truths: Mapping[str, Collection[str]],
    k: int,
    histories: Mapping[str, Collection[str]] | None = None,
) -> dict[str, float]:
    """Means over the customers of ``truths`` (a customer without a prediction predicted nothing).

    Returns recall, precision, f1 (of the means), phr, ndcg, mean_pred_size, users, and with ``histories``
    (the items each customer bought before) recall_repeat, recall_explore, repeat_share."""
    rows = {u: user_scores(preds.get(u, ()), t, k) for u, t in truths.items() if t}
    r = _mean([s.recall for s in rows.values()])
    p = _mean([s.precision for s in rows.values()])
    out = {
        "recall": r,
        "precision": p,
        "f1": 2 * r * p / (r + p) if r + p > 0 else 0.0,
        "phr": _mean([s.hit for s in rows.values()]),
        "ndcg": _mean([s.ndcg for s in rows.values()]),
        "mean_pred_size": _mean([float(s.n_pred) for s in rows.values()]),
        "users": float(len(rows)),
    }
    if histories is not None:
        out.update(_repeat_explore(preds, truths, histories, k))
    return out


def _repeat_explore(
    preds: Mapping[str, Sequence[str]],
    truths: Mapping[str, Collection[str]],
    histories: Mapping[str, Collection[str]],
    k: int,
) -> dict[str, float]:
    rep, expl, share = [], [], []
    for u, truth in truths.items():
        seen = set(histories.get(u, ()))
        p = set(list(dict.fromkeys(preds.get(u, ())))[:k])
        t_rep = {i for i in truth if i in seen}
        t_expl = set(truth) - t_rep
        if t_rep:
            rep.append(len(p & t_rep) / len(t_rep))
        if t_expl:
            expl.append(len(p & t_expl) / len(t_expl))
        if p:
            share.append(len(p & seen) / len(p))
    return {"recall_repeat": _mean(rep), "recall_explore": _mean(expl), "repeat_share": _mean(share)}


def mae(pred: Sequence[float], truth: Sequence[float]) -> float:
    if len(pred) != len(truth) or not truth:
        raise ValueError("mae needs two non-empty sequences of equal length")
    return sum(abs(a - b) for a, b in zip(pred, truth, strict=True)) / len(truth)
