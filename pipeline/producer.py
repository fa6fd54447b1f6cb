"""Replay a hybrid history into the stack: online events to Kafka (keyed by user, JSON of
:func:`omniseq.schema.encode_event`), in-store transactions as Parquet drops in the landing folder.

Pacing: ``speedup`` (event time runs ``speedup`` times faster than wall time), ``rate`` (fixed events per second)
or neither (as fast as possible). Drops: every ``drop_interval_ms`` of *event* time the transactions collected since
the previous drop are written as one file, ``drop_delay_ms`` later in event time (so a drop can arrive after
online events that happened later than its baskets: a late drop). Files are written atomically (a hidden temporary
file, then ``os.replace``). ``malformed_every`` / ``duplicate_every`` inject bad and repeated messages for tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from kafka import KafkaProducer
from tqdm import tqdm

from omniseq.schema import Behaviour, OnlineEvent, StoreTransaction, encode_event, transactions_to_table

#: one of each kind of malformed message the job must dead-letter (bad JSON, missing field, wrong type, ...)
MALFORMED_SAMPLES: tuple[bytes, ...] = (
    b"{not json",
    b'{"event_id":"m1","user_id":"u","item_id":"i","event_type":"view","session_id":"s"}',
    b'{"event_id":"m2","user_id":"u","item_id":"i","event_type":"view","ts_ms":"1700000000000","session_id":"s"}',
    b'{"event_id":"m3","user_id":"u","item_id":"i","event_type":"teleport","ts_ms":1700000000000,"session_id":"s"}',
    b'{"event_id":"m4","user_id":"u","item_id":"i","event_type":"view","ts_ms":1700000000,"session_id":"s"}',
    b'{"event_id":"m5","user_id":"u","item_id":"i","event_type":"view","ts_ms":1700000000000,"session_id":"s","x":1}',
    b"[1, 2, 3]",
    b"\xff\xfe not utf-8",
)


@dataclass
class ReplayStats:
    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    malformed: int = 0
    duplicates: int = 0
    drops: int = 0
    transactions: int = 0
    errors: list[str] = field(default_factory=list)
    malformed_payloads: list[bytes] = field(default_factory=list)  # what the dead-letter topic must receive
    send_times: dict[str, float] = field(default_factory=dict)  # event_id -> wall time (only when tracked)

    def summary(self) -> dict[str, int]:
        keys = ("sent", "acknowledged", "failed", "malformed", "duplicates", "drops", "transactions")
        return {k: getattr(self, k) for k in keys}


class Pacer:
    """Sleeps so that events leave at ``rate`` per second, or event time runs ``speedup`` times wall time."""

    def __init__(self, speedup: float | None = None, rate: float | None = None) -> None:
        if speedup is not None and rate is not None:
            raise ValueError("choose either speedup or rate, not both")
        if (speedup is not None and speedup <= 0) or (rate is not None and rate <= 0):
            raise ValueError("speedup and rate must be positive")
        self.speedup, self.rate = speedup, rate
        self._t0 = time.perf_counter()
        self._ts0: int | None = None
        self._n = 0

    def wait(self, ts_ms: int) -> None:
        if self.rate is not None:
            target = self._n / self.rate
        elif self.speedup is not None:
            self._ts0 = ts_ms if self._ts0 is None else self._ts0
            target = (ts_ms - self._ts0) / 1000.0 / self.speedup
        else:
            return
        self._n += 1
        delay = target - (time.perf_counter() - self._t0)
        if delay > 0.001:
            time.sleep(delay)


def write_drop(txns: list[StoreTransaction], landing_dir: Path, name: str) -> Path:
    """Write one in-store drop atomically: a hidden temp file in the same folder, then rename."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    final = landing_dir / f"{name}.parquet"
    tmp = landing_dir / f".{name}.parquet.tmp"
    pq.write_table(transactions_to_table(txns), tmp)
    os.replace(tmp, final)
    return final


