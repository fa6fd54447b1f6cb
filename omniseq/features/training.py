"""Point-in-time-correct training sets from the offline store, and the seed's label protocol.

For a label row ``(user_id, label_ts_ms)`` the features are the newest offline row of the user with
``event_timestamp < label_ts_ms`` (strictly before: the label behaviour itself, and anything at the same
millisecond, is never in its own features); among rows with equal ``event_timestamp`` the latest
``created_timestamp`` wins, and a view's TTL (aggregate windows) bounds how old the row may be. Two engines give
the same result (tested): ``"feast"`` (``FeatureStore.get_historical_features`` with the entity time set to
``label_ts_ms - 1`` ms) and ``"parquet"`` (a ``pandas.merge_asof`` on the same files, much faster for large sets).
The feature job writes no per-behaviour rows of the sequence and in-store views by default (``offline_snapshots``):
engine ``"log"`` rebuilds them as of ``label_ts_ms - 1`` from the append-only behaviour log
(:func:`omniseq.features.behaviour_log.view_as_of`, late in-store baskets included), the window views as ``"parquet"``.

Output: the label columns in their order, then one column per feature (``feature`` for one view,
``view__feature`` -- Feast's full feature names -- for several); list features are Python lists, a user with no
row before the label has None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import pyarrow as pa

from feature_repo.views import CREATED_FIELD, TIMESTAMP_FIELD, USER_JOIN_KEY, feature_refs, view
from omniseq.features.behaviour_log import LOG_NAME, newest_ts, read_log, view_as_of
from omniseq.features.offline import OfflineWriter
from omniseq.schema import Behaviour, OnlineEvent, sort_key
from omniseq.settings import StackSettings

if TYPE_CHECKING:
    from feast import FeatureStore

LABEL_TS = "label_ts_ms"
Engine = Literal["log", "parquet", "feast"]


def label_rows(histories: Mapping[str, Sequence[Behaviour]]) -> pd.DataFrame:
    """The seed's protocol: per user, the last online behaviour is the test label, the one before the validation
    label, earlier online behaviours training labels (in-store baskets are context, never labels).

    Columns: ``user_id``, ``label_ts_ms``, ``item_id``, ``event_type``, ``split`` (train/valid/test), ``position``
    (index of the label among the user's online behaviours)."""
    rows: list[dict[str, Any]] = []
    for user_id, history in histories.items():
        online = sorted((b for b in history if isinstance(b, OnlineEvent)), key=sort_key)
        n = len(online)
        for i, ev in enumerate(online):
            split = "test" if i == n - 1 else "valid" if i == n - 2 else "train"
            rows.append(
                {USER_JOIN_KEY: user_id, LABEL_TS: ev.ts_ms, "item_id": ev.item_id,
                 "event_type": ev.event_type, "split": split, "position": i}
            )  # fmt: skip
    cols = [USER_JOIN_KEY, LABEL_TS, "item_id", "event_type", "split", "position"]
    return pd.DataFrame(rows, columns=cols)


def _group_refs(refs: Sequence[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for ref in refs:
        view_name, _, feature = ref.partition(":")
        if not feature:
            raise ValueError(f"feature reference {ref!r} is not 'view:feature'")
        feature_refs(view_name, [feature])  # validates
        grouped.setdefault(view_name, []).append(feature)
    return grouped


def _check_labels(labels: pd.DataFrame) -> None:
    missing = [c for c in (USER_JOIN_KEY, LABEL_TS) if c not in labels.columns]
    if missing:
        raise ValueError(f"label rows need columns {missing} (have {list(labels.columns)})")
    if not pd.api.types.is_integer_dtype(labels[LABEL_TS]):
        raise ValueError(f"{LABEL_TS} must be integer epoch milliseconds, got dtype {labels[LABEL_TS].dtype}")


def _to_lists(df: pd.DataFrame, columns: Sequence[str]) -> None:
    for c in columns:
        df[c] = [
            v.tolist() if hasattr(v, "tolist") and not isinstance(v, str) else (None if _isna(v) else v)
            for v in df[c]
        ]


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _asof_view(writer: OfflineWriter, labels: pd.DataFrame, view_name: str, names: list[str]) -> pd.DataFrame:
    table = writer.read(view_name).select([USER_JOIN_KEY, TIMESTAMP_FIELD, CREATED_FIELD, *names])
    feats = table.to_pandas()
    feats["_ev_ms"] = table.column(TIMESTAMP_FIELD).cast("int64").to_numpy()
    feats["_cr_ms"] = table.column(CREATED_FIELD).cast("int64").to_numpy()
    feats = feats.sort_values(["_ev_ms", "_cr_ms"], kind="stable")
    feats = feats.drop_duplicates([USER_JOIN_KEY, "_ev_ms"], keep="last")
    left = pd.DataFrame(
        {USER_JOIN_KEY: labels[USER_JOIN_KEY].to_numpy(), "_key": labels[LABEL_TS].to_numpy() - 1}
    )
    left["_row"] = range(len(left))
    merged = pd.merge_asof(
        left.sort_values("_key", kind="stable"),
        feats[[USER_JOIN_KEY, "_ev_ms", *names]],
        left_on="_key",
        right_on="_ev_ms",
        by=USER_JOIN_KEY,
        direction="backward",
        allow_exact_matches=True,
    ).sort_values("_row")
    ttl = view(view_name).ttl
    if ttl:
        stale = (merged["_key"] - merged["_ev_ms"]) > ttl.total_seconds() * 1000
        merged.loc[stale, names] = None
    out = merged[names].reset_index(drop=True)
    _to_lists(out, names)
    return out


def _log_view(log: pa.Table, labels: pd.DataFrame, view_name: str, names: list[str]) -> pd.DataFrame:
    """A view the behaviour log feeds, rebuilt point-in-time from the log as of ``label_ts_ms - 1``."""
    rows = view_as_of(
        log, view_name, labels[USER_JOIN_KEY].astype(str).tolist(), labels[LABEL_TS].to_numpy() - 1
    )
    return pd.DataFrame({n: pd.Series(rows[n].to_pylist(), dtype=object) for n in names})  # lists and None


def _parquet_engine(
    settings: StackSettings, labels: pd.DataFrame, grouped: dict[str, list[str]], from_log: bool = False
) -> pd.DataFrame:
    """Every view from its own offline rows; ``from_log``: the sequence and in-store views from the behaviour log."""
    writer = OfflineWriter(settings.dir("offline"))
    log = read_log(settings.dir("offline")) if from_log else None

    def one(view_name: str, names: list[str]) -> pd.DataFrame:
        if log is not None and view(view_name).kind != "online_agg":
            return _log_view(log, labels, view_name, names)
        return _asof_view(writer, labels, view_name, names)

    return _join_views(labels, grouped, one)


def _feast_view(store: FeatureStore, labels: pd.DataFrame, view_name: str, names: list[str]) -> pd.DataFrame:
    """One view through ``get_historical_features``, working around two quirks of Feast 0.67's file (dask) store:
    an entity row whose user has no row at all makes a multi-file source fail (dask cannot sort the null
    timestamps), and entity rows earlier than every row of their user are omitted from the result. Such rows
    have no features by definition, so they are left out of the query and come back as None."""
    source = store.get_feature_view(view_name).batch_source
    path = getattr(source, "path", None)
    if not path:
        raise ValueError(
            f"feature view {view_name} has no file source in the registry: run 'omniseq features apply'"
        )
    known = OfflineWriter(Path(path).parent).users(view_name)
    ask = labels[labels[USER_JOIN_KEY].isin(known)]
    out = pd.DataFrame(index=range(len(labels)), columns=names, dtype=object)
    if len(ask):
        entity_df = pd.DataFrame(
            {
                USER_JOIN_KEY: ask[USER_JOIN_KEY].to_numpy(),
                "event_timestamp": pd.to_datetime(ask[LABEL_TS].to_numpy() - 1, unit="ms", utc=True),
                "_row": ask.index.to_numpy(),
            }
        )
        refs = [f"{view_name}:{n}" for n in names]
        df = store.get_historical_features(entity_df=entity_df, features=refs).to_df()
        df = df.drop_duplicates("_row").set_index("_row").reindex(range(len(labels)))
        out = df[names].reset_index(drop=True)
    _to_lists(out, names)
    return out


def _feast_engine(store: FeatureStore, labels: pd.DataFrame, grouped: dict[str, list[str]]) -> pd.DataFrame:
    labels = labels.reset_index(drop=True)
    return _join_views(labels, grouped, lambda v, names: _feast_view(store, labels, v, names))


def _join_views(
    labels: pd.DataFrame, grouped: dict[str, list[str]], one_view: Callable[[str, list[str]], pd.DataFrame]
) -> pd.DataFrame:
    """The labels with each view's columns beside them (``view__feature`` when there are several views)."""
    parts = []
    for view_name, names in grouped.items():
        part = one_view(view_name, names)
        if len(grouped) > 1:
            part.columns = [f"{view_name}__{n}" for n in names]
        parts.append(part)
    return pd.concat([labels.reset_index(drop=True), *parts], axis=1)


def offline_users(settings: StackSettings, view_name: str) -> set[str]:
    """The users with offline data for ``view_name`` (under the engine ``build_training_set`` picks by default)."""
    offline = settings.dir("offline")
    if (offline / LOG_NAME).is_dir() and view(view_name).kind != "online_agg":
        return set(newest_ts(offline))
    return OfflineWriter(offline).users(view_name)


def build_training_set(
    source: StackSettings | FeatureStore,
    labels: pd.DataFrame,
    features: str | Sequence[str],
    *,
    engine: Engine | None = None,
    settings: StackSettings | None = None,
) -> pd.DataFrame:
    """Join point-in-time-correct features onto ``labels`` (columns ``user_id``, ``label_ts_ms``, any others).

    ``features`` is a view name (all its features) or Feast references ``view:feature``. ``source`` is the
    settings or a ``FeatureStore`` (engine ``"feast"``, the default for it). For settings the default engine is
    ``"log"`` when the offline store has a behaviour log (the job's default output), else ``"parquet"``."""
    _check_labels(labels)
    refs = feature_refs(features) if isinstance(features, str) else list(features)
    grouped = _group_refs(refs)
    if engine is None:
        if not isinstance(source, StackSettings):
            engine = "feast"
        else:
            engine = "log" if (source.dir("offline") / LOG_NAME).is_dir() else "parquet"
    if engine == "feast":
        if isinstance(source, StackSettings):
            from omniseq.features.store import feature_store  # lazy: importing feast costs seconds of CPU

            source = feature_store(source)
        return _feast_engine(source, labels, grouped)
    if engine not in ("parquet", "log"):
        raise ValueError(f"engine must be 'log', 'parquet' or 'feast', got {engine!r}")
    if not isinstance(source, StackSettings):
        if settings is None:
            raise ValueError(f"the {engine} engine needs the StackSettings (pass settings=...)")
        source = settings
    return _parquet_engine(source, labels, grouped, from_log=engine == "log")
