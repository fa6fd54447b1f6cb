"""Online writers and counters used inside the job's Python operators (no Flink imports here).

The online writer is chosen by a URI: ``redis://host:port/0`` writes Feast's Redis format through
:class:`omniseq.features.online.RedisOnlineStore`; ``file:///dir`` appends JSON lines per view (a debugging and
test sink that needs no Redis). Counters are summed by :func:`read_counters` over the per-subtask JSON files the
operators write, and rendered in Prometheus' text format by :func:`prometheus_text`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

Row = tuple[str, dict[str, Any], int]  # (user_id, features, event_ts_ms)


class OnlineWriter(Protocol):
    def write(self, view: str, rows: Sequence[Row], /) -> object: ...


class JsonlWriter:
    """Appends ``{"user_id", "event_ts", "features"}`` lines to ``<dir>/<view>.jsonl``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, view: str, rows: Sequence[Row]) -> None:
        with (self.root / f"{view}.jsonl").open("a") as f:
            for user, feats, ts in rows:
                f.write(json.dumps({"user_id": user, "event_ts": ts, "features": feats}) + "\n")


def read_jsonl_latest(root: Path, view: str) -> dict[str, dict[str, Any]]:
    """The last row written per user of a :class:`JsonlWriter` view."""
    out: dict[str, dict[str, Any]] = {}
    path = root / f"{view}.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            out[rec["user_id"]] = rec["features"]
    return out


def open_online_writer(uri: str) -> OnlineWriter:
    if uri.startswith("file://"):
        return JsonlWriter(Path(uri[len("file://") :]))
    if uri.startswith(("redis://", "rediss://")):
        import redis

        from omniseq.features.online import RedisOnlineStore

        return RedisOnlineStore(redis.Redis.from_url(uri))  # type: ignore[no-any-return]
    raise ValueError(f"online sink URI must start with redis:// or file://, got {uri!r}")


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
