"""Refill the online store (Redis) from the Parquet offline store: the recovery path after Redis lost its data.

Reads every committed file of a view's offline folder -- the rows :class:`~omniseq.features.offline.OfflineWriter`
wrote and the ``part-*`` files the Flink file sink writes (no ``.parquet`` suffix; Flink's in-progress files are
hidden and skipped) -- keeps each user's newest row (``event_timestamp``, then ``created_timestamp``) within
``[start_ms, end_ms]`` and writes it in Feast's Redis layout. Rows older than what Redis already holds are skipped,
so a refill never overwrites fresher features the pipeline wrote meanwhile. Feast's own ``materialize`` is not used
because its file reader only accepts files whose names end in ``.parquet``. The sequence and in-store views are
rebuilt from the append-only behaviour log when they have no rows of their own (the job writes none by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from feature_repo.views import CREATED_FIELD, TIMESTAMP_FIELD, USER_JOIN_KEY, VIEWS, view
from omniseq.features.behaviour_log import log_files, read_log, view_as_of
from omniseq.features.offline import OfflineWriter
from omniseq.features.online import RedisOnlineStore, Row
from omniseq.settings import StackSettings


@dataclass(frozen=True)
class RefillResult:
    view: str
    files: int
    rows_read: int
    users_written: int


def newest_rows(table: pa.Table, view_name: str, start_ms: int, end_ms: int) -> Iterator[Row]:
    """Each user's newest row of ``table`` with ``start_ms <= event_timestamp <= end_ms``."""
    ts = pc.cast(table.column(TIMESTAMP_FIELD), pa.int64())
    keep = pc.and_(pc.greater_equal(ts, start_ms), pc.less_equal(ts, end_ms))
    table = table.filter(keep)
    if table.num_rows == 0:
        return
    table = table.sort_by([(USER_JOIN_KEY, "ascending"), (TIMESTAMP_FIELD, "descending"),
                           (CREATED_FIELD, "descending")])  # fmt: skip
    names = view(view_name).feature_names
    users = table.column(USER_JOIN_KEY).to_pylist()
    times = pc.cast(table.column(TIMESTAMP_FIELD), pa.int64()).to_pylist()
    columns = {n: table.column(n).to_pylist() for n in names}
    previous = None
    for i, user in enumerate(users):
        if user == previous:
            continue
        previous = user
        yield Row(user, {n: columns[n][i] for n in names}, int(times[i]))


def log_rows(log: pa.Table, view_name: str, start_ms: int, end_ms: int) -> Iterator[Row]:
    """Each logged user's row of a log-fed view as of ``end_ms``, where its event time is ``>= start_ms``."""
    users = sorted(set(log.column("user_id").to_pylist()))
    table = view_as_of(log, view_name, users, [end_ms] * len(users))
    event_time = view(view_name).event_time_feature
    names = view(view_name).feature_names
    for rec in table.to_pylist():
        ts = rec[event_time]
        if ts is not None and ts >= start_ms:
            yield Row(rec["user_id"], {n: rec[n] for n in names}, int(ts))


def refill_online(
    settings: StackSettings,
    views: Iterable[str] | None = None,
    start_ms: int = 0,
    end_ms: int = 2**62,
    store: RedisOnlineStore | None = None,
) -> list[RefillResult]:
    """Write the newest offline row of every user of each view (default: every view with offline data); a
    sequence or in-store view without rows of its own (the job's default: no snapshots) is rebuilt from the
    behaviour log as of ``end_ms``."""
    offline = OfflineWriter(settings.dir("offline"))
    log, n_log_files = read_log(settings.dir("offline")), len(log_files(settings.dir("offline")))
    store = store or RedisOnlineStore.from_url(settings.redis_url)
    out = []
    for name in list(views) if views is not None else sorted(VIEWS):
        files = offline.files(name)
        if not files and log.num_rows and view(name).kind != "online_agg":
            written = store.write(name, log_rows(log, name, start_ms, end_ms), skip_older=True)
            out.append(RefillResult(name, n_log_files, log.num_rows, written))
            continue
        if not files:
            out.append(RefillResult(name, 0, 0, 0))
            continue
        table = offline.read(name)
        written = store.write(name, newest_rows(table, name, start_ms, end_ms), skip_older=True)
        out.append(RefillResult(name, len(files), table.num_rows, written))
    return out
