"""The job's counters: the Java operators (``omniseq.flink.Counters``), the landing validator (:class:`Counters`)
and the runner each write ``<pipeline_dir>/metrics/<name>-<subtask>.json``; :func:`read_counters` sums them and
:func:`prometheus_text` renders them in Prometheus' text format."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path


class Counters:
    """Named counts of one Python component (the landing validator), written to a JSON file at most once per s."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self._last_dump = 0.0

    def inc(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def dump(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.path is None or (not force and now - self._last_dump < 1.0):
            return
        self._last_dump = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(dict(self.counts), sort_keys=True))
        os.replace(tmp, self.path)


def read_counters(metrics_dir: Path) -> dict[str, int]:
    """Sum of every operator subtask's counters (``<metrics_dir>/*.json``)."""
    total: Counter[str] = Counter()
    for p in sorted(metrics_dir.glob("*.json")):
        try:
            total.update(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # being replaced right now; the next read sees it
    return dict(total)


def prometheus_text(counts: dict[str, int], prefix: str = "omniseq_pipeline") -> str:
    lines = []
    for name, value in sorted(counts.items()):
        metric = f"{prefix}_{name}_total"
        lines += [f"# TYPE {metric} counter", f"{metric} {value}"]
    return "\n".join(lines) + "\n"
