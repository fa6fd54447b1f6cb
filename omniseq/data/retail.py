"""Adapters for retail datasets with an in-store channel: H&M (both channels), Dunnhumby, Ta-Feng.

See ``docs/DATA.md`` for how each dataset is mapped onto the hybrid schema (and which timestamps are synthetic).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from omniseq.data.base import DAY_MS, Dataset, day_to_ms, require_file
from omniseq.schema import OnlineEvent, SchemaError, StoreTransaction


def _read_csv_rows(
    path: Path, kind: str, columns: tuple[str, ...], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as dicts with line numbers; a missing header column or a short row raises :class:`SchemaError`."""
    with require_file(path).open(newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None) or []
        for col in columns:
            if col not in header:
                raise SchemaError(kind, col, f"is missing from the header of {path}", header)
        idx = [header.index(c) for c in columns]
        for lineno, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise SchemaError(
                    kind, "<row>", f"has {len(row)} fields, expected {len(header)}", f"{path}:{lineno}: {row}"
                )
            yield lineno, {c: row[i] for c, i in zip(columns, idx, strict=True)}


class HMSample(Dataset):
    """H&M sample: ``sales_channel_id`` 1 = in-store basket per customer-day, 2 = online purchase per row.

    The data have dates only. In-store baskets are stamped 23:59:59 of their day; online rows of one customer-day
    get 00:00:00 + k seconds in file order (k = 0, 1, ...), so same-day online purchases precede the basket: the
    basket can never leak into a same-day online target. No store is given, so ``store_id`` is ``store_id``
    (default ``"hm-store"``). Duplicate articles in a basket collapse into the set (counted in ``notes``).
    """

    name = "hm"
    FILE = "hm_sample_hungle45/transactions_train_sample.csv"
    COLUMNS = ("t_dat", "customer_id", "article_id", "sales_channel_id")
    KIND = "hm_row"

    def __init__(self, root: Path, store_id: str = "hm-store") -> None:
        super().__init__()
        self.path = root / self.FILE
        self.store_id = store_id

    def _rows(self) -> Iterator[tuple[int, dict[str, str], int]]:
        """Rows with their day in ms; the file must be sorted by date (checked) so days stream one at a time."""
        prev = -1
        for lineno, row in _read_csv_rows(self.path, self.KIND, self.COLUMNS):
            rec = f"{self.path.name}:{lineno}: {row}"
            if row["sales_channel_id"] not in ("1", "2"):
                raise SchemaError(self.KIND, "sales_channel_id", "must be 1 (store) or 2 (online)", rec)
            day = day_to_ms(row["t_dat"], self.KIND, rec)
            if day < prev:
                raise SchemaError(
                    self.KIND, "t_dat", "goes back in time: the file must be sorted by date", rec
                )
            prev = day
            yield lineno, row, day

    def online_events(self) -> Iterator[OnlineEvent]:
        day = -1
        seen: dict[str, int] = {}  # per customer: rows already seen on the current day
        for lineno, row, d in self._rows():
            if row["sales_channel_id"] != "2":
                continue
            if d != day:
                day, seen = d, {}
            cust = row["customer_id"]
            k = seen.get(cust, 0)
            seen[cust] = k + 1
            yield OnlineEvent(
                event_id=f"hm-{lineno}",
                user_id=cust,
                item_id=row["article_id"],
                event_type="purchase",
                ts_ms=d + 1000 * k,
                session_id=f"{cust}-{row['t_dat']}",
            )

    def store_transactions(self) -> Iterator[StoreTransaction]:
        day, date = -1, ""
        baskets: dict[str, dict[str, None]] = {}  # customer -> items of the current day (insertion-ordered)
        for _, row, d in self._rows():
            if row["sales_channel_id"] != "1":
                continue
            if d != day:
                yield from self._flush(baskets, day, date)
                day, date, baskets = d, row["t_dat"], {}
            items = baskets.setdefault(row["customer_id"], {})
            if row["article_id"] in items:
                self.notes["duplicate_items_collapsed"] += 1
            items[row["article_id"]] = None
        yield from self._flush(baskets, day, date)

    def _flush(self, baskets: dict[str, dict[str, None]], day: int, date: str) -> Iterator[StoreTransaction]:
        for cust, items in baskets.items():
            yield StoreTransaction(
                txn_id=f"hm-{cust}-{date}",
                user_id=cust,
                items=tuple(items),
                ts_ms=day + DAY_MS - 1000,
                store_id=self.store_id,
            )


