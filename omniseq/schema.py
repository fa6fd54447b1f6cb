"""The hybrid behaviour schema (seed ``omnichannel_sasrec_store_encoder.txt`` §III).

A user's history ``h_u = {(i_1, t_1, online), (s_1, t_2, in-store), ...}`` is a time-ordered mix of

* :class:`OnlineEvent` -- one item, its own timestamp, an event type and a session id, and
* :class:`StoreTransaction` -- a *set* of items sharing one timestamp, bought in one store.

This module is the single definition used by the producer, the Flink job, the feature registry, training and
serving: typed records, their Arrow schemas, their JSON wire format (Kafka) and validation. Validation never
coerces: a wrong type or value raises :class:`SchemaError` naming the record and the field.

Timestamps are integer epoch **milliseconds** (UTC) everywhere (``ts_ms``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import pyarrow as pa

EventType = Literal["view", "click", "add_to_cart", "purchase"]
EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)
Channel = Literal["online", "in_store"]

#: Earliest and latest accepted timestamps (1990-01-01 .. 2100-01-01), to catch seconds-vs-ms mistakes.
MIN_TS_MS: Final[int] = 631_152_000_000
MAX_TS_MS: Final[int] = 4_102_444_800_000
MAX_ID_LEN: Final[int] = 128
MAX_BASKET_SIZE: Final[int] = 1_000


class SchemaError(ValueError):
    """A record does not fit the schema. ``record`` is a short repr of the offending record."""

    def __init__(self, kind: str, field: str, reason: str, record: Any) -> None:
        self.kind = kind
        self.field = field
        self.reason = reason
        self.record = _short(record)
        super().__init__(f"invalid {kind}: field '{field}' {reason} (record: {self.record})")


def _short(record: Any, limit: int = 300) -> str:
    text = repr(record)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class OnlineEvent:
    """One online behaviour: a single item at its own timestamp."""

    event_id: str
    user_id: str
    item_id: str
    event_type: EventType
    ts_ms: int
    session_id: str

    channel: Channel = "online"

    def __post_init__(self) -> None:
        _check_online(_as_dict(self))

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in ONLINE_FIELDS}


@dataclass(frozen=True, slots=True)
class StoreTransaction:
    """One in-store behaviour: a set of items sharing one timestamp and one store."""

    txn_id: str
    user_id: str
    items: tuple[str, ...]
    ts_ms: int
    store_id: str

    channel: Channel = "in_store"

    def __post_init__(self) -> None:
        _check_store(_as_dict(self))

    def to_dict(self) -> dict[str, Any]:
        d = {f: getattr(self, f) for f in STORE_FIELDS}
        d["items"] = list(self.items)
        return d


Behaviour = OnlineEvent | StoreTransaction

ONLINE_FIELDS: Final[tuple[str, ...]] = (
    "event_id",
    "user_id",
    "item_id",
    "event_type",
    "ts_ms",
    "session_id",
)
STORE_FIELDS: Final[tuple[str, ...]] = ("txn_id", "user_id", "items", "ts_ms", "store_id")

ONLINE_EVENT_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
    ],
    metadata={"omniseq.record": "online_event", "omniseq.schema_version": "1"},
)

STORE_TXN_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        pa.field("txn_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("items", pa.list_(pa.string()), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
        pa.field("store_id", pa.string(), nullable=False),
    ],
    metadata={"omniseq.record": "store_transaction", "omniseq.schema_version": "1"},
)


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__slots__ if f != "channel"}


def _check_id(kind: str, rec: Mapping[str, Any], field: str) -> None:
    value = rec.get(field)
    if not isinstance(value, str):
        raise SchemaError(kind, field, f"must be a string, got {type(value).__name__}", rec)
    if not value or len(value) > MAX_ID_LEN:
        raise SchemaError(kind, field, f"must be 1..{MAX_ID_LEN} characters", rec)


def _check_ts(kind: str, rec: Mapping[str, Any]) -> None:
    ts = rec.get("ts_ms")
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise SchemaError(kind, "ts_ms", f"must be an integer (epoch ms), got {type(ts).__name__}", rec)
    if not MIN_TS_MS <= ts <= MAX_TS_MS:
        raise SchemaError(
            kind, "ts_ms", f"out of range [{MIN_TS_MS}, {MAX_TS_MS}] (epoch milliseconds?)", rec
        )


def _check_online(rec: Mapping[str, Any]) -> None:
    for f in ("event_id", "user_id", "item_id", "session_id"):
        _check_id("online_event", rec, f)
    if rec.get("event_type") not in EVENT_TYPES:
        raise SchemaError("online_event", "event_type", f"must be one of {list(EVENT_TYPES)}", rec)
    _check_ts("online_event", rec)


def _check_store(rec: Mapping[str, Any]) -> None:
    for f in ("txn_id", "user_id", "store_id"):
        _check_id("store_transaction", rec, f)
    items = rec.get("items")
    if not isinstance(items, tuple | list):
        raise SchemaError("store_transaction", "items", "must be a list of item ids", rec)
    if not 1 <= len(items) <= MAX_BASKET_SIZE:
        raise SchemaError("store_transaction", "items", f"must hold 1..{MAX_BASKET_SIZE} items", rec)
    for it in items:
        if not isinstance(it, str) or not it or len(it) > MAX_ID_LEN:
            raise SchemaError("store_transaction", "items", f"holds an invalid item id {it!r}", rec)
    if len(set(items)) != len(items):
        raise SchemaError("store_transaction", "items", "is a set: duplicate item ids are not allowed", rec)
    _check_ts("store_transaction", rec)


def _require_fields(kind: str, rec: Any, fields: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(rec, Mapping):
        raise SchemaError(kind, "<record>", f"must be an object, got {type(rec).__name__}", rec)
    for f in fields:
        if f not in rec:
            raise SchemaError(kind, f, "is missing", rec)
    extra = set(rec) - set(fields) - {"channel"}
    if extra:
        raise SchemaError(kind, sorted(extra)[0], "is not part of the schema", rec)
    return rec


def parse_online_event(rec: Any) -> OnlineEvent:
    """Validate a mapping (e.g. decoded JSON) into an :class:`OnlineEvent`; raises :class:`SchemaError`."""
    rec = _require_fields("online_event", rec, ONLINE_FIELDS)
    if rec.get("channel", "online") != "online":
        raise SchemaError("online_event", "channel", "must be 'online'", rec)
    return OnlineEvent(**{f: rec[f] for f in ONLINE_FIELDS})


def parse_store_transaction(rec: Any) -> StoreTransaction:
    """Validate a mapping into a :class:`StoreTransaction`; raises :class:`SchemaError`."""
    rec = _require_fields("store_transaction", rec, STORE_FIELDS)
    items = rec["items"]
    if isinstance(items, list):
        items = tuple(items)
    return StoreTransaction(
        txn_id=rec["txn_id"],
        user_id=rec["user_id"],
        items=items,
        ts_ms=rec["ts_ms"],
        store_id=rec["store_id"],
    )


# --- JSON wire format (Kafka topic ``clickstream``) -------------------------------------------------------------


def encode_event(event: OnlineEvent) -> bytes:
    """The Kafka value of an online event: compact UTF-8 JSON with exactly the schema's fields."""
    return json.dumps(event.to_dict(), separators=(",", ":")).encode()


