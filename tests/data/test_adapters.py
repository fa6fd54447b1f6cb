"""Adapters on the real files in ../shared/data (figures from PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from omniseq.data import histories, load
from omniseq.data.clickstream import UserItemFile
from omniseq.schema import OnlineEvent, SchemaError, StoreTransaction, sort_key


def test_hm_matches_provenance(shared_data: Path) -> None:
    s = load("hm", shared_data).summary()
    assert s.online_events == 22_465  # rows with sales_channel_id 2
    assert s.store_transactions == 3_537  # store (customer, day) baskets
    assert s.users == 1_364
    assert s.both_channel_users == 459
    assert s.items == 17_033
    # store rows = basket items + duplicates collapsed into the sets
    assert s.basket_items + s.notes["duplicate_items_collapsed"] == 9_197
    assert s.time_span() == ("2018-09-20 00:00:00", "2020-09-22 23:59:59")


def test_hm_first_rows_and_same_day_order(shared_data: Path) -> None:
    ds = load("hm", shared_data)
    first = next(ds.online_events())
    assert first.user_id.startswith("1a674938eb6b4f9b")
    assert (first.item_id, first.event_type, first.ts_ms) == ("0493995001", "purchase", 1_537_401_600_000)
    basket = next(ds.store_transactions())
    assert basket.store_id == "hm-store" and basket.ts_ms == 1_537_401_600_000 + 86_400_000 - 1000
    # online rows of one customer-day get distinct, increasing stamps
    stamps: dict[str, list[int]] = {}
    for e in ds.online_events():
        stamps.setdefault(e.session_id, []).append(e.ts_ms)
    assert all(ts == sorted(set(ts)) for ts in stamps.values())


def test_yoochoose_and_diginetica(shared_data: Path) -> None:
    yc = load("yoochoose", shared_data).summary()
    assert (yc.online_events, yc.users, yc.items) == (70_278, 17_794, 2_933)
    assert yc.events_by_type["click"] == 70_278
    first = next(load("yoochoose", shared_data).online_events())
    assert (first.user_id, first.item_id, first.ts_ms) == ("s3", "214716935", 1_396_437_466_940)
    assert load("yoochoose", shared_data, split="test").summary().online_events == 13_568
    dg = load("diginetica", shared_data).summary()
    assert (dg.online_events, dg.items) == (12_391, 7_139)
    e = next(load("diginetica", shared_data).online_events())
    assert (e.user_id, e.session_id, e.item_id, e.event_type) == ("s1", "s1", "81766", "view")
    assert e.ts_ms == 1_462_752_000_000 + 526_309  # 2016-05-09 + timeframe


def test_tafeng(shared_data: Path) -> None:
    tf = load("tafeng", shared_data).summary()
    assert (tf.users, tf.store_transactions, tf.items, tf.basket_items) == (13_858, 91_227, 11_997, 571_933)
    first = next(load("tafeng", shared_data).store_transactions())
    assert first.user_id == "1" and first.items == ("0", "1", "2")
    assert first.ts_ms == 973_080_000_000  # 2000-11-01 12:00 UTC, synthetic


@pytest.mark.slow
def test_beauty_full_pass(shared_data: Path) -> None:
    beauty = load("beauty", shared_data).summary()
    assert (beauty.online_events, beauty.users, beauty.items) == (353_962, 40_226, 54_542)


@pytest.mark.slow
def test_dunnhumby_full_pass(shared_data: Path) -> None:
    s = load("dunnhumby", shared_data).summary()
    assert s.users == 2_469 and s.online_events == 0
    assert s.skipped == {"line_quantity_not_positive": 8_869, "basket_without_positive_quantity": 330}
    assert s.store_transactions == 155_848 - 330
    assert s.basket_items + s.skipped["line_quantity_not_positive"] == 1_469_307
    assert s.time_span() == ("2017-01-01 11:53:26", "2018-01-01 04:01:20")


def test_dunnhumby_first_basket(shared_data: Path) -> None:
    t = next(load("dunnhumby", shared_data).store_transactions())
    assert (t.user_id, t.store_id, t.txn_id, t.items) == ("900", "330", "31198570044", ("1095275",))
    assert t.ts_ms == 1_483_271_606_000  # 2017-01-01 11:53:26 UTC


def test_histories_are_time_ordered(shared_data: Path) -> None:
    h = histories(load("hm", shared_data))
    assert len(h) == 1_364
    assert all(seq == sorted(seq, key=sort_key) for seq in h.values())
    mixed = [seq for seq in h.values() if {type(b) for b in seq} == {OnlineEvent, StoreTransaction}]
    assert len(mixed) == 459
    assert len(histories(load("hm", shared_data), min_len=10)) < len(h)


def test_user_item_format_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "seq.txt"
    good.write_text("u1 a\nu2 b\nu1 c\n\n")
    ds = UserItemFile(good, event_type="view")
    events = list(ds.online_events())
    assert [(e.user_id, e.item_id, e.event_type) for e in events] == [
        ("u1", "a", "view"),
        ("u2", "b", "view"),
        ("u1", "c", "view"),
    ]
    assert events[2].ts_ms - events[0].ts_ms == 86_400_000 and events[1].ts_ms == events[0].ts_ms
    assert ds.skipped["blank_line"] == 1
    assert load(f"user-item:{good}").summary().users == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("u1 a\nu2 b extra\n")
    with pytest.raises(SchemaError, match=r"field '<line>'.*bad.txt:2"):
        list(UserItemFile(bad).online_events())
    with pytest.raises(ValueError, match="event_type"):
        UserItemFile(good, event_type="like")


def test_bad_rows_name_field_and_record(tmp_path: Path) -> None:
    (tmp_path / "hm_sample_hungle45").mkdir()
    csv = tmp_path / "hm_sample_hungle45" / "transactions_train_sample.csv"
    csv.write_text("t_dat,customer_id,article_id,price,sales_channel_id\n2020-01-01,c1,01,0.1,3\n")
    with pytest.raises(SchemaError, match=r"field 'sales_channel_id'.*transactions_train_sample.csv:2"):
        list(load("hm", tmp_path).online_events())
    csv.write_text("t_dat,customer_id,article_id,price,sales_channel_id\n2020-13-01,c1,01,0.1,2\n")
    with pytest.raises(SchemaError, match="field 'date'"):
        list(load("hm", tmp_path).online_events())
    csv.write_text("t_dat,customer_id,article_id,price\n")
    with pytest.raises(SchemaError, match="field 'sales_channel_id' is missing from the header"):
        list(load("hm", tmp_path).store_transactions())
    with pytest.raises(FileNotFoundError, match="diginetica"):
        list(load("diginetica", tmp_path).online_events())
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load("nope")
    with pytest.raises(ValueError, match="split"):
        load("yoochoose", tmp_path, split="all")


def test_dunnhumby_rejects_inconsistent_or_unsorted_rows(tmp_path: Path) -> None:
    folder = tmp_path / "dunnhumby_completejourney_2017"
    folder.mkdir()

    def write(households: list[int], stamps: list[str]) -> None:
        n = len(households)
        table = pa.table(
            {
                "household_id": households,
                "store_id": [1] * n,
                "basket_id": [10] * n,
                "product_id": list(range(n)),
                "quantity": [1] * n,
                "transaction_timestamp": pa.array([np.datetime64(s, "ns") for s in stamps]),
            }
        )
        pq.write_table(table, folder / "transactions.parquet")

    write([1, 2], ["2017-01-01T10:00:00", "2017-01-01T10:00:00"])
    with pytest.raises(SchemaError, match="field 'basket_id' mixes households"):
        list(load("dunnhumby", tmp_path).store_transactions())
    write([1, 1], ["2017-01-02T10:00:00", "2017-01-01T10:00:00"])
    with pytest.raises(SchemaError, match="goes back in time"):
        list(load("dunnhumby", tmp_path).store_transactions())
    write([1, 1], ["2017-01-01T10:00:00", "2017-01-01T10:00:00"])
    (basket,) = load("dunnhumby", tmp_path).store_transactions()
    assert basket.items == ("0", "1") and basket.ts_ms == 1_483_264_800_000


def test_data_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNISEQ_DATA_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        list(load("diginetica").online_events())
