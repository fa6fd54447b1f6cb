"""The job's Python operators (PyFlink DataStream API). Their logic lives in :mod:`pipeline.transforms`.

Records between operators are Flink ``Row`` s of :data:`BEHAVIOUR_TYPE` (online events and baskets in one layout,
so both sides can be unioned and keyed by user) and :data:`CLEAN_EVENT_TYPE` (deduplicated online events, the input
of the SQL windows).
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

from pyflink.common import Row, Types
from pyflink.common.time import Time
from pyflink.datastream import KeyedProcessFunction, OutputTag, ProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from omniseq.features.sequence import BASKET_CODE, EVENT_TYPE_CODES
from pipeline import transforms as tf
from pipeline.sinks import Counters, OnlineWriter, open_online_writer

BEHAVIOUR_FIELDS = ["user_id", "key", "type_code", "item_id", "ts_ms", "items", "store_id"]
BEHAVIOUR_TYPE = Types.ROW_NAMED(
    BEHAVIOUR_FIELDS,
    [Types.STRING(), Types.STRING(), Types.INT(), Types.STRING(), Types.LONG(),
     Types.BASIC_ARRAY(Types.STRING()), Types.STRING()],
)  # fmt: skip
CLEAN_EVENT_TYPE = Types.ROW_NAMED(
    ["user_id", "type_code", "ts_ms"], [Types.STRING(), Types.INT(), Types.LONG()]
)
DLQ_TYPE = Types.ROW_NAMED(
    ["reason", "payload", "payload_encoding", "source_partition", "source_offset"],
    [Types.STRING(), Types.STRING(), Types.STRING(), Types.INT(), Types.LONG()],
)
DLQ_TAG = OutputTag("dlq", DLQ_TYPE)


def _metrics_path(metrics_dir: str, name: str, ctx: RuntimeContext) -> Path | None:
    return Path(metrics_dir) / f"{name}-{ctx.get_index_of_this_subtask()}.json" if metrics_dir else None


class ValidateEvents(ProcessFunction):
    """Kafka rows ``(payload, partition, offset)`` -> behaviour rows; malformed ones -> the DLQ side output."""

    def __init__(self, metrics_dir: str = "") -> None:
        self.metrics_dir = metrics_dir
        self.counters: Counters

    def open(self, ctx: RuntimeContext) -> None:
        self.counters = Counters(_metrics_path(self.metrics_dir, "validate", ctx), ctx.get_metrics_group())
        self.counters.dump_every(0.5)

    def process_element(self, value: Row, ctx: ProcessFunction.Context) -> Any:
        payload, partition, offset = value[0], value[1], value[2]
        result = tf.validate_message(payload)
        self.counters.inc("messages_in")
        if isinstance(result, str):
            self.counters.inc("dead_lettered")
            self.counters.dump()
            yield DLQ_TAG, _dead_letter(result, payload, partition, offset)
            return
        e = result
        yield Row(e.user_id, e.event_id, EVENT_TYPE_CODES[e.event_type], e.item_id, e.ts_ms, [], "")
        self.counters.dump()

    def close(self) -> None:
        if hasattr(self, "counters"):
            self.counters.dump(force=True)


def _dead_letter(reason: str, payload: bytes | None, partition: int, offset: int) -> Row:
    if payload is None:
        return Row(reason, None, "null", partition, offset)
    try:
        return Row(reason, payload.decode("utf-8"), "utf-8", partition, offset)
    except UnicodeDecodeError:
        return Row(reason, base64.b64encode(payload).decode(), "base64", partition, offset)


def basket_row(r: Row) -> Row:
    """An in-store drop row (txn_id, user_id, items, ts_ms, store_id, file_path) -> behaviour row."""
    return Row(r[1], r[0], BASKET_CODE, "", r[3], list(r[2]), r[4])


class HybridFeatures(KeyedProcessFunction):
    """Keyed by user: drops duplicates, keeps the newest tokens, the in-store aggregates, and writes the hybrid
    sequence views and the in-store view to the online store, coalesced per user for up to ``flush_ms``.

    Main output: the deduplicated online events (for the windows). With ``offline`` on, one row per behaviour and
    sequence view goes to ``offline_tags[view]`` (and the in-store view on baskets)."""

    def __init__(self, cfg: dict[str, Any], offline_tags: dict[str, OutputTag] | None = None) -> None:
        self.cfg = cfg
        self.offline_tags = offline_tags or {}

    def open(self, ctx: RuntimeContext) -> None:
        desc = ValueStateDescriptor("user", Types.PICKLED_BYTE_ARRAY())
        if self.cfg["state_ttl_days"]:
            desc.enable_time_to_live(
                StateTtlConfig.new_builder(Time.days(self.cfg["state_ttl_days"])).build()
            )
        self.state = ctx.get_state(desc)
        self.writer: OnlineWriter = open_online_writer(self.cfg["online_uri"])
        self.counters = Counters(
            _metrics_path(self.cfg["metrics_dir"], "hybrid", ctx), ctx.get_metrics_group()
        )
        self.counters.dump_every(0.5)
        self.dirty: dict[str, tuple[list[Any], bool]] = {}
        self.first_dirty = 0.0
        self.timer_armed = False

    def process_element(self, r: Row, ctx: KeyedProcessFunction.Context) -> Any:
        st = self.state.value() or tf.new_state()
        is_basket = r[2] == BASKET_CODE
        if tf.is_duplicate(st, r[1], r[4], self.cfg["dedup_ttl_ms"]):
            self.counters.inc("duplicate_baskets" if is_basket else "duplicate_events")
            return
        tok = (r[4], 0 if is_basket else 1, r[1], r[2], r[3], tuple(r[5] or ()), r[6])
        tf.add_token(st, tok, self.cfg["max_len"])
        if is_basket:
            tf.add_basket_agg(st, r[1], len(r[5] or ()), r[4], r[6])
            self.counters.inc("baskets")
        else:
            self.counters.inc("events")
            yield Row(r[0], r[2], r[4])
        self.state.update(st)
        yield from self._offline_rows(r[0], st, is_basket)
        self._mark(r[0], st, is_basket, ctx)

    def _mark(self, user: str, st: list[Any], is_basket: bool, ctx: KeyedProcessFunction.Context) -> None:
        now = time.time()
        if not self.dirty:
            self.first_dirty = now
        prev = self.dirty.get(user)
        self.dirty[user] = (st, is_basket or (prev is not None and prev[1]))
        if len(self.dirty) >= self.cfg["batch_rows"] or now - self.first_dirty >= self.cfg["flush_ms"] / 1000:
            self.flush()
        elif not self.timer_armed:
            ctx.timer_service().register_processing_time_timer(int(now * 1000) + self.cfg["flush_ms"])
            self.timer_armed = True

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        self.timer_armed = False
        self.flush()
        return iter(())

    def flush(self) -> None:
        if not self.dirty:
            return
        for view, n in self.cfg["seq_views"].items():
            rows = []
            for user, (st, _) in self.dirty.items():
                feats = tf.seq_features(st[tf.TOKENS], n)
                rows.append((user, feats, feats["last_ts"]))
            self.writer.write(view, rows)
        store_rows = [
            (u, tf.instore_features(st), st[tf.LAST_STORE_TS]) for u, (st, b) in self.dirty.items() if b
        ]
        if store_rows:
            self.writer.write(self.cfg["instore_view"], store_rows)
        self.counters.inc(
            "online_rows_written", len(self.dirty) * len(self.cfg["seq_views"]) + len(store_rows)
        )
        self.dirty.clear()
        self.counters.dump()

    def _offline_rows(self, user: str, st: list[Any], is_basket: bool) -> Any:
        if not self.offline_tags:
            return
        created = int(time.time() * 1000)
        for view, n in self.cfg["seq_views"].items():
            f = tf.seq_features(st[tf.TOKENS], n)
            yield self.offline_tags[view], Row(user, *f.values(), f["last_ts"], created)
        if is_basket and self.cfg["instore_view"] in self.offline_tags:
            f = tf.instore_features(st)
            yield (
                self.offline_tags[self.cfg["instore_view"]],
                Row(user, *f.values(), f["last_store_ts"], created),
            )

    def close(self) -> None:
        if hasattr(self, "dirty"):
            self.flush()
            self.counters.dump(force=True)


class WindowWriter(KeyedProcessFunction):
    """Keyed by user: window rows -> the online store, the newest window per (view, user), flushed like
    :class:`HybridFeatures`. Emits nothing."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg

    def open(self, ctx: RuntimeContext) -> None:
        self.writer: OnlineWriter = open_online_writer(self.cfg["online_uri"])
        self.counters = Counters(
            _metrics_path(self.cfg["metrics_dir"], "windows", ctx), ctx.get_metrics_group()
        )
        self.counters.dump_every(0.5)
        self.pending: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        self.first = 0.0
        self.timer_armed = False

    def process_element(self, r: Row, ctx: KeyedProcessFunction.Context) -> Any:
        now = time.time()
        if not self.pending:
            self.first = now
        feats = {"n_view": r[2], "n_click": r[3], "n_add_to_cart": r[4], "n_purchase": r[5]}
        feats.update(n_events=r[6], last_online_ts=r[7])
        self.pending[(r[0], r[1])] = (feats, r[7])
        if len(self.pending) >= self.cfg["batch_rows"] or now - self.first >= self.cfg["flush_ms"] / 1000:
            self.flush()
        elif not self.timer_armed:
            ctx.timer_service().register_processing_time_timer(int(now * 1000) + self.cfg["flush_ms"])
            self.timer_armed = True
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        self.timer_armed = False
        self.flush()
        return iter(())

    def flush(self) -> None:
        by_view: dict[str, list[tuple[str, dict[str, Any], int]]] = {}
        for (view, user), (feats, ts) in self.pending.items():
            by_view.setdefault(view, []).append((user, feats, ts))
        for view, rows in by_view.items():
            self.writer.write(view, rows)
        self.counters.inc("window_rows_written", len(self.pending))
        self.pending.clear()
        self.counters.dump()

    def close(self) -> None:
        if hasattr(self, "pending"):
            self.flush()
            self.counters.dump(force=True)