class Dunnhumby(Dataset):
    """Dunnhumby Complete Journey (2017): one in-store basket per ``basket_id`` (household = user).

    Streams record batches; rows are time-ordered in the file (checked), so a basket is complete once the
    timestamp moves on. Lines with ``quantity <= 0`` (voids with zero sales value) are skipped and counted; a
    basket left empty by that is counted too. Timestamps are the file's (naive, read as UTC).
    """

    name = "dunnhumby"
    FILE = "dunnhumby_completejourney_2017/transactions.parquet"
    COLUMNS = ("household_id", "store_id", "basket_id", "product_id", "quantity", "transaction_timestamp")
    KIND = "dunnhumby_row"

    def __init__(self, root: Path, include_zero_quantity: bool = False, batch_size: int = 65_536) -> None:
        super().__init__()
        self.path = root / self.FILE
        self.include_zero_quantity = include_zero_quantity
        self.batch_size = batch_size

    def online_events(self) -> Iterator[OnlineEvent]:
        return iter(())

    def _batches(self) -> Iterator[dict[str, list[Any]]]:
        pf = pq.ParquetFile(require_file(self.path))
        for col in self.COLUMNS:
            if col not in pf.schema_arrow.names:
                raise SchemaError(self.KIND, col, f"is missing from {self.path}", pf.schema_arrow.names)
        for batch in pf.iter_batches(batch_size=self.batch_size, columns=list(self.COLUMNS)):
            ts = batch.column("transaction_timestamp").cast(pa.timestamp("ms")).cast(pa.int64())
            cols = {c: batch.column(c).to_pylist() for c in self.COLUMNS if c != "transaction_timestamp"}
            cols["ts_ms"] = ts.to_pylist()
            yield cols

    def store_transactions(self) -> Iterator[StoreTransaction]:
        open_ts: int | None = None
        pending: dict[int, tuple[int, int, dict[str, None]]] = {}  # basket -> (household, store, items)
        for cols in self._batches():
            for i, ts in enumerate(cols["ts_ms"]):
                if ts is None:
                    raise SchemaError(
                        self.KIND, "transaction_timestamp", "is null", {c: v[i] for c, v in cols.items()}
                    )
                if open_ts is not None and ts != open_ts:
                    if ts < open_ts:
                        rec = {c: v[i] for c, v in cols.items()}
                        raise SchemaError(
                            self.KIND, "transaction_timestamp", "goes back in time (file not sorted)", rec
                        )
                    yield from self._flush(pending, open_ts)
                    pending = {}
                open_ts = ts
                self._add(pending, cols, i)
        if open_ts is not None:
            yield from self._flush(pending, open_ts)

    def _add(
        self, pending: dict[int, tuple[int, int, dict[str, None]]], cols: dict[str, list[Any]], i: int
    ) -> None:
        basket, hh, store = cols["basket_id"][i], cols["household_id"][i], cols["store_id"][i]
        entry = pending.setdefault(basket, (hh, store, {}))
        if entry[0] != hh or entry[1] != store:
            rec = {c: v[i] for c, v in cols.items()}
            raise SchemaError(self.KIND, "basket_id", "mixes households or stores within one basket", rec)
        if cols["quantity"][i] <= 0 and not self.include_zero_quantity:
            self.skipped["line_quantity_not_positive"] += 1
            return
        item = str(cols["product_id"][i])
        if item in entry[2]:
            self.notes["duplicate_items_collapsed"] += 1
        entry[2][item] = None

    def _flush(
        self, pending: dict[int, tuple[int, int, dict[str, None]]], ts: int
    ) -> Iterator[StoreTransaction]:
        for basket, (hh, store, items) in sorted(pending.items()):
            if not items:
                self.skipped["basket_without_positive_quantity"] += 1
                continue
            yield StoreTransaction(
                txn_id=str(basket), user_id=str(hh), items=tuple(items), ts_ms=ts, store_id=str(store)
            )


class TaFeng(Dataset):
    """Ta-Feng baskets as preprocessed by the NBR reality-check authors (``{uid: [basket, ...]}``, no dates).

    Timestamps are SYNTHETIC: basket k of every user is stamped ``base_date + k days`` at 12:00 UTC (default base
    2000-11-01, the first month of the raw Ta-Feng data), so order within a user is the file's order and nothing
    else about time is meaningful. ``store_id`` is ``store_id`` (default ``"tafeng-store"``).
    """

    name = "tafeng"
    FILE = "tafeng_nbr_reality_check/tafeng_merged.json"
    KIND = "tafeng_basket"

    def __init__(self, root: Path, base_date: str = "2000-11-01", store_id: str = "tafeng-store") -> None:
        super().__init__()
        self.path = root / self.FILE
        self.base_ms = day_to_ms(base_date, self.KIND, base_date) + DAY_MS // 2
        self.store_id = store_id

    def online_events(self) -> Iterator[OnlineEvent]:
        return iter(())

    def store_transactions(self) -> Iterator[StoreTransaction]:
        data = json.loads(require_file(self.path).read_text())
        if not isinstance(data, dict):
            raise SchemaError(
                self.KIND, "<file>", "must be a JSON object {user: [basket, ...]}", str(self.path)
            )
        for uid, baskets in data.items():
            if not isinstance(baskets, list):
                raise SchemaError(self.KIND, "baskets", "must be a list of baskets", {uid: baskets})
            for k, basket in enumerate(baskets):
                if not isinstance(basket, list) or not all(isinstance(i, int) for i in basket):
                    raise SchemaError(self.KIND, "items", "must be a list of integer item ids", {uid: basket})
                items = dict.fromkeys(str(i) for i in basket)
                self.notes["duplicate_items_collapsed"] += len(basket) - len(items)
                yield StoreTransaction(
                    txn_id=f"tf-{uid}-{k}",
                    user_id=str(uid),
                    items=tuple(items),
                    ts_ms=self.base_ms + k * DAY_MS,
                    store_id=self.store_id,
                )
