"""The offline behaviour log and point-in-time hybrid sequences built from it, vectorized.

The feature job appends every validated, deduplicated behaviour (online events and in-store baskets) to
``<offline_dir>/behaviour_log/date=YYYY-MM-DD/*.parquet`` with its event time (``ts_ms``) and arrival time
(``arrival_ms``). :func:`sequences_as_of` rebuilds, for any number of ``(user_id, ts_ms)`` labels at once, the
hybrid sequence the online store holds for that user once everything up to ``ts_ms`` has arrived — late in-store
baskets included — in the feature encoding of :mod:`omniseq.features.sequence`. It is numpy/pyarrow index
arithmetic (no Python loop per row), and the same rules as ``HybridSequence``: ``sort_key`` order (time, baskets
before online events at equal time, then id), the newest ``max_len`` tokens with ``ts <= ts_ms``.
:func:`instore_as_of` does the same for the in-store aggregates, :func:`view_as_of` for any view the log feeds
(the offline side of the sequence and in-store views: training, retraining and the online-store refill read it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from feature_repo.views import BASKET_CODE, view

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


def log_files(offline_dir: Path) -> list[Path]:
    """The log's committed files (``*.parquet``: the job's commit policy gives a file that name once its checkpoint
    completed; ``part-*`` files without it are being renamed right now)."""
    return sorted((Path(offline_dir) / LOG_NAME).glob("date=*/*.parquet"))


def _committed(offline_dir: Path, columns: list[str]) -> pa.Table | None:
    """``columns`` of the committed log files, or None when there is none yet."""
    files = [str(f) for f in log_files(offline_dir)]
    return ds.dataset(files, format="parquet").to_table(columns=columns) if files else None


def read_log(offline_dir: Path, max_arrival_ms: int | None = None) -> pa.Table:
    """Every logged behaviour (optionally only those that had arrived by ``max_arrival_ms``), one row per key."""
    table = _committed(offline_dir, list(LOG_COLUMNS))
    if table is None:
        return pa.table({c: [] for c in LOG_COLUMNS})
    if max_arrival_ms is not None:
        table = table.filter(pc.less_equal(table["arrival_ms"], max_arrival_ms))
    return _dedup(table)


def newest_ts(offline_dir: Path) -> dict[str, int]:
    """Each logged user's newest behaviour time (ms) in the committed log files."""
    table = _committed(offline_dir, ["user_id", "ts_ms"])
    if table is None:
        return {}
    newest = table.group_by("user_id").aggregate([("ts_ms", "max")])
    return dict(zip(newest["user_id"].to_pylist(), newest["ts_ms_max"].to_pylist(), strict=True))


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
    block_start, end = _label_blocks(users, ts, user_ids, labels_ts)
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
            "user_id": pa.array(list(user_ids), pa.string()),
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


def _label_blocks(
    users: np.ndarray, ts: np.ndarray, user_ids: list[str], ts_ms: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by (user, ts): each label's first row of its user and the end of its rows with
    ``ts <= ts_ms`` (equal for a user without any)."""
    uniq, rank = np.unique(users, return_inverse=True)
    composite = (rank.astype(np.int64) << _TS_BITS) | ts
    label_users = np.asarray(user_ids, dtype=str)
    pos = np.searchsorted(uniq, label_users)
    known = (
        (pos < len(uniq)) & (uniq[np.minimum(pos, len(uniq) - 1)] == label_users) if len(uniq) else pos < 0
    )
    start = np.searchsorted(rank, pos, side="left")
    clipped = np.minimum(np.maximum(ts_ms, 0), (1 << _TS_BITS) - 1)  # labels beyond the 43 bits: "everything"
    end = np.searchsorted(composite, (pos.astype(np.int64) << _TS_BITS) | clipped, side="right")
    return start, np.where(known & (ts_ms >= 0), end, start)


def instore_as_of(log: pa.Table, user_ids: list[str], ts_ms: list[int] | np.ndarray) -> pa.Table:
    """One row per label: ``user_id``, ``as_of_ms`` and the in-store aggregates of the user's baskets with
    ``ts <= as_of_ms`` (visits, items, mean basket size, store and time of the newest basket in ``sort_key``
    order); ``store_visits`` 0 and null aggregates when there is none."""
    labels_ts = np.asarray(ts_ms, dtype=np.int64)
    baskets = log.filter(pc.equal(log["type_code"], BASKET_CODE))
    baskets = baskets.take(pc.sort_indices(baskets, [("user_id", "ascending"), ("ts_ms", "ascending"),
                                                     ("key", "ascending")]))  # fmt: skip
    users = baskets["user_id"].to_numpy(zero_copy_only=False).astype(str)
    ts = baskets["ts_ms"].to_numpy(zero_copy_only=False).astype(np.int64)
    sizes = pc.list_value_length(_col(baskets, "items")).to_numpy(zero_copy_only=False).astype(np.int64)
    start, end = _label_blocks(users, ts, user_ids, labels_ts)
    visits = end - start
    csum = np.concatenate([[0], np.cumsum(sizes)])
    items = csum[end] - csum[start]
    has = visits > 0
    last = pa.array(np.maximum(end - 1, 0))
    stores = _col(baskets, "store_id").take(last) if len(ts) else pa.nulls(len(visits), pa.string())
    last_ts = ts[np.maximum(end - 1, 0)] if len(ts) else np.zeros(len(visits), dtype=np.int64)
    mask = pa.array(~has)
    return pa.table(
        {
            "user_id": pa.array(list(user_ids), pa.string()),
            "as_of_ms": pa.array(labels_ts),
            "store_visits": pa.array(visits.astype(np.int64)),
            "store_items": pa.array(items.astype(np.int64), mask=~has),
            "mean_basket_size": pa.array(np.where(has, items / np.maximum(visits, 1), 0.0), mask=~has),
            "last_store_id": pc.if_else(mask, pa.scalar(None, pa.string()), stores),
            "last_store_ts": pa.array(last_ts.astype(np.int64), mask=~has),
        }
    )


def view_as_of(log: pa.Table, view_name: str, user_ids: list[str], ts_ms: list[int] | np.ndarray) -> pa.Table:
    """The row of a log-fed view (sequence or in-store aggregates) per ``(user, ts)`` label: its features as
    the online store held them once everything up to ``ts`` had arrived; every feature null where the user
    had no behaviour of the view's kind yet (as an as-of join finds no row)."""
    spec = view(view_name)
    if spec.kind == "sequence":
        assert spec.max_len is not None
        table, present = sequences_as_of(log, user_ids, ts_ms, spec.max_len), "seq_len"
    elif spec.kind == "instore_agg":
        table, present = instore_as_of(log, user_ids, ts_ms), "store_visits"
    else:
        raise ValueError(f"{view_name} ({spec.kind}) is not built from the behaviour log")
    missing = pc.equal(table[present], 0)
    columns = {
        name: pc.if_else(missing, pa.scalar(None, table[name].type), table[name])
        for name in spec.feature_names
    }
    return pa.table({"user_id": table["user_id"], "as_of_ms": table["as_of_ms"], **columns})
