from __future__ import annotations

import json

import pyarrow as pa
import pytest

from omniseq.schema import (
    ONLINE_EVENT_SCHEMA,
    OnlineEvent,
    SchemaError,
    StoreTransaction,
    encode_event,
    events_to_table,
    parse_online_event,
    parse_store_transaction,
    sort_key,
    table_to_events,
    table_to_transactions,
    transactions_to_table,
)
from tests.wire import decode_event

TS = 1_700_000_000_000


def _event(**kw: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "event_id": "e1",
        "user_id": "u1",
        "item_id": "i1",
        "event_type": "view",
        "ts_ms": TS,
        "session_id": "s1",
    }
    rec.update(kw)
    return rec


def test_json_round_trip() -> None:
    e = parse_online_event(_event())
    assert decode_event(encode_event(e)) == e
    assert json.loads(encode_event(e)) == _event()


@pytest.mark.parametrize(
    ("rec", "field"),
    [
        (_event(event_type="hover"), "event_type"),
        (_event(ts_ms="1700000000000"), "ts_ms"),
        (_event(ts_ms=1_700_000_000), "ts_ms"),  # seconds, not ms
        (_event(ts_ms=True), "ts_ms"),
        (_event(user_id=7), "user_id"),
        (_event(item_id=""), "item_id"),
        ({k: v for k, v in _event().items() if k != "session_id"}, "session_id"),
        (_event(price=3), "price"),
    ],
)
def test_invalid_online_event_names_the_field(rec: dict[str, object], field: str) -> None:
    with pytest.raises(SchemaError) as err:
        parse_online_event(rec)
    assert err.value.field == field
    assert field in str(err.value)
    assert "u1" in str(err.value) or field == "user_id"


def test_bad_json_is_a_schema_error() -> None:
    with pytest.raises(SchemaError) as err:
        decode_event(b"{not json")
    assert err.value.field == "<json>"
    with pytest.raises(SchemaError):
        decode_event(b"[1, 2]")


def test_store_transaction_is_a_set() -> None:
    t = parse_store_transaction(
        {"txn_id": "t", "user_id": "u", "items": ["a", "b"], "ts_ms": TS, "store_id": "s"}
    )
    assert t.items == ("a", "b")
    with pytest.raises(SchemaError, match="duplicate"):
        StoreTransaction("t", "u", ("a", "a"), TS, "s")
    with pytest.raises(SchemaError, match="items"):
        StoreTransaction("t", "u", (), TS, "s")


def test_arrow_round_trip() -> None:
    events = [OnlineEvent(f"e{i}", "u", f"i{i}", "click", TS + i, "s") for i in range(3)]
    table = events_to_table(events)
    assert table.schema.equals(ONLINE_EVENT_SCHEMA)
    assert list(table_to_events(table)) == events
    txns = [StoreTransaction("t", "u", ("a", "b"), TS, "s")]
    assert list(table_to_transactions(transactions_to_table(txns))) == txns


def test_arrow_type_mismatch_is_reported() -> None:
    bad = pa.table(
        {
            "event_id": ["e"],
            "user_id": ["u"],
            "item_id": ["i"],
            "event_type": ["view"],
            "ts_ms": ["x"],
            "session_id": ["s"],
        }
    )
    with pytest.raises(SchemaError, match="ts_ms"):
        list(table_to_events(bad))


def test_sort_key_puts_baskets_first_at_equal_time() -> None:
    e = OnlineEvent("e", "u", "i", "view", TS, "s")
    t = StoreTransaction("t", "u", ("a",), TS, "s")
    assert sorted([e, t], key=sort_key) == [t, e]
