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
from typing import Any


class Counters:
    """Named counts of one operator subtask, mirrored to Flink counters and a JSON file (at most once per s)."""

    def __init__(self, path: Path | None, metric_group: Any = None) -> None:
        self.path, self.group = path, metric_group
        self.counts: Counter[str] = Counter()
        self._flink: dict[str, Any] = {}
        self._last_dump = 0.0

    def inc(self, name: str, n: int = 1) -> None:
        self.counts[name] += n
        if self.group is not None:
            if name not in self._flink:
                self._flink[name] = self.group.counter(name)
            self._flink[name].inc(n)

    def dump_every(self, interval_s: float) -> None:
        """Also write the file from a daemon thread every ``interval_s`` (so an idle operator's file is current)."""

        def loop() -> None:
            while True:
                time.sleep(interval_s)
                self.dump(force=True)

        threading.Thread(target=loop, name="counters-dump", daemon=True).start()

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
