"""No training/serving skew: the same behaviours written online (Redis) and offline (Parquet) give, for sampled
users and times, online values equal to the offline as-of values (both retrieval engines)."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

from bench.feature_rows import T0
from omniseq.features.offline import OfflineWriter
from omniseq.features.online import RedisOnlineStore, Row
from omniseq.features.sequence import HybridSequence
from omniseq.features.store import apply
from omniseq.features.training import build_training_set
from omniseq.features.validation import FeatureValidator, Quarantine
from omniseq.schema import Behaviour, OnlineEvent, StoreTransaction
from omniseq.settings import StackSettings

VIEWS = ("user_hybrid_seq_v1", "user_hybrid_seq_v2", "user_instore_agg_v1")
USERS = [f"c{i}" for i in range(8)]


def behaviours(n: int, seed: int) -> list[Behaviour]:
    rng = random.Random(seed)
    out: list[Behaviour] = []
    ts = T0
    for i in range(n):
        ts += rng.randint(1, 90_000)
        user = rng.choice(USERS)
        if rng.random() < 0.15:
            items = tuple(f"p{j}" for j in rng.sample(range(300), rng.randint(1, 5)))
            out.append(StoreTransaction(f"t{i}", user, items, ts, f"st{rng.randrange(4)}"))
        else:
            etype = rng.choice(["view", "click", "add_to_cart", "purchase"])
            out.append(OnlineEvent(f"e{i}", user, f"p{rng.randrange(300)}", etype, ts, f"s{user}"))  # type: ignore[arg-type]
    return out


class MiniPipeline:
    """What the streaming job does per behaviour: update state, emit rows, validate, write both stores."""

    def __init__(self, online: RedisOnlineStore, offline: OfflineWriter, validator: FeatureValidator) -> None:
        self.online, self.offline, self.validator = online, offline, validator
        self.seqs = {
            v: {u: HybridSequence(u, 50 if v.endswith("v1") else 90) for u in USERS} for v in VIEWS[:2]
        }
        self.store = {u: {"store_visits": 0, "store_items": 0} for u in USERS}

    def rows(self, b: Behaviour) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for v, seqs in self.seqs.items():
            seq = seqs[b.user_id]
            seq.add(b)
            out[v] = [(b.user_id, seq.to_features(), seq.last_ts)]
        if isinstance(b, StoreTransaction):
            s = self.store[b.user_id]
            s["store_visits"] += 1
            s["store_items"] += len(b.items)
            feats = {**s, "mean_basket_size": s["store_items"] / s["store_visits"],
                     "last_store_id": b.store_id, "last_store_ts": b.ts_ms}  # fmt: skip
            out["user_instore_agg_v1"] = [(b.user_id, feats, b.ts_ms)]
        return out

    def process(self, batch: list[Behaviour]) -> None:
        pending: dict[str, list[Row]] = {v: [] for v in VIEWS}
        for b in batch:
            for v, rows in self.rows(b).items():
                good = self.validator.filter(v, rows)
                assert good == rows, self.validator.quarantine.read(v)
                self.online.write(v, good)
                pending[v] += good
        for v, rows in pending.items():
            self.offline.write(v, rows)  # micro-batch flush


@pytest.mark.integration
def test_online_equals_offline_as_of(
    feature_settings: StackSettings, redis_client: Any, tmp_path: Any
) -> None:
    # its own run folder: own offline store and Feast registry (the session store is left alone)
    settings = feature_settings.model_copy(update={"run_dir": tmp_path, "offline_dir": tmp_path / "offline"})
    online = RedisOnlineStore(redis_client)
    pipe = MiniPipeline(
        online, OfflineWriter(settings.dir("offline")), FeatureValidator(Quarantine(tmp_path / "q"))
    )
    events = behaviours(400, seed=5)
    rng = random.Random(1)
    snapshots: list[tuple[str, str, int, dict[str, Any] | None]] = []
    for start in range(0, len(events), 25):
        batch = events[start : start + 25]
        pipe.process(batch)
        now = batch[-1].ts_ms
        for v in VIEWS:
            for u in rng.sample(USERS, 3):
                snapshots.append((v, u, now, online.read(v, [u])[0]))
    assert sum(1 for *_, got in snapshots if got is not None) > 50

    for v in VIEWS:
        snap = [(u, t, got) for view, u, t, got in snapshots if view == v]
        labels = pd.DataFrame(
            {"user_id": [u for u, _, _ in snap], "label_ts_ms": [t + 1 for _, t, _ in snap]}
        )
        offline = build_training_set(settings, labels, v)
        for (u, t, got), (_, row) in zip(snap, offline.iterrows(), strict=True):
            as_of = {k: row[k] for k in got} if got is not None else None
            if got is None:
                assert all(row[c] is None or pd.isna(row[c]) for c in offline.columns[2:]), (v, u, t)
            else:
                assert as_of == got, (v, u, t)
            if v.startswith("user_hybrid_seq") and got is not None:
                hist = [b for b in events if b.user_id == u and b.ts_ms <= t]
                ref = HybridSequence.from_behaviours(u, hist, 50 if v.endswith("v1") else 90)
                assert got == ref.to_features()
    # Feast's own retrieval agrees on a sample (it is slow: a subset)
    sample = [(u, t, got) for view, u, t, got in snapshots if view == "user_hybrid_seq_v2"][::5]
    labels = pd.DataFrame(
        {"user_id": [u for u, _, _ in sample], "label_ts_ms": [t + 1 for _, t, _ in sample]}
    )
    store = apply(settings)
    feast_rows = build_training_set(store, labels, "user_hybrid_seq_v2")
    for (_, _, got), (_, row) in zip(sample, feast_rows.iterrows(), strict=True):
        if got is not None:
            assert {k: row[k] for k in got} == got
