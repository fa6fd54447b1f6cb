"""In-store drops: validate each new file of the landing folder, then hand it to the Flink file source.

A drop is accepted when it is a readable Parquet file with :data:`omniseq.schema.STORE_TXN_SCHEMA` 's columns and
types and every row is a valid :class:`StoreTransaction`; it is then moved (atomic rename) into the accepted folder
the job's filesystem source monitors. Anything else is moved to the quarantine folder beside a
``<name>.reason.json`` naming what is wrong, so one bad file never stops the job; a name already in quarantine
gets a numbered suffix (``<stem>.1.parquet``), so two bad drops never overwrite each other.

Only complete files are picked up. The convention for producers: write under a hidden name (``.name.tmp``, or
``_name``) and rename into place when done -- hidden files are ignored. For producers that cannot rename (``cp``,
``scp``) a file is considered only once its size and modification time are unchanged across two scans at least
``settle_s`` apart; a file that is not (yet) a readable Parquet file is held for ``incomplete_grace_s`` after its
last change before it is quarantined, so a copy that pauses mid-file is not mistaken for a bad drop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from omniseq.schema import SchemaError, table_to_transactions
from pipeline.sinks import Counters

log = logging.getLogger(__name__)
UNREADABLE = "not a readable Parquet file"


def check_drop(path: Path) -> str | None:
    """None if ``path`` is a valid drop, else the reason."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        return f"{UNREADABLE}: {type(exc).__name__}: {exc}"
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

    def __init__(
        self,
        landing: Path,
        accepted: Path,
        quarantine: Path,
        pipeline_dir: Path,
        settle_s: float = 2.0,
        incomplete_grace_s: float = 60.0,
    ) -> None:
        self.landing, self.accepted, self.quarantine = landing, accepted, quarantine
        self.counters = Counters(pipeline_dir / "metrics" / "landing.json")
        self.settle_s, self.incomplete_grace_s = settle_s, incomplete_grace_s
        self._seen: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()

    def _settled(self, path: Path, now: float) -> bool:
        """True once the file's size and mtime were the same at the previous scan and ``settle_s`` ago."""
        st = path.stat()
        sig = (st.st_size, st.st_mtime_ns)
        prev, self._seen[path.name] = self._seen.get(path.name), sig
        return self.settle_s <= 0 or (prev == sig and now - st.st_mtime >= self.settle_s)

    def _maybe_incomplete(self, path: Path, reason: str, now: float) -> bool:
        return reason.startswith(UNREADABLE) and now - path.stat().st_mtime < self.incomplete_grace_s

    def scan(self) -> list[tuple[Path, str | None]]:
        """Process every visible, settled file once; returns ``(file, reason or None)``."""
        if not self.landing.exists():
            return []
        done = []
        visible = sorted(
            p for p in self.landing.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
        )
        self._seen = {k: v for k, v in self._seen.items() if k in {p.name for p in visible}}
        for path in visible:
            now = time.time()
            if not self._settled(path, now):
                continue
            reason = check_drop(path) if path.suffix == ".parquet" else "not a .parquet file"
            if reason is not None and self._maybe_incomplete(path, reason, now):
                continue  # held: probably still being written
            self._seen.pop(path.name, None)
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

    def _free_name(self, name: str) -> str:
        """``name``, or ``<stem>.<n><suffix>`` for the first n whose file and reason are both free."""
        stem, suffix = Path(name).stem, Path(name).suffix
        candidate, n = name, 0
        while (self.quarantine / candidate).exists() or (
            self.quarantine / f"{candidate}.reason.json"
        ).exists():
            n += 1
            candidate = f"{stem}.{n}{suffix}"
        return candidate

    def _quarantine(self, path: Path, reason: str) -> None:
        self.quarantine.mkdir(parents=True, exist_ok=True)
        name = self._free_name(path.name)
        tmp = self.quarantine / f".{name}.reason.json.tmp"
        tmp.write_text(json.dumps({"file": path.name, "quarantined_as": name, "reason": reason,
                                   "at_ms": int(time.time() * 1000)}))  # fmt: skip
        os.replace(path, self.quarantine / name)
        os.replace(tmp, self.quarantine / f"{name}.reason.json")
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
