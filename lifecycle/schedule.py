"""Run a job on a cron schedule (croniter), one run at a time, until stopped.

A failing run is logged and counted; it never stops the schedule (and, in retraining, never touches the champion).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from croniter import croniter

log = logging.getLogger(__name__)


def validate_cron(expr: str) -> str:
    if not croniter.is_valid(expr):
        raise ValueError(f"invalid cron expression {expr!r} (expected 5 fields, e.g. '0 3 * * *')")
    return expr


def next_run(expr: str, after: datetime) -> datetime:
    return croniter(validate_cron(expr), after).get_next(datetime)


@dataclass
class ScheduleStats:
    runs: int = 0
    failures: int = 0
    last_error: str | None = None
    history: list[tuple[datetime, bool]] = field(default_factory=list)


def run_on_schedule(
    expr: str,
    job: Callable[[], object],
    stop: threading.Event,
    max_runs: int | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> ScheduleStats:
    """Call ``job`` at every cron tick until ``stop`` is set (or ``max_runs`` runs happened)."""
    stats = ScheduleStats()
    while not stop.is_set() and (max_runs is None or stats.runs < max_runs):
        due = next_run(expr, now())
        while not stop.is_set() and (wait := (due - now()).total_seconds()) > 0:
            sleep(min(wait, 1.0))
        if stop.is_set():
            break
        stats.runs += 1
        try:
            job()
            stats.history.append((due, True))
        except Exception as exc:  # a failed run is recorded, the schedule goes on
            stats.failures += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            stats.history.append((due, False))
            log.exception("scheduled run at %s failed", due.isoformat())
    return stats
