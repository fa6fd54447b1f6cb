"""Next-basket baselines of the Next-Basket Reality Check (Li et al., 2023): G-TopFreq, P-TopFreq, GP-TopFreq
and TIFU-KNN (Hu et al., KDD 2020). Each maps ``histories {user: [basket, ...]}`` to ranked top-k lists.

* G-TopFreq: the k items in the most training baskets (same list for everyone).
* P-TopFreq: the customer's own most frequent items (ties: most recent first); may be shorter than k.
* GP-TopFreq: P-TopFreq filled up to k with G-TopFreq.
* TIFU-KNN: a customer vector from time-decayed basket multi-hot vectors (groups of ``group_size`` baskets counted
  from the newest; decay ``r_b`` within a group and ``r_g`` across groups), blended ``alpha * own + (1 - alpha) *
  mean of the n nearest customers`` (Euclidean distance, the customer itself excluded). Defaults are the TIFU-KNN
  paper's Ta-Feng settings (300 neighbours, groups of 7, r_b 0.9, r_g 0.7, alpha 0.7), not tuned here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import torch

Histories = Mapping[str, Sequence[Sequence[str]]]


def global_top(train_baskets: Sequence[Sequence[str]], k: int) -> list[str]:
    counts = Counter(i for b in train_baskets for i in set(b))
    return [i for i, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def g_topfreq(histories: Histories, users: Sequence[str], k: int) -> dict[str, list[str]]:
    top = global_top([b for h in histories.values() for b in h], k)
    return {u: list(top) for u in users}


def personal_top(history: Sequence[Sequence[str]], k: int) -> list[str]:
    counts: Counter[str] = Counter()
    last: dict[str, int] = {}
    for t, b in enumerate(history):
        for i in set(b):
            counts[i] += 1
            last[i] = t
    return sorted(counts, key=lambda i: (-counts[i], -last[i], i))[:k]


def p_topfreq(histories: Histories, users: Sequence[str], k: int) -> dict[str, list[str]]:
    return {u: personal_top(histories[u], k) for u in users}


def gp_topfreq(histories: Histories, users: Sequence[str], k: int) -> dict[str, list[str]]:
    top = global_top([b for h in histories.values() for b in h], k)
    out = {}
    for u in users:
        own = personal_top(histories[u], k)
        out[u] = own + [i for i in top if i not in own][: k - len(own)]
    return out


def tifu_vector(
    history: Sequence[Sequence[int]], n_items: int, group_size: int, r_b: float, r_g: float
) -> torch.Tensor:
    """The TIFU customer vector ``[n_items]`` of baskets given as item indices (oldest first)."""
    vec = torch.zeros(n_items)
    if not history:
        return vec
    groups = [history[max(0, e - group_size) : e] for e in range(len(history), 0, -group_size)][::-1]
    n_g = len(groups)
    for gi, group in enumerate(groups):
        g = torch.zeros(n_items)
        for bi, basket in enumerate(group):
            if basket:
                g[torch.tensor(sorted(set(basket)))] += r_b ** (len(group) - 1 - bi)
        vec += (r_g ** (n_g - 1 - gi)) * g / len(group)
    return vec / n_g


def tifu_knn(
    histories: Histories,
    users: Sequence[str],
    k: int,
    n_neighbours: int = 300,
    group_size: int = 7,
    r_b: float = 0.9,
    r_g: float = 0.7,
    alpha: float = 0.7,
    chunk: int = 512,
) -> dict[str, list[str]]:
    """TIFU-KNN top-k for ``users``; neighbours are searched among all customers of ``histories``."""
    items = sorted({i for h in histories.values() for b in h for i in b})
    index = {x: j for j, x in enumerate(items)}
    everyone = list(histories)
    pos = {u: j for j, u in enumerate(everyone)}
    vecs = torch.stack(
        [
            tifu_vector([[index[i] for i in b] for b in histories[u]], len(items), group_size, r_b, r_g)
            for u in everyone
        ]
    )
    sq = (vecs * vecs).sum(1)
    n_nb = min(n_neighbours, len(everyone) - 1)
    out: dict[str, list[str]] = {}
    for s in range(0, len(users), chunk):
        batch = list(users[s : s + chunk])
        rows = torch.tensor([pos[u] for u in batch])
        q = vecs[rows]
        dist = sq[rows].unsqueeze(1) + sq.unsqueeze(0) - 2 * q @ vecs.t()
        dist[torch.arange(len(batch)), rows] = float("inf")
        if n_nb > 0:
            nb = dist.topk(n_nb, dim=1, largest=False).indices
            weights = torch.zeros(len(batch), len(everyone)).scatter_(1, nb, 1.0 / n_nb)
            pred = alpha * q + (1 - alpha) * weights @ vecs
        else:
            pred = q
        top = pred.topk(min(k, len(items)), dim=1)
        for u, vals, idx in zip(batch, top.values.tolist(), top.indices.tolist(), strict=True):
            out[u] = [items[j] for v, j in zip(vals, idx, strict=True) if v > 0]
    return out


BASELINES = {"G-TopFreq": g_topfreq, "P-TopFreq": p_topfreq, "GP-TopFreq": gp_topfreq, "TIFU-KNN": tifu_knn}
