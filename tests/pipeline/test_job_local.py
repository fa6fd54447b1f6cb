"""The job's transformations on a local Flink mini-cluster fed from elements (no Kafka): the online rows (Redis,
written by the Java operators) and the offline Parquet store equal the pure-Python reference."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from omniseq.features.behaviour_log import LOG_COLUMNS, LOG_NAME, read_log, sequences_as_of
from omniseq.features.online import RedisOnlineStore
from omniseq.schema import EVENT_TYPES, OnlineEvent, StoreTransaction
from pipeline import job
from pipeline.config import MINUTE_MS, PipelineSettings, WindowSpec
from pipeline.sinks import read_counters
from tests.pipeline.local_job import run_from_elements
from tests.pipeline.reference import dedup, expected_online

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_700_000_000_000
ETYPES: list[Any] = list(EVENT_TYPES)  # Literal-typed choices for the random generators


def _history(n_users: int = 6, n_events: int = 300) -> list[OnlineEvent | StoreTransaction]:
    rng = random.Random(3)
    out: list[OnlineEvent | StoreTransaction] = []
    for i in range(n_events):
        u = f"u{rng.randrange(n_users)}"
        ts = T0 + i * 7_000 + rng.randrange(0, 3_000)  # out of order by less than the watermark delay
        out.append(OnlineEvent(f"e{i}", u, f"i{rng.randrange(40)}", rng.choice(ETYPES), ts, "s"))
        if i % 25 == 0:
            late = ts - 30 * MINUTE_MS  # baskets from before events already seen
            out.append(StoreTransaction(f"t{i}", u, ("a", f"b{i}"), max(T0, late), f"s{i % 3}"))
        if i % 40 == 0:
            out.append(out[-1])
    return out


def test_hybrid_windows_and_offline_equal_reference(
    tmp_path: Path, flink_jars: list[str], redis_server: Any
) -> None:
    cfg = PipelineSettings(
        run_dir=tmp_path,
        seq_views={"user_hybrid_seq_v1": 5, "user_hybrid_seq_v2": 12},
        windows=[WindowSpec(view="user_online_agg_10m_v1", size_ms=10 * MINUTE_MS, slide_ms=MINUTE_MS)],
        checkpoint_interval_ms=500,
        offline_snapshots=True,  # the optional per-behaviour view rows are checked below too
        redis_port=redis_server.settings.redis_port,
        redis_password=redis_server.settings.redis_password,
    )
    redis_server.client().flushdb()
    history = _history()
    run_from_elements(cfg, history, flink_jars)

    expected = expected_online(history, cfg)
    store = RedisOnlineStore.from_url(cfg.redis_url)
    for view, users in expected.items():
        names = sorted(users)
        got = dict(zip(names, store.read(view, names), strict=True))
        assert got == users, view
    counts = read_counters(cfg.pipeline_dir / "metrics")
    unique = dedup(history)
    assert counts["events"] + counts["baskets"] == len(unique)
    assert counts["duplicate_events"] + counts.get("duplicate_baskets", 0) == len(history) - len(unique)
    offline = ds.dataset(cfg.dir("offline") / "user_hybrid_seq_v2", partitioning="hive").to_table()
    assert offline.num_rows == len(unique)  # one row per behaviour, none twice
    last = {r["user_id"]: r for r in sorted(offline.to_pylist(), key=lambda r: (r["last_ts"], r["seq_len"]))}
    for user, feats in expected["user_hybrid_seq_v2"].items():
        assert last[user]["last_ts"] == feats["last_ts"]
    # the Java operators' behaviour layout is the behaviour log's (the Python side of the same rows)
    assert list(job._java().Records.BEHAVIOUR_FIELDS) == list(LOG_COLUMNS)
    log_dir = cfg.dir("offline") / LOG_NAME
    files = sorted(p.name for p in log_dir.glob("date=*/*") if not p.name.startswith("."))
    assert files and all(name.endswith(".parquet") for name in files)
    log = read_log(cfg.dir("offline"))
    assert sorted(log.column("key").to_pylist()) == sorted(
        b.txn_id if isinstance(b, StoreTransaction) else b.event_id for b in unique
    )
    # online == offline: the sequences rebuilt from the job's log as of each user's newest token are the rows
    # the job wrote to Redis
    for view, n in cfg.seq_views.items():
        online = expected[view]
        users = sorted(online)
        rebuilt = sequences_as_of(log, users, [online[u]["last_ts"] for u in users], n).to_pylist()
        redis_rows = store.read(view, users)
        for user, row, stored in zip(users, rebuilt, redis_rows, strict=True):
            assert {k: row[k] for k in stored or {}} == stored, (view, user)
