"""``omniseq drop`` writes one valid in-store drop into the landing folder, and refuses a basket without items."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli.main import main
from omniseq.schema import table_to_transactions
from pipeline.landing import check_drop


def test_drop_writes_a_valid_basket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    args = ["drop", "--user", "u1", "--items", "a, b,c", "--store", "s-9", "--ts-ms", "1700000000000"]
    assert main(args) == 0
    (drop,) = (tmp_path / "landing").glob("*.parquet")
    assert check_drop(drop) is None
    (txn,) = table_to_transactions(pq.read_table(drop))
    assert (txn.user_id, txn.items, txn.store_id, txn.ts_ms) == (
        "u1",
        ("a", "b", "c"),
        "s-9",
        1_700_000_000_000,
    )
    assert txn.txn_id == drop.stem


def test_drop_refuses_an_empty_basket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    assert main(["drop", "--user", "u1", "--items", " , "]) == 2
    assert "items" in capsys.readouterr().out
    assert not (tmp_path / "landing").exists()
