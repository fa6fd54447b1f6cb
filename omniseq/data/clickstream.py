"""Adapters for online-only datasets: YooChoose, Diginetica and any ``user item`` file (Amazon Beauty).

See ``docs/DATA.md`` for the mapping of each onto the hybrid schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from omniseq.data.base import DAY_MS, Dataset, day_to_ms, require_file
from omniseq.data.retail import _read_csv_rows
from omniseq.schema import EVENT_TYPES, OnlineEvent, SchemaError, StoreTransaction

YOOCHOOSE_SPLITS = ("train_full", "train_tr", "train_valid", "test")


class YooChoose(Dataset):
    """YooChoose (RecSys Challenge 2015) click sample: TSV ``SessionId ItemId Time`` (unix seconds, fractional).

    Sessions are anonymous, so the user is the session: ``user_id = session_id = "s<SessionId>"``. Every row is a
    ``click`` event. ``split`` picks the file (``train_full`` (default), ``train_tr``, ``train_valid``, ``test``).
    """

    name = "yoochoose"
    KIND = "yoochoose_row"

    def __init__(self, root: Path, split: str = "train_full") -> None:
        super().__init__()
        if split not in YOOCHOOSE_SPLITS:
            raise ValueError(f"yoochoose split must be one of {YOOCHOOSE_SPLITS}, got {split!r}")
        self.split = split
        self.path = root / f"yoochoose_rsc15_100k/yoochoose-clicks-100k_{split}.txt"

    def store_transactions(self) -> Iterator[StoreTransaction]:
        return iter(())

    def online_events(self) -> Iterator[OnlineEvent]:
        for lineno, row in _read_csv_rows(self.path, self.KIND, ("SessionId", "ItemId", "Time"), "\t"):
            rec = f"{self.path.name}:{lineno}: {row}"
            try:
                seconds = float(row["Time"])
            except ValueError as exc:
                raise SchemaError(self.KIND, "Time", "is not a number (unix seconds)", rec) from exc
            session = f"s{row['SessionId']}"
            yield OnlineEvent(
                event_id=f"yc-{self.split}-{lineno}",
                user_id=session,
                item_id=row["ItemId"],
                event_type="click",
                ts_ms=round(seconds * 1000),
                session_id=session,
            )


class Diginetica(Dataset):
    """Diginetica (CIKM Cup 2016) item views: ``session_id;user_id;item_id;timeframe;eventdate``.

    Each row is a ``view``. ``ts_ms`` = 00:00 UTC of ``eventdate`` + ``timeframe`` (milliseconds since the
    session's first event). The user is ``user_id`` when known, else ``"s<session_id>"`` (the file has ``NA``);
    a few sessions mix a known user with ``NA`` rows (kept as given, row by row).
    """

    name = "diginetica"
    FILE = "diginetica_sample/sample_train-item-views.csv"
    KIND = "diginetica_row"
    COLUMNS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.path = root / self.FILE

    def store_transactions(self) -> Iterator[StoreTransaction]:
        return iter(())

    def online_events(self) -> Iterator[OnlineEvent]:
        for lineno, row in _read_csv_rows(self.path, self.KIND, self.COLUMNS, ";"):
            rec = f"{self.path.name}:{lineno}: {row}"
            if not row["timeframe"].isdigit():
                raise SchemaError(self.KIND, "timeframe", "must be a non-negative integer (ms)", rec)
            user = row["user_id"]
            session = f"s{row['session_id']}"
            yield OnlineEvent(
                event_id=f"dg-{lineno}",
                user_id=session if user in ("", "NA") else user,
                item_id=row["item_id"],
                event_type="view",
                ts_ms=day_to_ms(row["eventdate"], self.KIND, rec) + int(row["timeframe"]),
                session_id=session,
            )


class UserItemFile(Dataset):
    """Any ``user item`` file (one pair per line, whitespace-separated, chronological per user), e.g. the
    SASRec/BERT4Rec benchmark files such as Amazon Beauty.

    Timestamps are SYNTHETIC: the k-th line of a user is stamped ``base_date + k days`` (00:00 UTC, default base
    2000-01-01), one session per event (``"<user>-<k>"``). The event type is ``purchase`` by default (reviews are
    the usual proxy for purchases in these benchmarks); pass ``event_type`` to change it.
    """

    name = "user-item"
    KIND = "user_item_line"

    def __init__(self, path: Path, event_type: str = "purchase", base_date: str = "2000-01-01") -> None:
        super().__init__()
        if event_type not in EVENT_TYPES:
            raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {event_type!r}")
        self.path = path
        self.event_type = event_type
        self.base_ms = day_to_ms(base_date, self.KIND, base_date)
        self.name = f"user-item:{path.name}"

    def store_transactions(self) -> Iterator[StoreTransaction]:
        return iter(())

    def online_events(self) -> Iterator[OnlineEvent]:
        position: dict[str, int] = {}
        with require_file(self.path).open() as fh:
            for lineno, line in enumerate(fh, start=1):
                parts = line.split()
                if not parts:
                    self.skipped["blank_line"] += 1
                    continue
                if len(parts) != 2:
                    rec = f"{self.path.name}:{lineno}: {line.rstrip()!r}"
                    raise SchemaError(
                        self.KIND, "<line>", f"must be 'user item', got {len(parts)} fields", rec
                    )
                user, item = parts
                k = position.get(user, 0)
                position[user] = k + 1
                yield OnlineEvent(
                    event_id=f"ui-{lineno}",
                    user_id=user,
                    item_id=item,
                    event_type=self.event_type,  # type: ignore[arg-type]
                    ts_ms=self.base_ms + k * DAY_MS,
                    session_id=f"{user}-{k}",
                )
