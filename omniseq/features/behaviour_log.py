"""The offline behaviour log and point-in-time hybrid sequences built from it, vectorized.

The feature job appends every validated, deduplicated behaviour (online events and in-store baskets) to
``<offline_dir>/behaviour_log/date=YYYY-MM-DD/*.parquet`` with its event time (``ts_ms``) and arrival time
(``arrival_ms``). :func:`sequences_as_of` rebuilds, for any number of ``(user_id, ts_ms)`` labels at once, the
hybrid sequence the online store holds for that user once everything up to ``ts_ms`` has arrived — late in-store
baskets included — in the feature encoding of :mod:`omniseq.features.sequence`. It is numpy/pyarrow index
arithmetic (no Python loop per row), and the same rules as ``HybridSequence``: ``sort_key`` order (time, baskets
before online events at equal time, then id), the newest ``max_len`` tokens with ``ts <= ts_ms``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from feature_repo.views import BASKET_CODE

LOG_NAME = "behaviour_log"  # <offline_dir>/behaviour_log/date=YYYY-MM-DD/*.parquet
# the log's columns (the keyed operator's behaviour layout, omniseq.flink.Records.BEHAVIOUR_FIELDS) and their Flink
# SQL types (the job's offline sink table)
LOG_SQL_TYPES: Final[dict[str, str]] = {
    "user_id": "STRING",
    "key": "STRING",
    "type_code": "INT",
    "item_id": "STRING",
    "ts_ms": "BIGINT",
    "items": "ARRAY<STRING>",
    "store_id": "STRING",
    "arrival_ms": "BIGINT",
}
LOG_COLUMNS: Final[tuple[str, ...]] = tuple(LOG_SQL_TYPES)
_TS_BITS = 43  # epoch ms up to 2100 fit in 43 bits; the user's rank goes above them


def read_log(offline_dir: Path, max_arrival_ms: int | None = None) -> pa.Table:
    """Every logged behaviour (optionally only those that had arrived by ``max_arrival_ms``), one row per key."""
    root = Path(offline_dir) / LOG_NAME
    if not root.exists():
        return pa.table({c: [] for c in LOG_COLUMNS})
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table(columns=list(LOG_COLUMNS))
    if max_arrival_ms is not None:
        table = table.filter(pc.less_equal(table["arrival_ms"], max_arrival_ms))
    return _dedup(table)


def _dedup(table: pa.Table) -> pa.Table:
    """First arrival of every (user, key) wins (the job logs each key once; this guards hand-made logs)."""
    if table.num_rows == 0:
        return table
    order = pc.sort_indices(
        table, [("user_id", "ascending"), ("key", "ascending"), ("arrival_ms", "ascending")]
    )
    t = table.take(order)
    users, keys = t["user_id"].to_numpy(zero_copy_only=False), t["key"].to_numpy(zero_copy_only=False)
    first = np.ones(len(users), dtype=bool)
    first[1:] = (users[1:] != users[:-1]) | (keys[1:] != keys[:-1])
    return t.filter(pa.array(first))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n), without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(offsets, lengths) + np.repeat(starts, lengths)


def _col(table: pa.Table, name: str) -> pa.Array:
    col = table[name]
    return pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], type=col.type)


def _lists(lengths: np.ndarray, values: pa.Array) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def sequences_as_of(
    log: pa.Table, user_ids: list[str], ts_ms: list[int] | np.ndarray, max_len: int
) -> pa.Table:
    """One row per label: ``user_id``, ``as_of_ms`` and the sequence features of the newest ``max_len``
    behaviours with ``ts <= as_of_ms`` (an empty sequence when there is none)."""
    if max_len <= 0:
        raise ValueError(f"max_len must be positive, got {max_len}")
    labels_ts = np.asarray(ts_ms, dtype=np.int64)
    chan = pc.if_else(pc.equal(log["type_code"], BASKET_CODE), 0, 1)
    log = log.append_column("_chan", chan)
    order = pc.sort_indices(
        log, [("user_id", "ascending"), ("ts_ms", "ascending"), ("_chan", "ascending"), ("key", "ascending")]
    )
    log = log.take(order)
    cols = {name: _col(log, name) for name in ("type_code", "items", "item_id", "ts_ms", "store_id")}
    users = log["user_id"].to_numpy(zero_copy_only=False).astype(str)
    ts = log["ts_ms"].to_numpy(zero_copy_only=False).astype(np.int64)
    uniq, rank = np.unique(users, return_inverse=True)  # users sorted, so rank is non-decreasing
    composite = (rank.astype(np.int64) << _TS_BITS) | ts
    label_users = np.asarray(user_ids, dtype=str)
    pos = np.searchsorted(uniq, label_users)
    known = (
        (pos < len(uniq)) & (uniq[np.minimum(pos, len(uniq) - 1)] == label_users) if len(uniq) else pos < 0
    )
    block_start = np.searchsorted(rank, pos, side="left")
    end = np.searchsorted(composite, (pos.astype(np.int64) << _TS_BITS) | labels_ts, side="right")
    end = np.where(known, end, block_start)
    start = np.maximum(block_start, end - max_len)
    lengths = np.maximum(end - start, 0)
    idx = pa.array(_ranges(start, lengths))

    types = cols["type_code"].take(idx)
    is_basket = pc.equal(types, BASKET_CODE).to_numpy(zero_copy_only=False)
    bask_idx = idx.to_numpy()[is_basket]
    per_label_baskets = np.add.reduceat(
        np.append(is_basket, False).astype(np.int64), np.cumsum(lengths) - lengths
    )
    per_label_baskets = np.where(lengths > 0, per_label_baskets[: len(lengths)], 0)
    basket_lists = cols["items"].take(pa.array(bask_idx, type=pa.int64()))
    sizes = pc.list_value_length(basket_lists).to_numpy(zero_copy_only=False).astype(np.int64)
    first_basket = np.cumsum(per_label_baskets) - per_label_baskets
    global_off = np.concatenate([[0], np.cumsum(sizes)])
    item_counts = global_off[first_basket + per_label_baskets] - global_off[first_basket]
    off_idx = _ranges(first_basket, per_label_baskets + 1)
    offsets = global_off[off_idx] - np.repeat(global_off[first_basket], per_label_baskets + 1)
    last_ts = np.where(lengths > 0, ts[np.maximum(end - 1, 0)] if len(ts) else 0, 0)
    return pa.table(
        {
            "user_id": pa.array(label_users.tolist(), pa.string()),
            "as_of_ms": pa.array(labels_ts),
            "tok_items": _lists(lengths, cols["item_id"].take(idx)),
            "tok_types": _lists(lengths, pc.cast(types, pa.int64())),
            "tok_ts": _lists(lengths, cols["ts_ms"].take(idx)),
            "basket_items": _lists(item_counts, pc.list_flatten(basket_lists)),
            "basket_offsets": _lists(per_label_baskets + 1, pa.array(offsets, pa.int64())),
            "basket_stores": _lists(
                per_label_baskets, cols["store_id"].take(pa.array(bask_idx, type=pa.int64()))
            ),
            "seq_len": pa.array(lengths.astype(np.int64)),
            "last_ts": pa.array(last_ts.astype(np.int64)),
        }
    )
