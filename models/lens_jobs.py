"""The two batch algorithms of the LENS paper on top of a trained model's outputs (pure functions, tensors/lists
in, records out; :mod:`cli.commands.lens` does the I/O).

Algorithm 1, behaviour anomalies (``AnomalyDetector(M, D, f_k, d_K, d_A, d_B, f_E)``). The paper leaves the
functions open; the choices here:

* ``d_A`` (prediction vs what happened, normalised to [0, 1]): the Jaccard distance between the predicted and the
  observed basket, averaged with the relative time error ``|t_hat - t| / (t_hat + t + 1)`` when the actual gap is
  known (both are in [0, 1]).
* ``f_E``: the funnel state (FBE output + user embedding, ``LENS.encode``), L2-normalised.
* ``f_k`` / ``d_K``: k-means with k-means++ seeding (seeded, Euclidean on the normalised states = cosine).
* ``d_B``: a leave-one-out robust z-score inside the customer's cluster, ``(d_A_i - median_{j != i} d_A_j) /
  (1.4826 MAD_{j != i})`` (MAD floored at ``mad_floor``); a customer is an anomaly when the score exceeds
  ``threshold`` (3.5, Iglewicz & Hoaglin). Clusters with fewer than ``min_cluster`` members flag nobody.

Algorithm 2, out-of-stock alerts (``OOSAlerts(M, D, resupplies)``): every customer's predicted basket (items, and
quantities = the customer's mean quantity per basket line, 1 without quantities) lands on the day of its predicted
next purchase (``floor`` of days after ``as_of``) at the customer's usual store; per (store, product, day) the
predicted demand is compared with the resupply of that day, ``residual = resupply - demand``, and every cell with
``residual < 0`` is an alert (the paper's rule). Without a resupply schedule in the data, one is simulated:
``ceil(factor * mean daily units of the product in the store over the history)`` every day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


def jaccard_distance(pred: Sequence[str], actual: Sequence[str]) -> float:
    p, a = set(pred), set(actual)
    return 1.0 - len(p & a) / len(p | a) if p | a else 0.0


def prediction_distance(
    pred: Sequence[str],
    actual: Sequence[str],
    pred_days: float | None = None,
    actual_days: float | None = None,
) -> float:
    """``d_A``: Jaccard distance, averaged with the relative time error when both times are given."""
    d = jaccard_distance(pred, actual)
    if pred_days is None or actual_days is None:
        return d
    t = abs(pred_days - actual_days) / (abs(pred_days) + abs(actual_days) + 1.0)
    return (d + t) / 2


def kmeans(x: Tensor, k: int, seed: int = 0, iters: int = 50) -> Tensor:
    """Cluster labels ``[N]`` of ``x [N, d]`` (k-means++ seeding, Lloyd iterations)."""
    n = x.shape[0]
    k = max(1, min(k, n))
    gen = torch.Generator().manual_seed(seed)
    centres = [x[int(torch.randint(n, (1,), generator=gen))]]
    for _ in range(1, k):
        d2 = torch.cdist(x, torch.stack(centres)).min(1).values ** 2
        if float(d2.sum()) <= 0:
            break
        centres.append(x[int(torch.multinomial(d2, 1, generator=gen))])
    c = torch.stack(centres)
    labels = torch.zeros(n, dtype=torch.long)
    for _ in range(iters):
        new = torch.cdist(x, c).argmin(1)
        if bool((new == labels).all()) and _ > 0:
            break
        labels = new
        for j in range(c.shape[0]):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(0)
    return labels


@dataclass(frozen=True)
class AnomalyRecord:
    user_id: str
    cluster: int
    distance: float  # d_A
    score: float  # d_B, the within-cluster robust z-score
    is_anomaly: bool


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def detect_anomalies(
    users: Sequence[str],
    distances: Sequence[float],
    embeddings: Tensor,
    n_clusters: int = 8,
    threshold: float = 3.5,
    min_cluster: int = 5,
    mad_floor: float = 0.01,
    seed: int = 0,
) -> list[AnomalyRecord]:
    """Algorithm 1 given ``d_A`` per customer and the funnel embeddings ``[N, d]``."""
    if not len(users) == len(distances) == embeddings.shape[0]:
        raise ValueError("users, distances and embeddings must have the same length")
    x = torch.nn.functional.normalize(embeddings.float(), dim=1)
    labels = kmeans(x, n_clusters, seed).tolist()
    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(labels):
        members[c].append(i)
    out = []
    for i, u in enumerate(users):
        peers = [distances[j] for j in members[labels[i]] if j != i]
        score = 0.0
        if len(peers) + 1 >= min_cluster:
            med = _median(peers)
            mad = max(_median([abs(p - med) for p in peers]), mad_floor)
            score = (distances[i] - med) / (1.4826 * mad)
        out.append(AnomalyRecord(u, labels[i], float(distances[i]), score, score > threshold))
    return out


@dataclass(frozen=True)
class CustomerForecast:
    user_id: str
    store_id: str
    items: Sequence[str]  # the predicted basket
    quantities: Sequence[float]  # per item
    days_from_as_of: float  # predicted next purchase, days after the as-of date


@dataclass(frozen=True)
class OOSAlert:
    store_id: str
    item_id: str
    day: int  # days after the as-of date
    demand: float
    resupply: float
    residual: float


Cell = tuple[str, str, int]


def predicted_demand(forecasts: Sequence[CustomerForecast], n_days: int) -> dict[Cell, float]:
    """``pred_stocks`` of Algorithm 2: units per (store, item, day) of the predictions inside the horizon."""
    demand: dict[Cell, float] = defaultdict(float)
    for f in forecasts:
        day = math.floor(f.days_from_as_of)
        if 0 <= day < n_days:
            for item, q in zip(f.items, f.quantities, strict=True):
                demand[(f.store_id, item, day)] += q
    return dict(demand)


def oos_alerts(demand: Mapping[Cell, float], resupply: Callable[[str, str, int], float]) -> list[OOSAlert]:
    """``A = {(i, j): R[i][j] < 0}`` with ``R = resupplies - pred_stocks`` over the cells with predicted demand;
    ``resupply(store, item, day)`` is the schedule (see :func:`schedule_lookup`, :func:`simulated_resupply`)."""
    out = []
    for (store, item, day), d in sorted(demand.items()):
        r = resupply(store, item, day)
        if r - d < 0:
            out.append(OOSAlert(store, item, day, d, r, r - d))
    return out


def schedule_lookup(schedule: Mapping[Cell, float]) -> Callable[[str, str, int], float]:
    """A given resupply matrix (missing cells are 0)."""
    return lambda store, item, day: float(schedule.get((store, item, day), 0.0))


def simulated_resupply(
    lines: Sequence[tuple[str, str, float]], history_days: float, factor: float = 1.0
) -> Callable[[str, str, int], float]:
    """A simulated schedule from sold units ``(store, item, units)`` over ``history_days``: ``ceil(factor * mean
    daily units)`` of the product in the store, every day."""
    units: dict[tuple[str, str], float] = defaultdict(float)
    for store, item, q in lines:
        units[(store, item)] += q
    days = max(history_days, 1.0)
    rate = {key: float(math.ceil(factor * u / days)) for key, u in units.items()}
    return lambda store, item, day: rate.get((store, item), 0.0)
