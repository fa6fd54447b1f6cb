"""Streaming the simulator to files, and reading its output (or the simulator itself) as a :class:`Dataset`.

Layout written by :func:`write_dataset` (``omniseq generate``)::

    DIR/online/part-00000.parquet    ONLINE_EVENT_SCHEMA, one file per chunk of users
    DIR/instore/part-00000.parquet   STORE_TXN_SCHEMA
    DIR/manifest.json                config, counts, parts (written last: its presence marks a complete run)

Users are generated one chunk at a time and each chunk is written before the next is generated, so memory is
bounded by the chunk size, not the number of events. Each file is written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from omniseq.data.base import Dataset
from omniseq.data.sim.config import SimulatorConfig
from omniseq.data.sim.simulator import Simulator
from omniseq.schema import (
    Behaviour,
    OnlineEvent,
    StoreTransaction,
    events_to_table,
    table_to_events,
    table_to_transactions,
    transactions_to_table,
)

MANIFEST = "manifest.json"
FORMAT = "omniseq-sim/1"


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _prepare(out: Path, overwrite: bool) -> None:
    if (out / MANIFEST).exists() or any(out.glob("*/part-*.parquet")):
        if not overwrite:
            raise FileExistsError(f"{out} already holds simulator output; pass overwrite=True (--overwrite)")
        for old in [*out.glob("online/part-*.parquet"), *out.glob("instore/part-*.parquet"), out / MANIFEST]:
            old.unlink(missing_ok=True)
    (out / "online").mkdir(parents=True, exist_ok=True)
    (out / "instore").mkdir(parents=True, exist_ok=True)


def write_dataset(
    cfg: SimulatorConfig,
    n_users: int,
    out: Path,
    chunk_users: int = 2000,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate users ``0..n_users-1`` chunk by chunk into ``out``; returns (and writes) the manifest."""
    if n_users < 1 or chunk_users < 1:
        raise ValueError("n_users and chunk_users must be >= 1")
    _prepare(out, overwrite)
    sim = Simulator(cfg)
    counts: Counter[str] = Counter()
    span = [None, None]
    parts: list[str] = []
    started = time.perf_counter()
    bar = tqdm(total=n_users, unit="user", desc="generate", disable=not progress)
    for part, start in enumerate(range(0, n_users, chunk_users)):
        events: list[OnlineEvent] = []
        txns: list[StoreTransaction] = []
        for user in sim.users(start, min(start + chunk_users, n_users)):
            counts["users"] += 1
            counts[f"users_{user.profile.channel}"] += 1
            for b in user.behaviours:
                (txns if isinstance(b, StoreTransaction) else events).append(b)  # type: ignore[arg-type]
            bar.update(1)
        _count(counts, span, events, txns)
        name = f"part-{part:05d}.parquet"
        _write_atomic(events_to_table(events), out / "online" / name)
        _write_atomic(transactions_to_table(txns), out / "instore" / name)
        parts.append(name)
    bar.close()
    manifest = {
        "format": FORMAT,
        "config": cfg.model_dump(mode="json"),
        "users": n_users,
        "chunk_users": chunk_users,
        "parts": parts,
        "counts": dict(sorted(counts.items())),
        "first_ts_ms": span[0],
        "last_ts_ms": span[1],
        "seconds": round(time.perf_counter() - started, 3),
    }
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out / MANIFEST)
    return manifest


def _count(
    counts: Counter[str], span: list[Any], events: list[OnlineEvent], txns: list[StoreTransaction]
) -> None:
    counts["online_events"] += len(events)
    counts["store_transactions"] += len(txns)
    for e in events:
        counts[f"events_{e.event_type}"] += 1
    counts["basket_items"] += sum(len(t.items) for t in txns)
    stamps = [e.ts_ms for e in events] + [t.ts_ms for t in txns]
    if stamps:
        span[0] = min(stamps) if span[0] is None else min(span[0], *stamps)
        span[1] = max(stamps) if span[1] is None else max(span[1], *stamps)


def read_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a complete 'omniseq generate' output folder")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}")
    return manifest


class SimulatedFiles(Dataset):
    """The output folder of ``omniseq generate`` (dataset name ``sim:<dir>``), read batch by batch."""

    def __init__(self, out: Path, batch_size: int = 65_536) -> None:
        super().__init__()
        self.out = out
        self.manifest = read_manifest(out)
        self.name = f"sim:{out}"
        self.batch_size = batch_size

    def _tables(self, sub: str) -> Iterator[pa.Table]:
        # no cast: table_to_events / table_to_transactions reject wrong Arrow types instead of coercing them
        for name in self.manifest["parts"]:
            pf = pq.ParquetFile(self.out / sub / name)
            for batch in pf.iter_batches(batch_size=self.batch_size):
                yield pa.Table.from_batches([batch])

    def online_events(self) -> Iterator[OnlineEvent]:
        for table in self._tables("online"):
            yield from table_to_events(table)

    def store_transactions(self) -> Iterator[StoreTransaction]:
        for table in self._tables("instore"):
            yield from table_to_transactions(table)


class SimulatedUsers(Dataset):
    """The simulator in memory (dataset name ``simulator``): users ``0..users-1`` of ``cfg``, regenerated per pass."""

    def __init__(self, cfg: SimulatorConfig | None = None, users: int = 1000) -> None:
        super().__init__()
        self.sim = Simulator(cfg)
        self.n_users = users
        self.name = "simulator"

    def online_events(self) -> Iterator[OnlineEvent]:
        for b in self.sim.behaviours(0, self.n_users):
            if isinstance(b, OnlineEvent):
                yield b

    def store_transactions(self) -> Iterator[StoreTransaction]:
        for b in self.sim.behaviours(0, self.n_users):
            if isinstance(b, StoreTransaction):
                yield b

    def behaviours(self) -> Iterator[Behaviour]:
        return self.sim.behaviours(0, self.n_users)  # one pass, per-user time order
