"""The job's transformations on a local Flink mini-cluster fed from elements (no Kafka, no Redis): the online
rows (JSON-lines sink) and the offline Parquet store equal the pure-Python reference."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from omniseq.schema import EVENT_TYPES, OnlineEvent, StoreTransaction
from pipeline.config import MINUTE_MS, PipelineSettings, WindowSpec
from pipeline.reference import dedup, expected_online
from pipeline.sinks import read_counters, read_jsonl_latest

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


def _rows(history: list[OnlineEvent | StoreTransaction]) -> list:  # type: ignore[type-arg]
    from pyflink.common import Row

    from omniseq.features.sequence import BASKET_CODE, EVENT_TYPE_CODES

    rows = []
    for b in history:
        if isinstance(b, StoreTransaction):
            rows.append(Row(b.user_id, b.txn_id, BASKET_CODE, "", b.ts_ms, list(b.items), b.store_id))
        else:
            rows.append(
                Row(b.user_id, b.event_id, EVENT_TYPE_CODES[b.event_type], b.item_id, b.ts_ms, [], "")
            )
    return rows


def test_hybrid_windows_and_offline_equal_reference(tmp_path: Path, flink_jars: list[str]) -> None:
    from pipeline import functions as fn
    from pipeline import job
    from pipeline.runner import flink_config, make_env

    cfg = PipelineSettings(
        run_dir=tmp_path,
        seq_views={"user_hybrid_seq_v1": 5, "user_hybrid_seq_v2": 12},
        windows=[WindowSpec(view="user_online_agg_10m_v1", size_ms=10 * MINUTE_MS, slide_ms=MINUTE_MS)],
        checkpoint_interval_ms=500,
    )
    history = _history()
    online = tmp_path / "online"
    env, t_env = make_env(flink_config(cfg, flink_jars, None))
    stmts = t_env.create_statement_set()
    src = env.from_collection(_rows(history), type_info=fn.BEHAVIOUR_TYPE)
    clean, side = job.build_hybrid(src, cfg, online.as_uri(), with_offline=True)
    windows = job.build_windows(t_env, clean, cfg)
    job.build_window_writer(t_env, windows, cfg, online.as_uri())
    job.build_offline_sinks(t_env, stmts, cfg, side, windows)
    stmts.attach_as_datastream()
    env.execute("test-job-local")

    expected = expected_online(history, cfg)
    for view, users in expected.items():
        assert read_jsonl_latest(online, view) == users, view
    counts = read_counters(cfg.pipeline_dir / "metrics")
    unique = dedup(history)
    assert counts["events"] + counts["baskets"] == len(unique)
    assert counts["duplicate_events"] + counts.get("duplicate_baskets", 0) == len(history) - len(unique)
    offline = ds.dataset(cfg.dir("offline") / "user_hybrid_seq_v2", partitioning="hive").to_table()
    assert offline.num_rows == len(unique)  # one row per behaviour, none twice
    last = {r["user_id"]: r for r in sorted(offline.to_pylist(), key=lambda r: (r["last_ts"], r["seq_len"]))}
    for user, feats in expected["user_hybrid_seq_v2"].items():
        assert last[user]["last_ts"] == feats["last_ts"]
