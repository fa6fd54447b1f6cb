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
    history: Sequence[Sequence[int]], group_size: int, r_b: float, r_g: float
) -> dict[int, float]:
    """The TIFU customer vector (sparse: item index -> weight) of baskets given as item indices (oldest first)."""
    vec: dict[int, float] = {}
    if not history:
        return vec
    groups = [history[max(0, e - group_size) : e] for e in range(len(history), 0, -group_size)][::-1]
    n_g = len(groups)
    for gi, group in enumerate(groups):
        for bi, basket in enumerate(group):
            w = (r_g ** (n_g - 1 - gi)) * (r_b ** (len(group) - 1 - bi)) / len(group) / n_g
            for i in set(basket):
                vec[i] = vec.get(i, 0.0) + w
    return vec


def _sparse_rows(rows: Sequence[dict[int, float]], n_cols: int) -> torch.Tensor:
    idx = [(r, c) for r, row in enumerate(rows) for c in row]
    vals = [v for row in rows for v in row.values()]
    ind = torch.tensor(idx, dtype=torch.long).t() if idx else torch.zeros(2, 0, dtype=torch.long)
    return torch.sparse_coo_tensor(
        ind, torch.tensor(vals), (len(rows), n_cols), check_invariants=False
    ).coalesce()


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
    """TIFU-KNN top-k for ``users``; neighbours are searched among all customers of ``histories`` (sparse
    customer vectors, dense only per chunk of queried customers)."""
    items = sorted({i for h in histories.values() for b in h for i in b})
    index = {x: j for j, x in enumerate(items)}
    everyone = list(histories)
    pos = {u: j for j, u in enumerate(everyone)}
    rows = [
        tifu_vector([[index[i] for i in b] for b in histories[u]], group_size, r_b, r_g) for u in everyone
    ]
    vecs = _sparse_rows(rows, len(items))
    vecs_t = vecs.t().coalesce()
    sq = torch.tensor([sum(v * v for v in row.values()) for row in rows])
    n_nb = min(n_neighbours, len(everyone) - 1)
    out: dict[str, list[str]] = {}
    for s in range(0, len(users), chunk):
        batch = list(users[s : s + chunk])
        qi = torch.tensor([pos[u] for u in batch])
        q = _sparse_rows([rows[int(i)] for i in qi], len(items)).to_dense()
        dist = sq[qi].unsqueeze(1) + sq.unsqueeze(0) - 2 * torch.sparse.mm(vecs, q.t()).t()
        dist[torch.arange(len(batch)), qi] = float("inf")
        pred = alpha * q
        if n_nb > 0:
            nb = dist.topk(n_nb, dim=1, largest=False).indices
            weights = torch.zeros(len(batch), len(everyone)).scatter_(1, nb, 1.0 / n_nb)
            pred = pred + (1 - alpha) * torch.sparse.mm(vecs_t, weights.t()).t()
        top = pred.topk(min(k, len(items)), dim=1)
        for u, vals, idx in zip(batch, top.values.tolist(), top.indices.tolist(), strict=True):
            out[u] = [items[j] for v, j in zip(vals, idx, strict=True) if v > 0]
    return out


BASELINES = {"G-TopFreq": g_topfreq, "P-TopFreq": p_topfreq, "GP-TopFreq": gp_topfreq, "TIFU-KNN": tifu_knn}
