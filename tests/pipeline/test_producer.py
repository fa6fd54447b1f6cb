from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from omniseq.schema import OnlineEvent, StoreTransaction, table_to_transactions
from pipeline.producer import MALFORMED_SAMPLES, DropScheduler, Pacer, Replayer
from tests.wire import decode_event

T0 = 1_700_000_000_000
HOUR = 3_600_000


class _Future:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def add_callback(self, fn: Any) -> None:
        if not self.fail:
            fn(None)

    def add_errback(self, fn: Any) -> None:
        if self.fail:
            fn(RuntimeError("broker down"))


class FakeProducer:
    """Records what kafka-python's KafkaProducer.send would have sent."""

    def __init__(self, fail_every: int = 0) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail_every = fail_every

    def send(self, topic: str, key: bytes, value: bytes) -> _Future:
        self.sent.append((topic, key, value))
        return _Future(bool(self.fail_every) and len(self.sent) % self.fail_every == 0)

    def flush(self) -> None:
        pass


def _history() -> list[OnlineEvent | StoreTransaction]:
    out: list[OnlineEvent | StoreTransaction] = []
    for i in range(30):
        out.append(OnlineEvent(f"e{i}", f"u{i % 3}", f"i{i}", "view", T0 + i * 10 * 60_000, "s"))
        if i % 10 == 0:
            out.append(StoreTransaction(f"t{i}", f"u{i % 3}", ("a", "b"), T0 + i * 10 * 60_000 + 1, "s1"))
    return out


def test_replay_keys_by_user_and_injects_faults(tmp_path: Path) -> None:
    prod = FakeProducer()
    stats = Replayer(prod, "clickstream", DropScheduler(tmp_path, HOUR)).run(
        _history(), malformed_every=7, duplicate_every=5, progress=False
    )
    good = [decode_event(v) for _, _, v in prod.sent if v not in MALFORMED_SAMPLES]
    assert stats.sent == len(prod.sent) == 30 + stats.malformed + stats.duplicates
    assert (stats.malformed, stats.duplicates, stats.acknowledged, stats.failed) == (4, 6, stats.sent, 0)
    assert all(
        k.decode() == e.user_id
        for (_, k, v), e in zip([s for s in prod.sent if s[2] not in MALFORMED_SAMPLES], good, strict=True)
    )
    assert [e.ts_ms for e in good] == sorted(e.ts_ms for e in good)
    assert len({e.event_id for e in good}) == 30


def test_failures_are_counted() -> None:
    events = [b for b in _history() if isinstance(b, OnlineEvent)]
    stats = Replayer(FakeProducer(fail_every=10), "t").run(events, progress=False)
    assert (stats.sent, stats.acknowledged, stats.failed) == (30, 27, 3)


def test_store_transactions_need_a_landing_folder() -> None:
    with pytest.raises(ValueError, match="landing folder"):
        Replayer(FakeProducer(), "t").run(_history(), progress=False)


def test_drops_are_atomic_late_and_complete(tmp_path: Path) -> None:
    sched = DropScheduler(tmp_path, HOUR, delay_ms=2 * HOUR)
    history = _history()
    stats = Replayer(FakeProducer(), "t", sched).run(history, progress=False)
    files = sorted(tmp_path.glob("*.parquet"))
    assert stats.drops == len(files) > 1 and not list(tmp_path.glob(".*"))
    txns = [t for f in files for t in table_to_transactions(pq.read_table(f))]
    assert sorted(t.txn_id for t in txns) == sorted(
        b.txn_id for b in history if isinstance(b, StoreTransaction)
    )


def test_due_respects_the_delay(tmp_path: Path) -> None:
    sched = DropScheduler(tmp_path, HOUR, delay_ms=HOUR)
    sched.add(StoreTransaction("t1", "u", ("a",), T0, "s"))
    end = (T0 // HOUR + 1) * HOUR
    assert sched.due(end + HOUR - 1) == []
    assert len(sched.due(end + HOUR)) == 1


def test_pacer_rate() -> None:
    pacer = Pacer(rate=200)
    t = time.perf_counter()
    for i in range(41):
        pacer.wait(T0 + i)
    assert time.perf_counter() - t >= 0.19
    with pytest.raises(ValueError, match="either"):
        Pacer(speedup=2, rate=3)