# --- Arrow ------------------------------------------------------------------------------------------------------


def events_to_table(events: Iterable[OnlineEvent]) -> pa.Table:
    cols: dict[str, list[Any]] = {f: [] for f in ONLINE_FIELDS}
    for e in events:
        for f in ONLINE_FIELDS:
            cols[f].append(getattr(e, f))
    return pa.Table.from_pydict(cols, schema=ONLINE_EVENT_SCHEMA)


def transactions_to_table(txns: Iterable[StoreTransaction]) -> pa.Table:
    cols: dict[str, list[Any]] = {f: [] for f in STORE_FIELDS}
    for t in txns:
        for f in STORE_FIELDS:
            v = getattr(t, f)
            cols[f].append(list(v) if f == "items" else v)
    return pa.Table.from_pydict(cols, schema=STORE_TXN_SCHEMA)


def _check_table_schema(table: pa.Table, schema: pa.Schema, kind: str) -> None:
    for field in schema:
        if field.name not in table.column_names:
            raise SchemaError(kind, field.name, "is missing from the Arrow table", table.schema)
        actual = table.schema.field(field.name).type
        if actual != field.type:
            raise SchemaError(
                kind, field.name, f"has Arrow type {actual}, expected {field.type}", table.schema
            )


def table_to_events(table: pa.Table) -> Iterator[OnlineEvent]:
    _check_table_schema(table, ONLINE_EVENT_SCHEMA, "online_event")
    for row in table.select(list(ONLINE_FIELDS)).to_pylist():
        yield parse_online_event(row)


def table_to_transactions(table: pa.Table) -> Iterator[StoreTransaction]:
    _check_table_schema(table, STORE_TXN_SCHEMA, "store_transaction")
    for row in table.select(list(STORE_FIELDS)).to_pylist():
        yield parse_store_transaction(row)


def sort_key(b: Behaviour) -> tuple[int, int, str]:
    """Deterministic time order of a hybrid history: by timestamp; at equal time in-store before online; then id."""
    if isinstance(b, StoreTransaction):
        return (b.ts_ms, 0, b.txn_id)
    return (b.ts_ms, 1, b.event_id)
