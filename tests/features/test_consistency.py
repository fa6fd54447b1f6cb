"""No training/serving skew, on the real job: behaviours go through the job's keyed operator (Java, on a local
Flink mini-cluster fed from elements), which writes the online store (Redis), the append-only behaviour log and
(here) the per-behaviour view rows (Parquet). For sampled users and times the offline as-of row -- rebuilt from
the behaviour log, training's default -- equals the reference at that time, and at each user's newest time it
equals the online row; Feast's retrieval of the job's view rows agrees with the log on a sample."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

from bench.feature_rows import T0
from omniseq.features.online import RedisOnlineStore, redis_key
from omniseq.features.sequence import HybridSequence
from omniseq.features.store import apply
from omniseq.features.training import build_training_set
from omniseq.schema import Behaviour, OnlineEvent, StoreTransaction
from omniseq.settings import StackSettings
from pipeline.config import PipelineSettings
from tests.pipeline.local_job import job_jars, run_from_elements
from tests.pipeline.reference import instore_aggregates

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SEQ_VIEWS = {"user_hybrid_seq_v1": 50, "user_hybrid_seq_v2": 90}
INSTORE = "user_instore_agg_v1"
VIEWS = (*SEQ_VIEWS, INSTORE)
USERS = [f"c{i}" for i in range(8)]


def behaviours(n: int, seed: int) -> list[Behaviour]:
    """In time order, every timestamp distinct (so each offline row of a user has its own event time)."""
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


def reference(view: str, history: list[Behaviour], user: str, t: int) -> dict[str, Any] | None:
    """What the view holds for ``user`` once everything up to ``t`` was processed (None: no row yet)."""
    hist = [b for b in history if b.user_id == user and b.ts_ms <= t]
    if view in SEQ_VIEWS:
        return HybridSequence.from_behaviours(user, hist, SEQ_VIEWS[view]).to_features() if hist else None
    return instore_aggregates(b for b in hist if isinstance(b, StoreTransaction)).get(user)


def as_of(
    settings: StackSettings | Any, view: str, probes: list[tuple[str, int]]
) -> list[dict[str, Any] | None]:
    """The offline row of each ``(user, t)`` as of ``t`` (label time ``t + 1``: rows stamped ``<= t``)."""
    labels = pd.DataFrame({"user_id": [u for u, _ in probes], "label_ts_ms": [t + 1 for _, t in probes]})
    table = build_training_set(settings, labels, view)
    rows: list[dict[str, Any] | None] = []
    for _, row in table.iterrows():
        feats = {c: row[c] for c in table.columns[2:]}
        rows.append(None if all(v is None or (not isinstance(v, list) and pd.isna(v)) for v in feats.values())
                    else feats)  # fmt: skip
    return rows


def test_online_equals_offline_as_of(
    feature_settings: StackSettings, redis_server: Any, tmp_path: Any
) -> None:
    # its own run folder: own offline store and Feast registry (the session store is left alone); parallelism 1
    # keeps the input's time order up to the keyed operator, so every offline row has its own event time
    cfg = PipelineSettings(
        run_dir=tmp_path, flink_parallelism=1, seq_views=SEQ_VIEWS, instore_view=INSTORE, windows=[], checkpoint_interval_ms=500,
        offline_snapshots=True,  # the view rows Feast's retrieval reads (the training default reads the behaviour log)
        redis_host=feature_settings.redis_host, redis_port=feature_settings.redis_port,
        redis_password=feature_settings.redis_password, feature_repo=feature_settings.feature_repo,
    )  # fmt: skip
    events = behaviours(400, seed=5)
    client = redis_server.client()
    client.delete(*(redis_key(u) for u in USERS))
    run_from_elements(cfg, events, job_jars(), with_windows=False)

    rng = random.Random(1)
    probes = [(u, events[i].ts_ms) for i in range(24, len(events), 25) for u in rng.sample(USERS, 3)]
    newest = {u: max(b.ts_ms for b in events if b.user_id == u) for u in USERS}
    online = RedisOnlineStore(client)
    found = 0
    for view in VIEWS:
        offline = as_of(cfg, view, probes)
        for (u, t), got in zip(probes, offline, strict=True):
            assert got == reference(view, events, u, t), (view, u, t)
            found += got is not None
        # at each user's newest time: the online row is the offline as-of row (and the reference)
        final = as_of(cfg, view, list(newest.items()))
        stored = online.read(view, USERS)
        assert final == stored, view
        assert stored == [reference(view, events, u, newest[u]) for u in USERS], view
    assert found > 50

    # Feast's own retrieval agrees on a sample (it is slow: a subset)
    sample = probes[::5]
    parquet = as_of(cfg, "user_hybrid_seq_v2", sample)
    feast = as_of(apply(cfg), "user_hybrid_seq_v2", sample)
    assert feast == parquet and any(r is not None for r in feast)
