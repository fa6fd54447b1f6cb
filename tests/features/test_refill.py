"""Refilling Redis from the offline store the pipeline writes (``omniseq features materialize``): Flink's
``part-…`` files without a ``.parquet`` suffix, in-progress files skipped, fresher online rows kept."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bench.feature_rows import T0, sample_row
from cli.commands import features as cmd
from omniseq.features.behaviour_log import LOG_NAME
from omniseq.features.offline import rows_to_table
from omniseq.features.online import RedisOnlineStore, redis_key
from omniseq.features.refill import refill_online
from omniseq.features.sequence import HybridSequence
from omniseq.schema import Behaviour, OnlineEvent, StoreTransaction
from omniseq.settings import StackSettings
from tests.pipeline.reference import instore_aggregates, log_table

VIEW = "user_hybrid_seq_v2"
pytestmark = pytest.mark.integration


def _flink_part(offline: Path, rows: list[Any], created_ms: int, name: str) -> None:
    folder = offline / VIEW / "date=2023-11-14"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows_to_table(VIEW, rows, created_ms), folder / name)


def test_materialize_refills_redis_from_pipeline_part_files(
    feature_settings: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_client: Any
) -> None:
    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("OMNISEQ_REDIS_PORT", str(feature_settings.redis_port))
    rows = [sample_row(VIEW, f"refill_u{i % 3}", i, 10 + i) for i in range(9)]
    offline = tmp_path / "offline"
    _flink_part(offline, rows[:5], 1, "part-6f1c2e-0-0")  # what Flink's file sink commits: no suffix
    _flink_part(offline, rows[5:], 2, "part-6f1c2e-0-1")
    (offline / VIEW / "date=2023-11-14" / ".part-6f1c2e-0-2.inprogress.1234").write_bytes(b"half a file")
    store = RedisOnlineStore(redis_client)
    fresher = sample_row(VIEW, "refill_u0", 99, 10_000)
    store.write(VIEW, [fresher])  # the pipeline already wrote something newer for this user

    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    assert cmd.run(parser.parse_args(["materialize", "--views", VIEW])) == 0

    newest = {u: f for u, f, _ in rows}  # rows are in time order per user
    assert store.read(VIEW, ["refill_u1", "refill_u2"]) == [newest["refill_u1"], newest["refill_u2"]]
    assert store.read(VIEW, ["refill_u0"]) == [fresher.features]  # never overwritten by an older offline row


def test_refill_rebuilds_log_fed_views_from_the_behaviour_log(
    feature_settings: StackSettings, tmp_path: Path, redis_client: Any
) -> None:
    """The job's default offline output is the behaviour log only: the sequence and in-store views are rebuilt
    from it (late basket included) and equal the reference."""
    history: list[Behaviour] = [
        OnlineEvent("le1", "log_u1", "i1", "view", T0 + 1_000, "s"),
        OnlineEvent("le2", "log_u1", "i2", "click", T0 + 3_000, "s"),
        StoreTransaction("lt1", "log_u1", ("a", "b"), T0 + 2_000, "st1"),  # arrives last, dated in between
        OnlineEvent("le3", "log_u2", "i3", "purchase", T0 + 5_000, "s"),
    ]
    folder = tmp_path / "run" / "offline" / LOG_NAME / "date=2023-11-14"
    folder.mkdir(parents=True)
    pq.write_table(log_table(history, T0 + 10_000), folder / "part-0.parquet")
    settings = StackSettings(
        run_dir=tmp_path / "run",
        redis_port=feature_settings.redis_port,
        redis_password=feature_settings.redis_password,
    )
    store = RedisOnlineStore(redis_client)
    redis_client.delete(*(redis_key(u) for u in ("log_u1", "log_u2")))
    results = refill_online(settings, [VIEW, "user_instore_agg_v1"], store=store)
    assert [r.users_written for r in results] == [2, 1]
    for user in ("log_u1", "log_u2"):
        mine = [b for b in history if b.user_id == user]
        assert store.read(VIEW, [user]) == [HybridSequence.from_behaviours(user, mine, 90).to_features()]
    assert store.read("user_instore_agg_v1", ["log_u1", "log_u2"]) == [
        instore_aggregates(b for b in history if isinstance(b, StoreTransaction))["log_u1"],
        None,
    ]
