"""Valid synthetic feature rows for every view: the workload of the feature benchmark (:mod:`bench.features`),
also the feature tests' sample rows. Nothing here touches Redis or disk."""

from __future__ import annotations

import random
from typing import Any

from feature_repo.views import ONLINE_COUNTS, ONLINE_RECENCY, ONLINE_TOTAL, view
from omniseq.features.online import Row
from omniseq.features.sequence import HybridSequence, Token

T0 = 1_700_000_000_123


def sequence_features(user_id: str, n: int, max_len: int, seed: int, t0: int = T0) -> dict[str, Any]:
    """A hybrid sequence of ``n`` behaviours (about 20% baskets) one second apart, last ``max_len`` kept."""
    rng = random.Random(seed)
    seq = HybridSequence(user_id, max_len)
    for i in range(n):
        ts = t0 + i * 1000
        if rng.random() < 0.2:
            basket = tuple(f"s{j}" for j in rng.sample(range(100), rng.randint(1, 4)))
            seq.add(Token(4, ts, "", basket, f"store{rng.randrange(3)}", f"t{i}"))
        else:
            seq.add(Token(rng.randrange(4), ts, f"i{rng.randrange(1000)}", key=f"e{i}"))
    return seq.to_features()


def online_agg_features(seed: int, last_ts: int = T0) -> dict[str, Any]:
    rng = random.Random(seed)
    counts = {name: rng.randrange(20) for name in ONLINE_COUNTS}
    return {**counts, ONLINE_TOTAL: sum(counts.values()), ONLINE_RECENCY: last_ts}


def instore_features(seed: int, last_ts: int = T0) -> dict[str, Any]:
    rng = random.Random(seed)
    visits, items = rng.randint(1, 9), rng.randint(9, 40)
    return {
        "store_visits": visits,
        "store_items": items,
        "mean_basket_size": items / visits,
        "last_store_id": f"store{seed % 3}",
        "last_store_ts": last_ts,
    }


def sample_row(view_name: str, user_id: str, seed: int, n_behaviours: int = 40) -> Row:
    """One valid row of the view (sequence rows are stamped with their newest token)."""
    spec = view(view_name)
    ts = T0 + seed
    if spec.kind == "sequence":
        assert spec.max_len is not None
        feats = sequence_features(user_id, n_behaviours, spec.max_len, seed, t0=ts)
        return Row(user_id, feats, feats["last_ts"])
    if spec.kind == "online_agg":
        return Row(user_id, online_agg_features(seed, ts), ts)
    return Row(user_id, instore_features(seed, ts), ts)
