"""Refilling Redis from the offline store the pipeline writes (``omniseq features materialize``): Flink's
``part-…`` files without a ``.parquet`` suffix, in-progress files skipped, fresher online rows kept."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bench.feature_rows import sample_row
from cli.commands import features as cmd
from omniseq.features.offline import rows_to_table
from omniseq.features.online import RedisOnlineStore
from omniseq.settings import StackSettings

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
