from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from lifecycle.schedule import next_run, run_on_schedule, validate_cron


class FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


def test_next_run_and_validation() -> None:
    assert next_run("*/5 * * * *", datetime(2026, 1, 1, 0, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 5, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="cron"):
        validate_cron("every minute")


def test_runs_at_ticks_and_survives_failures() -> None:
    clock = FakeClock()
    calls: list[datetime] = []

    def job() -> None:
        calls.append(clock.now())
        if len(calls) == 2:
            raise RuntimeError("training diverged")

    stats = run_on_schedule("* * * * *", job, threading.Event(), max_runs=3, now=clock.now, sleep=clock.sleep)
    assert [c.minute for c in calls] == [1, 2, 3]
    assert stats.runs == 3 and stats.failures == 1 and "diverged" in (stats.last_error or "")
    assert [ok for _, ok in stats.history] == [True, False, True]


def test_stop_event_ends_the_loop() -> None:
    stop = threading.Event()
    stop.set()
    stats = run_on_schedule("* * * * *", lambda: None, stop)
    assert stats.runs == 0
