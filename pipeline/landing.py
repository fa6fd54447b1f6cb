"""In-store drops: validate each new file of the landing folder, then hand it to the Flink file source.

A drop is accepted when it is a readable Parquet file with :data:`omniseq.schema.STORE_TXN_SCHEMA` 's columns and
types and every row is a valid :class:`StoreTransaction`; it is then moved (atomic rename) into the accepted folder
the job's filesystem source monitors. Anything else is moved to the quarantine folder beside a
``<name>.reason.json`` naming what is wrong, so one bad file never stops the job. Hidden files (``.name``, the
producer's temporaries) are ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import pyarrow.parquet as pq

from omniseq.schema import SchemaError, table_to_transactions
from pipeline.sinks import Counters

log = logging.getLogger(__name__)


def check_drop(path: Path) -> str | None:
    """None if ``path`` is a valid drop, else the reason."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        return f"not a readable Parquet file: {type(exc).__name__}: {exc}"
    if table.num_rows == 0:
        return "empty drop (no rows)"
    try:
        for _ in table_to_transactions(table):
            pass
    except SchemaError as exc:
        return str(exc)
    return None


class LandingValidator:
    """Moves landing drops to ``accepted`` or ``quarantine``; counts in ``<pipeline_dir>/metrics/landing.json``."""

    def __init__(self, landing: Path, accepted: Path, quarantine: Path, pipeline_dir: Path) -> None:
        self.landing, self.accepted, self.quarantine = landing, accepted, quarantine
        self.counters = Counters(pipeline_dir / "metrics" / "landing.json")
        self._stop = threading.Event()

    def scan(self) -> list[tuple[Path, str | None]]:
        """Process every visible file once; returns ``(file, reason or None)``."""
        if not self.landing.exists():
            return []
        done = []
        for path in sorted(
            p for p in self.landing.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
        ):
            reason = check_drop(path) if path.suffix == ".parquet" else "not a .parquet file"
            if reason is None:
                self._accept(path)
            else:
                self._quarantine(path, reason)
            done.append((path, reason))
        self.counters.dump(force=True)
        return done

    def _accept(self, path: Path) -> None:
        self.accepted.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        os.replace(path, self.accepted / f"{path.stem}-{digest}.parquet")
        self.counters.inc("drops_accepted")

    def _quarantine(self, path: Path, reason: str) -> None:
        self.quarantine.mkdir(parents=True, exist_ok=True)
        target = self.quarantine / path.name
        tmp = self.quarantine / f".{path.name}.reason.json.tmp"
        tmp.write_text(json.dumps({"file": path.name, "reason": reason}))
        os.replace(path, target)
        os.replace(tmp, self.quarantine / f"{path.name}.reason.json")
        self.counters.inc("drops_quarantined")
        log.warning("quarantined %s: %s", path.name, reason)

    def run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except OSError as exc:  # a file vanished mid-scan: try again next round
                log.warning("landing scan: %s", exc)
            self._stop.wait(interval_s)

    def stop(self) -> None:
        self._stop.set()
