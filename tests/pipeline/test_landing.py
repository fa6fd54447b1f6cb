from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from omniseq.schema import StoreTransaction
from pipeline.landing import LandingValidator
from pipeline.producer import write_drop
from pipeline.sinks import read_counters

T0 = 1_700_000_000_000


def _validator(tmp_path: Path) -> LandingValidator:
    return LandingValidator(
        tmp_path / "landing", tmp_path / "acc", tmp_path / "q", tmp_path / "pipe", settle_s=0, incomplete_grace_s=0
    )


def test_valid_drop_is_accepted_bad_ones_quarantined_with_reason(tmp_path: Path) -> None:
    v = _validator(tmp_path)
    landing = tmp_path / "landing"
    write_drop([StoreTransaction("t1", "u", ("a",), T0, "s")], landing, "good")
    (landing / "corrupt.parquet").write_bytes(b"PAR1 not really")
    pq.write_table(pa.table({"txn_id": ["t"], "user_id": ["u"]}), landing / "columns.parquet")
    bad_row = pa.table(
        {"txn_id": ["t"], "user_id": ["u"], "items": [["a", "a"]], "ts_ms": [T0], "store_id": ["s"]}
    )
    pq.write_table(
        bad_row.cast(pa.schema([f.with_nullable(True) for f in bad_row.schema])), landing / "dup.parquet"
    )
    (landing / ".tmp-in-progress.parquet.tmp").write_bytes(b"x")

    results = dict((p.name, r) for p, r in v.scan())
    assert results["good.parquet"] is None
    assert "Parquet" in str(results["corrupt.parquet"])
    assert "'items' is missing" in str(results["columns.parquet"])
    assert "duplicate item ids" in str(results["dup.parquet"])
    assert len(list((tmp_path / "acc").glob("good-*.parquet"))) == 1
    reason = json.loads((tmp_path / "q" / "corrupt.parquet.reason.json").read_text())
    assert reason["file"] == "corrupt.parquet" and reason["reason"] == results["corrupt.parquet"]
    assert [p.name for p in landing.iterdir()] == [".tmp-in-progress.parquet.tmp"]
    assert read_counters(tmp_path / "pipe" / "metrics") == {"drops_accepted": 1, "drops_quarantined": 3}
