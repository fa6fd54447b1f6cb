"""The Parquet offline store writer: partitions, schema, atomic files, append-only."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from bench.feature_rows import T0, sample_row
from omniseq.features.offline import OfflineWriter, arrow_schema, date_of
from omniseq.features.online import Row

DAY = 86_400_000


def test_partitions_and_roundtrip(tmp_path: Path) -> None:
    w = OfflineWriter(tmp_path)
    rows = [sample_row("user_hybrid_seq_v2", f"u{i}", i * 997, 12) for i in range(4)]
    late = Row("u9", rows[0].features, rows[0].ts_ms + 2 * DAY)
    files = w.write("user_hybrid_seq_v2", [*rows, late], created_ms=T0)
    assert len(files) == 2
    assert {f.parent.name for f in files} == {f"date={date_of(rows[0].ts_ms)}", f"date={date_of(late.ts_ms)}"}
    assert not list(tmp_path.rglob(".*"))  # no temporary file left behind
    table = w.read("user_hybrid_seq_v2")
    assert table.schema.equals(arrow_schema("user_hybrid_seq_v2"), check_metadata=False)
    assert str(table.schema.field("event_timestamp").type) == "timestamp[ms, tz=UTC]"
    got = {(r["user_id"], r["seq_len"]): r["tok_items"] for r in table.to_pylist()}
    for u, f, _ in [*rows, late]:
        assert got[(u, f["seq_len"])] == f["tok_items"]
    # a Hive-partitioned dataset read of the folder sees every row (what Feast's reader does)
    assert ds.dataset(w.view_dir("user_hybrid_seq_v2"), partitioning="hive").count_rows() == 5


def test_append_only(tmp_path: Path) -> None:
    w = OfflineWriter(tmp_path)
    row = sample_row("user_instore_agg_v1", "u", 1)
    first = w.write("user_instore_agg_v1", [row], created_ms=T0)
    second = w.write("user_instore_agg_v1", [row], created_ms=T0 + 1)
    assert first != second and all(p.exists() for p in first + second)
    assert w.read("user_instore_agg_v1").num_rows == 2
    assert w.write("user_instore_agg_v1", []) == []


def test_bad_rows_are_named(tmp_path: Path) -> None:
    w = OfflineWriter(tmp_path)
    _, feats, ts = sample_row("user_instore_agg_v1", "u", 1)
    with pytest.raises(TypeError, match="user_instore_agg_v1"):
        w.write("user_instore_agg_v1", [Row("u", {**feats, "store_visits": "many"}, ts)])
    with pytest.raises(KeyError, match="unknown feature view"):
        w.write("user_stuff_v1", [Row("u", feats, ts)])
    assert w.read("user_online_agg_1h_v1").num_rows == 0
