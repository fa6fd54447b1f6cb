"""A pure-Python reference of what the feature job computes: the test oracle of the pipeline and feature tests.

It deliberately shares nothing with the job's operators except the record types: sequences come from
:class:`omniseq.features.sequence.HybridSequence`, windows from a direct enumeration of HOP windows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from feature_repo.views import BASKET_CODE, EVENT_TYPE_CODES, ONLINE_COUNTS, ONLINE_RECENCY, ONLINE_TOTAL
from omniseq.features.behaviour_log import LOG_COLUMNS
from omniseq.features.sequence import HybridSequence
from omniseq.schema import Behaviour, OnlineEvent, StoreTransaction, sort_key
from pipeline.config import PipelineSettings, WindowSpec

# event type -> its count feature (the contract's online-aggregate columns)
COUNT_FIELD = {t: n for n, code in ONLINE_COUNTS.items() for t, c in EVENT_TYPE_CODES.items() if c == code}


@dataclass(frozen=True)
class WindowRow:
    user_id: str
    window_end: int
    features: dict[str, Any]

    @property
    def event_ts(self) -> int:
        return int(self.features[ONLINE_RECENCY])


def dedup(behaviours: Iterable[Behaviour]) -> list[Behaviour]:
    """First occurrence of every event id / transaction id wins."""
    seen: set[tuple[str, str]] = set()
    out: list[Behaviour] = []
    for b in behaviours:
        key = ("t", b.txn_id) if isinstance(b, StoreTransaction) else ("e", b.event_id)
        if key not in seen:
            seen.add(key)
            out.append(b)
    return out


def hop_windows(
    events: Iterable[OnlineEvent], spec: WindowSpec, watermark_ms: int | None = None
) -> list[WindowRow]:
    """Every (user, window) row of a HOP window aggregation, as Flink fires them by ``watermark_ms``
    (a window [start, end) fires once the watermark reaches end - 1; None means all windows have fired)."""
    acc: dict[tuple[str, int], dict[str, Any]] = {}
    for e in events:
        last_start = e.ts_ms - e.ts_ms % spec.slide_ms
        for start in range(last_start, last_start - spec.size_ms, -spec.slide_ms):
            end = start + spec.size_ms
            row = acc.setdefault((e.user_id, end), dict.fromkeys((*ONLINE_COUNTS, ONLINE_TOTAL), 0))
            row[COUNT_FIELD[e.event_type]] += 1
            row[ONLINE_TOTAL] += 1
            row[ONLINE_RECENCY] = max(row.get(ONLINE_RECENCY, 0), e.ts_ms)
    rows = [
        WindowRow(u, end, f) for (u, end), f in acc.items() if watermark_ms is None or end - 1 <= watermark_ms
    ]
    return sorted(rows, key=lambda r: (r.user_id, r.window_end))


def latest_per_user(rows: Iterable[WindowRow]) -> dict[str, dict[str, Any]]:
    """What the online store holds after all rows were written in window order: the newest window per user."""
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for r in rows:
        if r.user_id not in out or r.window_end > out[r.user_id][0]:
            out[r.user_id] = (r.window_end, r.features)
    return {u: f for u, (_, f) in out.items()}


def instore_aggregates(txns: Iterable[StoreTransaction]) -> dict[str, dict[str, Any]]:
    by_user: dict[str, list[StoreTransaction]] = defaultdict(list)
    for t in txns:
        by_user[t.user_id].append(t)
    out = {}
    for user, ts in by_user.items():
        last = max(ts, key=sort_key)
        n_items = sum(len(t.items) for t in ts)
        out[user] = {
            "store_visits": len(ts),
            "store_items": n_items,
            "mean_basket_size": n_items / len(ts),
            "last_store_id": last.store_id,
            "last_store_ts": last.ts_ms,
        }
    return out


def expected_online(
    behaviours: Iterable[Behaviour], cfg: PipelineSettings, watermark_ms: int | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{feature_view: {user_id: features}}`` the online store must hold after the job consumed ``behaviours``
    (duplicates included; malformed records are simply not part of ``behaviours``)."""
    unique = dedup(behaviours)
    events = [b for b in unique if isinstance(b, OnlineEvent)]
    txns = [b for b in unique if isinstance(b, StoreTransaction)]
    by_user: dict[str, list[Behaviour]] = defaultdict(list)
    for b in unique:
        by_user[b.user_id].append(b)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for view, max_len in cfg.seq_views.items():
        out[view] = {
            u: HybridSequence.from_behaviours(u, bs, max_len).to_features() for u, bs in by_user.items()
        }
    for spec in cfg.windows:
        out[spec.view] = latest_per_user(hop_windows(events, spec, watermark_ms))
    out[cfg.instore_view] = instore_aggregates(txns)
    return out


def log_table(history: Iterable[Behaviour], first_arrival_ms: int) -> pa.Table:
    """The behaviour log the job would append for ``history`` in this arrival order (``arrival_ms`` counting up
    from ``first_arrival_ms``), in the log's columns and types."""
    rows: dict[str, list[Any]] = {c: [] for c in LOG_COLUMNS}
    for arrival, b in enumerate(history, start=first_arrival_ms):
        basket = isinstance(b, StoreTransaction)
        rows["user_id"].append(b.user_id)
        rows["key"].append(b.txn_id if isinstance(b, StoreTransaction) else b.event_id)
        rows["type_code"].append(BASKET_CODE if basket else EVENT_TYPE_CODES[b.event_type])  # type: ignore[union-attr]
        rows["item_id"].append("" if basket else b.item_id)  # type: ignore[union-attr]
        rows["ts_ms"].append(b.ts_ms)
        rows["items"].append(list(b.items) if isinstance(b, StoreTransaction) else [])
        rows["store_id"].append(b.store_id if isinstance(b, StoreTransaction) else "")
        rows["arrival_ms"].append(arrival)
    types = {
        "type_code": pa.int32(),
        "items": pa.list_(pa.string()),
        "ts_ms": pa.int64(),
        "arrival_ms": pa.int64(),
    }
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in rows.items()})
