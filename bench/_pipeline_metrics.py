"""Measuring a draining Flink job for ``omniseq bench pipeline``: its rate between 10 % and 90 % of the backlog,
and where the time goes in that interval.

* rate: the events counted by ``count()`` sampled every ``poll_s``; the times the count crossed 10 % and 90 % of
  the backlog are interpolated between samples, so a fast drain (the baseline) still resolves;
* ``busy_us_per_event``: per job vertex (an operator chain), the growth of Flink's ``accumulated-busy-time``
  (summed over its subtasks, REST ``/jobs/:id/vertices/:vid``) over the same interval, divided by the events of
  that interval: the wall time the vertex's task threads were busy per event — CPU time plus time blocked
  inside the operator (e.g. on Redis). Idle and back-pressured time are not counted; null where a subtask had
  no value at a reading;
* ``cpu_us_per_event``: CPU seconds (user + system, ``psutil``) of each named process (the Flink JVM, the Kafka
  broker, Redis) over the interval, divided by its events.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil

LO, HI = 0.1, 0.9  # the measured part of the backlog (start-up and tail excluded)


def rest_get(rest_url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{rest_url}{path}", timeout=5) as r:
        return json.loads(r.read())


def running_job(rest_url: str) -> str | None:
    """The id of the one RUNNING job on the endpoint (None when there is none yet)."""
    try:
        return next(j["id"] for j in rest_get(rest_url, "/jobs")["jobs"] if j["status"] == "RUNNING")
    except (OSError, StopIteration, KeyError, ValueError):
        return None


def vertex_busy_ms(rest_url: str, job_id: str) -> dict[str, float]:
    """``accumulated-busy-time`` (ms) of every job vertex, summed over its subtasks (NaN where Flink has none)."""
    out: dict[str, float] = {}
    for v in rest_get(rest_url, f"/jobs/{job_id}")["vertices"]:
        subtasks = rest_get(rest_url, f"/jobs/{job_id}/vertices/{v['id']}")["subtasks"]
        values = [float(s["metrics"].get("accumulated-busy-time", "nan")) for s in subtasks]
        out[v["name"][:120]] = sum(values) if values and all(x >= 0 for x in values) else float("nan")
    return out


def cpu_seconds(pids: Mapping[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds of each named group of processes (their children included)."""
    out: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                proc = psutil.Process(pid)
                for p in [proc, *proc.children(recursive=True)]:
                    t = p.cpu_times()
                    total += t.user + t.system
            except psutil.Error:
                continue
        out[name] = total
    return out


def flink_jvm_pids(exclude: Mapping[str, list[int]]) -> list[int]:
    """This process's Java children but the processes of ``exclude`` (and their children): the PyFlink gateway
    JVM that hosts the local mini-cluster."""
    known = set(cpu_pids(exclude))
    return [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if "java" in p.name().lower() and p.pid not in known
    ]


def cpu_pids(groups: Mapping[str, list[int]]) -> list[int]:
    """Every process of ``groups`` and their children."""
    out: list[int] = []
    for group in groups.values():
        for pid in group:
            try:
                proc = psutil.Process(pid)
                out += [proc.pid, *(c.pid for c in proc.children(recursive=True))]
            except psutil.Error:
                continue
    return out


def interp_time(samples: list[tuple[float, int]], x: float) -> float | None:
    """The time the count first reached ``x``, interpolated linearly between the two samples around it."""
    prev: tuple[float, int] | None = None
    for t, n in samples:
        if n >= x:
            if prev is None or n == prev[1]:
                return t
            return prev[0] + (x - prev[1]) / (n - prev[1]) * (t - prev[0])
        prev = (t, n)
    return None


def drain_rate(samples: list[tuple[float, int]], target: int) -> float:
    """Events/s between 10 % and 90 % of ``target`` (0 when the count never got there)."""
    lo, hi = interp_time(samples, LO * target), interp_time(samples, HI * target)
    return (HI - LO) * target / (hi - lo) if lo is not None and hi is not None and hi > lo else 0.0


def _delta(before: float, after: float) -> float | None:
    """Growth of a counter; None where a subtask had no value at a reading (NaN) or the counter went back."""
    d = after - before
    return d if d == d and d >= 0 else None


@dataclass
class Mark:
    """Counters read when the count crossed one threshold."""

    t: float
    n: int
    busy_ms: dict[str, float]
    cpu_s: dict[str, float]


@dataclass
class Drain:
    """Samples ``count()`` until it reaches ``target``; marks busy time and CPU at 10 % and 90 % of it."""

    count: Callable[[], int]
    target: int
    rest_url: str
    job_id: Callable[[], str | None]
    pids: Callable[[], Mapping[str, list[int]]]  # asked at each mark (the gateway JVM starts with the job)
    poll_s: float = 0.05
    samples: list[tuple[float, int]] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    def _mark(self, t: float, n: int) -> None:
        busy: dict[str, float] = {}
        job = self.job_id()
        if job is not None:
            try:
                busy = vertex_busy_ms(self.rest_url, job)
            except (OSError, KeyError, ValueError) as exc:
                busy = {f"error: {str(exc)[:80]}": float("nan")}
        self.marks.append(Mark(t, n, busy, cpu_seconds(self.pids())))

    def run(self, timeout_s: float) -> Drain:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            n = self.count()
            now = time.monotonic()
            self.samples.append((now, n))
            for frac in (LO, HI)[len(self.marks) :]:
                if n >= frac * self.target:
                    self._mark(now, n)
            if n >= self.target:
                break
            time.sleep(self.poll_s)
        return self

    def report(self) -> dict[str, Any]:
        rate = drain_rate(self.samples, self.target)
        out: dict[str, Any] = {"sustained_events_per_s": round(rate), "processed": self.samples[-1][1]}
        if len(self.marks) == 2:
            a, b = self.marks
            events, secs = b.n - a.n, b.t - a.t
            out["measured_events"], out["measured_s"] = events, round(secs, 3)
            if events > 0 and secs > 0:
                delta = {k: _delta(a.busy_ms.get(k, 0.0), b.busy_ms[k]) for k in b.busy_ms}
                out["busy_us_per_event"] = {
                    k: None if d is None else round(d * 1000 / events, 2) for k, d in delta.items()
                }
                out["busy_ms_per_s"] = {
                    k: None if d is None else round(d / secs, 1) for k, d in delta.items()
                }
                out["cpu_us_per_event"] = {
                    k: round((b.cpu_s[k] - a.cpu_s.get(k, 0.0)) * 1e6 / events, 2) for k in b.cpu_s
                }
        return out