class DropScheduler:
    """Collects transactions and writes a drop per ``interval_ms`` of event time, ``delay_ms`` late."""

    def __init__(self, landing_dir: Path, interval_ms: int, delay_ms: int = 0, prefix: str = "drop") -> None:
        if interval_ms <= 0 or delay_ms < 0:
            raise ValueError("drop interval must be positive and the delay non-negative")
        self.landing_dir, self.interval_ms, self.delay_ms, self.prefix = (
            landing_dir,
            interval_ms,
            delay_ms,
            prefix,
        )
        self.pending: dict[int, list[StoreTransaction]] = {}

    def add(self, t: StoreTransaction) -> None:
        self.pending.setdefault(t.ts_ms // self.interval_ms, []).append(t)

    def due(self, now_ts_ms: int) -> list[Path]:
        """Write every drop whose period ended ``delay_ms`` before ``now_ts_ms``."""
        ready = [b for b in self.pending if (b + 1) * self.interval_ms + self.delay_ms <= now_ts_ms]
        return [self._write(b) for b in sorted(ready)]

    def flush(self) -> list[Path]:
        return [self._write(b) for b in sorted(self.pending)]

    def _write(self, bucket: int) -> Path:
        txns = self.pending.pop(bucket)
        return write_drop(txns, self.landing_dir, f"{self.prefix}-{bucket * self.interval_ms:015d}")


def interleave_faults(
    events: Iterable[OnlineEvent], malformed_every: int = 0, duplicate_every: int = 0
) -> Iterator[tuple[OnlineEvent, bytes, str]]:
    """``(event, value, kind)`` with kind ``ok`` / ``malformed`` / ``duplicate``: after every ``malformed_every``-th
    event one malformed sample, after every ``duplicate_every``-th event that same event again."""
    k = 0
    for n, e in enumerate(events, 1):
        value = encode_event(e)
        yield e, value, "ok"
        if duplicate_every and n % duplicate_every == 0:
            yield e, value, "duplicate"
        if malformed_every and n % malformed_every == 0:
            yield e, MALFORMED_SAMPLES[k % len(MALFORMED_SAMPLES)], "malformed"
            k += 1


class Replayer:
    """Sends behaviours in the order given (callers sort by event time) with kafka-python."""

    def __init__(self, producer: Any, topic: str, drops: DropScheduler | None = None) -> None:
        self.producer, self.topic, self.drops = producer, topic, drops
        self.stats = ReplayStats()

    def _ok(self, _meta: Any) -> None:
        self.stats.acknowledged += 1

    def _err(self, exc: BaseException) -> None:
        self.stats.failed += 1
        if len(self.stats.errors) < 10:
            self.stats.errors.append(repr(exc))

    def send_raw(self, key: str, value: bytes) -> None:
        fut = self.producer.send(self.topic, key=key.encode(), value=value)
        fut.add_callback(self._ok)
        fut.add_errback(self._err)
        self.stats.sent += 1

    def run(
        self,
        behaviours: Iterable[Behaviour],
        pacer: Pacer | None = None,
        malformed_every: int = 0,
        duplicate_every: int = 0,
        total: int | None = None,
        track: Callable[[OnlineEvent], bool] | None = None,
        progress: bool = True,
    ) -> ReplayStats:
        pacer = pacer or Pacer()
        bar = tqdm(total=total, unit="ev", desc="replay", disable=not progress)
        online = self._online(behaviours, bar)
        for e, value, kind in interleave_faults(online, malformed_every, duplicate_every):
            if kind == "ok":
                pacer.wait(e.ts_ms)
                if track is not None and track(e):
                    self.stats.send_times[e.event_id] = time.time()
            self.send_raw(e.user_id, value)
            if kind == "malformed":
                self.stats.malformed += 1
                self.stats.malformed_payloads.append(value)
            self.stats.duplicates += kind == "duplicate"
        if self.drops is not None:
            self.stats.drops += len(self.drops.flush())
        self.producer.flush()
        bar.close()
        return self.stats

    def _online(self, behaviours: Iterable[Behaviour], bar: Any) -> Iterator[OnlineEvent]:
        for b in behaviours:
            bar.update(1)
            if isinstance(b, StoreTransaction):
                if self.drops is None:
                    raise ValueError("a store transaction needs a landing folder (drops) to be replayed")
                self.drops.add(b)
                self.stats.transactions += 1
                continue
            if self.drops is not None:
                self.stats.drops += len(self.drops.due(b.ts_ms))
            yield b


def kafka_producer(bootstrap: str, **overrides: Any) -> Any:
    """A kafka-python producer tuned for throughput (batching, lz4 off: no extra dependency)."""

    opts: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "acks": 1,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
    }
    opts.update(overrides)
    return KafkaProducer(**opts)
