"""The Parquet offline store: append-only, partitioned by the event date, atomic file creation.

Layout (what the Feast ``FileSource`` of each view reads, see :mod:`feature_repo.definitions`)::

    <offline_dir>/<view>/date=YYYY-MM-DD/part-<created_ms>-<uuid>.parquet

Columns: ``user_id`` (string), ``event_timestamp`` and ``created_timestamp`` (``timestamp[ms, tz=UTC]``) and the
view's features (``int64``, ``double``, ``string``, ``list<int64>``, ``list<string>``). A file is written under a
dot-prefixed temporary name in its partition folder and renamed into place (``os.replace``), so readers (Feast's
dask reader and pyarrow datasets ignore ``.``/``_`` prefixed names) never see a partial file. Rows are never
rewritten: a later state of a user is a new row with a later ``event_timestamp`` (or, for a late arrival that does
not move the newest timestamp, the same ``event_timestamp`` and a later ``created_timestamp``, which wins).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from feature_repo.views import CREATED_FIELD, TIMESTAMP_FIELD, USER_JOIN_KEY, Dtype, view
from omniseq.features.online import Row, RowLike

ARROW_TYPES: Final[dict[Dtype, pa.DataType]] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "int64_list": pa.list_(pa.int64()),
    "string_list": pa.list_(pa.string()),
}
TS_TYPE: Final[pa.DataType] = pa.timestamp("ms", tz="UTC")


def arrow_schema(view_name: str) -> pa.Schema:
    spec = view(view_name)
    fields = [
        pa.field(USER_JOIN_KEY, pa.string(), nullable=False),
        pa.field(TIMESTAMP_FIELD, TS_TYPE, nullable=False),
        pa.field(CREATED_FIELD, TS_TYPE, nullable=False),
        *(pa.field(f.name, ARROW_TYPES[f.dtype]) for f in spec.features),
    ]
    return pa.schema(fields, metadata={"omniseq.feature_view": view_name})


def date_of(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d")


def rows_to_table(view_name: str, rows: list[Row], created_ms: int) -> pa.Table:
    schema = arrow_schema(view_name)
    names = view(view_name).feature_names
    columns: dict[str, list[object]] = {
        USER_JOIN_KEY: [r.user_id for r in rows],
        TIMESTAMP_FIELD: [r.ts_ms for r in rows],
        CREATED_FIELD: [created_ms] * len(rows),
    }
    for n in names:
        columns[n] = [r.features.get(n) for r in rows]
    try:
        return pa.table(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise TypeError(f"{view_name}: rows do not fit the offline schema: {e}") from e


class OfflineWriter:
    """Appends validated rows of a view to ``<offline_dir>/<view>/date=.../`` as new Parquet files."""

    def __init__(self, offline_dir: Path, compression: str = "zstd") -> None:
        self.root = Path(offline_dir)
        self.compression = compression

    def view_dir(self, view_name: str) -> Path:
        view(view_name)  # unknown names raise a clear KeyError
        return self.root / view_name

    def write(self, view_name: str, rows: Iterable[RowLike], created_ms: int | None = None) -> list[Path]:
        """One file per event date touched; returns the files created (none for no rows)."""
        created = int(time.time() * 1000) if created_ms is None else created_ms
        by_date: dict[str, list[Row]] = defaultdict(list)
        for row in map(Row._make, rows):
            by_date[date_of(row.ts_ms)].append(row)
        out = []
        for date, part in sorted(by_date.items()):
            table = rows_to_table(view_name, part, created)
            out.append(self._write_atomic(self.view_dir(view_name) / f"date={date}", table, created))
        return out

    def _write_atomic(self, folder: Path, table: pa.Table, created_ms: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{created_ms}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = folder / f".{name}.tmp"
        try:
            pq.write_table(table, tmp, compression=self.compression)
            os.replace(tmp, folder / name)
        finally:
            tmp.unlink(missing_ok=True)
        return folder / name

    def files(self, view_name: str) -> list[Path]:
        folder = self.view_dir(view_name)
        return (
            sorted(folder.glob("date=*/part-*")) if folder.is_dir() else []
        )  # ours end in .parquet, Flink's not

    def users(self, view_name: str) -> set[str]:
        """The users with at least one row of the view (reads only the ``user_id`` column)."""
        out: set[str] = set()
        for f in self.files(view_name):
            out.update(pq.read_table(f, columns=[USER_JOIN_KEY]).column(0).to_pylist())
        return out

    def read(self, view_name: str) -> pa.Table:
        """Every row of a view (the ``date`` partition column dropped); an empty table when nothing is written."""
        files = self.files(view_name)
        if not files:
            return arrow_schema(view_name).empty_table()
        return pa.concat_tables(pq.read_table(f, schema=arrow_schema(view_name)) for f in files)
