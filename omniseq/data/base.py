"""The uniform dataset API: every adapter (and the simulator) is a :class:`Dataset`.

A dataset streams validated behaviours of :mod:`omniseq.schema` -- :class:`~omniseq.schema.OnlineEvent` from
:meth:`Dataset.online_events` and :class:`~omniseq.schema.StoreTransaction` from
:meth:`Dataset.store_transactions` -- and summarises itself with :meth:`Dataset.summary`.

Nothing is coerced or dropped silently: a row that does not fit raises :class:`~omniseq.schema.SchemaError`
naming the field and the record; rows that the real data genuinely contains and that cannot be represented (e.g.
Dunnhumby lines with quantity 0) are counted per reason in :attr:`Dataset.skipped` and reported by the summary.
Notes that are not losses (e.g. duplicate items collapsed into a basket set) are counted in :attr:`Dataset.notes`.
"""

from __future__ import annotations

import datetime as dt
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omniseq.schema import EVENT_TYPES, Behaviour, OnlineEvent, SchemaError, StoreTransaction, sort_key

DAY_MS = 86_400_000


def default_root() -> Path:
    """``$OMNISEQ_DATA_ROOT`` if set, else ``../shared/data`` beside the repository (from this package's location)."""
    env = os.environ.get("OMNISEQ_DATA_ROOT")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def day_to_ms(day: str, kind: str, record: Any) -> int:
    """``YYYY-MM-DD`` -> epoch ms of 00:00 UTC; a malformed date raises :class:`SchemaError`."""
    try:
        d = dt.date.fromisoformat(day)
    except ValueError as exc:
        raise SchemaError(kind, "date", f"is not an ISO date (YYYY-MM-DD): {day!r}", record) from exc
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()) * 1000


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    return path


@dataclass
class Summary:
    """What :meth:`Dataset.summary` reports."""

    name: str
    users: int = 0
    items: int = 0
    online_events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    store_transactions: int = 0
    basket_items: int = 0
    online_users: int = 0
    store_users: int = 0
    both_channel_users: int = 0
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def mean_basket_size(self) -> float:
        return self.basket_items / self.store_transactions if self.store_transactions else 0.0

    def time_span(self) -> tuple[str, str] | None:
        if self.first_ts_ms is None or self.last_ts_ms is None:
            return None
        fmt = "%Y-%m-%d %H:%M:%S"
        first = dt.datetime.fromtimestamp(self.first_ts_ms / 1000, tz=dt.UTC).strftime(fmt)
        last = dt.datetime.fromtimestamp(self.last_ts_ms / 1000, tz=dt.UTC).strftime(fmt)
        return first, last

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean_basket_size"] = round(self.mean_basket_size, 4)
        span = self.time_span()
        d["time_span"] = list(span) if span else None
        return d


class Dataset(ABC):
    """A source of hybrid behaviours. Iterators are re-startable: each call reads the source again."""

    name: str = "dataset"

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    @abstractmethod
    def online_events(self) -> Iterator[OnlineEvent]:
        """Online events, validated (empty for in-store-only datasets)."""

    @abstractmethod
    def store_transactions(self) -> Iterator[StoreTransaction]:
        """In-store baskets, validated (empty for online-only datasets)."""

    def behaviours(self) -> Iterator[Behaviour]:
        """All behaviours: online events first, then in-store baskets (not time-ordered; see :func:`histories`)."""
        yield from self.online_events()
        yield from self.store_transactions()

    def summary(self) -> Summary:
        """One pass over both channels (counters for skipped rows are reset first)."""
        self.skipped.clear()
        self.notes.clear()
        s = Summary(name=self.name, events_by_type={t: 0 for t in EVENT_TYPES})
        online_users: set[str] = set()
        store_users: set[str] = set()
        items: set[str] = set()
        for e in self.online_events():
            s.online_events += 1
            s.events_by_type[e.event_type] += 1
            online_users.add(e.user_id)
            items.add(e.item_id)
            _span(s, e.ts_ms)
        for t in self.store_transactions():
            s.store_transactions += 1
            s.basket_items += len(t.items)
            store_users.add(t.user_id)
            items.update(t.items)
            _span(s, t.ts_ms)
        s.users = len(online_users | store_users)
        s.online_users, s.store_users = len(online_users), len(store_users)
        s.both_channel_users = len(online_users & store_users)
        s.items = len(items)
        s.skipped, s.notes = dict(self.skipped), dict(self.notes)
        return s


def _span(s: Summary, ts: int) -> None:
    s.first_ts_ms = ts if s.first_ts_ms is None else min(s.first_ts_ms, ts)
    s.last_ts_ms = ts if s.last_ts_ms is None else max(s.last_ts_ms, ts)


def histories(source: Dataset | Iterable[Behaviour], min_len: int = 1) -> dict[str, list[Behaviour]]:
    """Per-user hybrid histories, each sorted by :func:`omniseq.schema.sort_key` (users in first-seen order).

    ``min_len`` drops users with fewer behaviours (a basket counts as one behaviour).
    """
    behaviours = source.behaviours() if isinstance(source, Dataset) else source
    out: dict[str, list[Behaviour]] = {}
    for b in behaviours:
        out.setdefault(b.user_id, []).append(b)
    for seq in out.values():
        seq.sort(key=sort_key)
    return {u: seq for u, seq in out.items() if len(seq) >= min_len}
