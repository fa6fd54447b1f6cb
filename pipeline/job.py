"""The feature job: one ``build_*(t_env, cfg)`` per step, composed by :func:`build_job`. The graph is declared
here (SQL DDL in ``sql/*.sql``); every per-event operator is Java (``jvm/``, package ``omniseq.flink``), so no
record crosses into Python while the job runs::

    Kafka clickstream (raw) --ValidateEvents--> behaviours --+--> key_by(user) --HybridFeatures--> Redis seq/in-store views
                         \\--> DLQ topic (reason, capped)     |                     |--> offline behaviour log (Parquet)
    landing --(validator)--> accepted/*.parquet --> baskets -+                     \\--> clean events --HOP SQL--+
                                                                     Redis window views <--WindowWriter--------+
                                                                     offline window views <--------------------/
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

from pyflink.datastream import DataStream
from pyflink.java_gateway import get_gateway
from pyflink.table import Schema, StatementSet, StreamTableEnvironment, Table

from feature_repo.views import (
    BASKET_CODE,
    CREATED_FIELD,
    EVENT_TYPE_CODES,
    ONLINE_COUNTS,
    ONLINE_RECENCY,
    ONLINE_TOTAL,
    PROJECT,
    TIMESTAMP_FIELD,
    USER_JOIN_KEY,
    view,
)
from omniseq.features.behaviour_log import LOG_COLUMNS, LOG_NAME, LOG_SQL_TYPES
from omniseq.features.online import entity_key_prefix, field_hash, ts_field
from omniseq.schema import MAX_ID_LEN, MAX_TS_MS, MIN_TS_MS
from pipeline.config import PipelineSettings, WindowSpec

SQL_DIR = Path(__file__).parent / "sql"


def render_sql(name: str, **values: Any) -> str:
    """``sql/<name>.sql`` with ``${placeholders}`` filled; a missing value or a quote in a value is an error."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    for key, value in values.items():
        if "'" in str(value):
            raise ValueError(f"sql/{name}.sql: value of {key!r} must not contain a quote: {value!r}")
    try:
        return Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise ValueError(f"sql/{name}.sql: no value for placeholder {exc.args[0]!r}") from exc


def _view_json(name: str, max_len: int = 0) -> dict[str, Any]:
    """One feature view as the Java operators need it, derived from the feature contract."""
    spec = view(name)
    features = [
        {"name": f.name, "dtype": f.dtype, "field_hex": field_hash(name, f.name).hex()} for f in spec.features
    ]
    return {
        "name": name,
        "max_len": max_len,
        "ts_field_hex": ts_field(name).hex(),
        "ts_feature": spec.event_time_feature,
        "features": features,
    }


def operator_config(cfg: PipelineSettings, online_uri: str) -> str:
    """The JSON the Java operators are constructed with (``omniseq.flink.JobConfig``)."""
    if not online_uri.startswith("redis://"):
        raise ValueError(f"the online sink must be redis://host:port/db, got {online_uri!r}")
    return json.dumps(
        {
            "online_uri": online_uri,
            "metrics_dir": str((cfg.pipeline_dir / "metrics").resolve()),
            "key_prefix_hex": entity_key_prefix().hex(),
            "project": PROJECT,
            "seq_views": [_view_json(v, n) for v, n in cfg.seq_views.items()],
            "instore_view": _view_json(cfg.instore_view),
            "window_views": [_view_json(w.view) for w in cfg.windows],
            "max_len": cfg.max_seq_len,
            "dedup_ttl_ms": cfg.dedup_ttl_ms,
            "state_ttl_days": cfg.state_ttl_days,
            "flush_ms": cfg.redis_flush_ms,
            "batch_rows": cfg.redis_batch_rows,
            "max_message_bytes": cfg.max_message_bytes,
            "dlq_max_payload_bytes": cfg.dlq_max_payload_bytes,
            "max_future_skew_ms": cfg.max_future_skew_ms,
            "offline_snapshots": cfg.offline_snapshots,
            "event_type_codes": EVENT_TYPE_CODES,
            "basket_code": BASKET_CODE,
            "min_ts_ms": MIN_TS_MS,
            "max_ts_ms": MAX_TS_MS,
            "max_id_len": MAX_ID_LEN,
        }
    )


def _java() -> Any:
    """The ``omniseq.flink`` package of the jvm/ module (on ``pipeline.jars``)."""
    return get_gateway().jvm.omniseq.flink


def build_kafka_source(t_env: StreamTableEnvironment, cfg: PipelineSettings) -> Table:
    t_env.execute_sql(
        render_sql(
            "kafka_source",
            topic=cfg.clickstream_topic,
            bootstrap=cfg.kafka_bootstrap,
            group_id=cfg.kafka_group_id,
            startup_mode=cfg.kafka_startup_mode,
        )
    )
    return t_env.from_path("clickstream_raw")


def build_validation(
    t_env: StreamTableEnvironment, raw: Table, cfg: PipelineSettings, op_cfg: str
) -> tuple[DataStream, DataStream]:
    """Kafka rows -> (behaviour rows, dead letters), one JSON parse per message (``omniseq.flink.ValidateEvents``)."""
    j = t_env.to_data_stream(raw)._j_data_stream.process(_java().ValidateEvents(op_cfg))
    j = j.uid("validate").name("validate")
    return DataStream(j), DataStream(j.getSideOutput(_java().Records.dlqTag()))


def build_instore_source(t_env: StreamTableEnvironment, cfg: PipelineSettings) -> DataStream:
    """Validated drops in the accepted folder -> behaviour rows."""
    cfg.accepted_dir.mkdir(parents=True, exist_ok=True)
    t_env.execute_sql(
        render_sql(
            "instore_source",
            path=cfg.accepted_dir.resolve().as_uri(),
            monitor=f"{cfg.instore_monitor_ms} ms",
        )
    )
    baskets = t_env.to_data_stream(t_env.sql_query(render_sql("instore_behaviours", basket_code=BASKET_CODE)))
    return DataStream(baskets._j_data_stream.map(_java().AsBehaviour()).uid("baskets").name("baskets"))


def build_hybrid(
    behaviours: DataStream, cfg: PipelineSettings, op_cfg: str, with_offline: bool
) -> tuple[DataStream, dict[str, DataStream]]:
    """Behaviours keyed by user -> (clean online events, {offline table: rows}): the behaviour log, and with
    ``offline_snapshots`` one snapshot row per behaviour and sequence/in-store view."""
    java = _java()
    fn = java.HybridFeatures(op_cfg, with_offline)
    by_user = java.KeyByField(LOG_COLUMNS.index(USER_JOIN_KEY))  # behaviours have the log's layout
    j = behaviours._j_data_stream.keyBy(by_user).process(fn).uid("hybrid").name("hybrid")
    side: dict[str, DataStream] = {}
    if with_offline:
        side[LOG_NAME] = DataStream(j.getSideOutput(java.Records.logTag()))
        if cfg.offline_snapshots:
            views = [*cfg.seq_views, cfg.instore_view]
            for name, tag in zip(views, java.HybridFeatures.snapshotTags(op_cfg), strict=True):
                side[name] = DataStream(j.getSideOutput(tag))
    return DataStream(j), side


def build_windows(
    t_env: StreamTableEnvironment, clean: DataStream, cfg: PipelineSettings
) -> dict[str, Table]:
    """Clean events -> one HOP-window table per configured window (event time, watermark with delay)."""
    delay = f"{cfg.out_of_orderness_ms / 1000:.3f}"
    schema = (
        Schema.new_builder()
        .column("user_id", "STRING")
        .column("type_code", "INT")
        .column("ts_ms", "BIGINT")
        .column_by_expression("rowtime", "TO_TIMESTAMP_LTZ(ts_ms, 3)")
        .watermark("rowtime", f"rowtime - INTERVAL '{delay}' SECOND")
        .build()
    )
    t_env.create_temporary_view("clean_events", t_env.from_data_stream(clean, schema))
    tables = {spec.view: window_table(t_env, spec) for spec in cfg.windows}
    for name, table in tables.items():
        t_env.create_temporary_view(f"w_{name}", table)
    return tables


def window_table(t_env: StreamTableEnvironment, spec: WindowSpec) -> Table:
    if spec.slide_ms % 1000 or spec.size_ms % 1000:
        raise ValueError(f"window {spec.view}: size and slide must be whole seconds")
    counts = ",\n  ".join(
        f"COUNT(*) FILTER (WHERE type_code = {c}) AS `{n}`" for n, c in ONLINE_COUNTS.items()
    )
    sql = render_sql(
        "window_agg", events_view="clean_events", slide_s=spec.slide_ms // 1000, size_s=spec.size_ms // 1000,
        counts=counts, total=ONLINE_TOTAL, recency=ONLINE_RECENCY,
    )  # fmt: skip
    return t_env.sql_query(sql)


def build_window_writer(
    t_env: StreamTableEnvironment, windows: dict[str, Table], cfg: PipelineSettings, op_cfg: str
) -> None:
    """Window rows of every view -> the online store through the Java writer (keyed by user, coalesced)."""
    union: Table | None = None
    for name in windows:
        cols = ", ".join(f"`{f}`" for f in view(name).feature_names)
        tagged = t_env.sql_query(f"SELECT '{name}' AS `view`, {USER_JOIN_KEY}, {cols} FROM `w_{name}`")
        union = tagged if union is None else union.union_all(tagged)
    if union is None:
        return
    java = _java()
    by_user = java.KeyByField(union.get_resolved_schema().get_column_names().index(USER_JOIN_KEY))
    j = t_env.to_data_stream(union)._j_data_stream.keyBy(by_user)
    j = j.process(java.WindowWriter(op_cfg)).uid("window-writer").name("window-writer")
    sink = get_gateway().jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()
    j.sinkTo(sink).name("window-writer-end")  # emits nothing; the sink keeps the operator in the graph


def build_offline_sinks(
    t_env: StreamTableEnvironment,
    stmts: StatementSet,
    cfg: PipelineSettings,
    side: dict[str, DataStream],
    windows: dict[str, Table],
) -> None:
    """The behaviour log, the window views (and optional snapshots) -> ``<offline_dir>/<name>/date=YYYY-MM-DD/``."""
    for name, stream in side.items():
        t_env.create_temporary_view(f"side_{name}", t_env.from_data_stream(stream))
        if name == LOG_NAME:  # every behaviour with its event time and arrival time
            log_cols = [(c, t) for c, t in LOG_SQL_TYPES.items() if c != USER_JOIN_KEY]
            names = _offline_table(t_env, cfg, name, log_cols)
            stmts.add_insert_sql(_offline_insert(name, names, f"side_{name}", "ts_ms", "arrival_ms"))
            continue
        names = _offline_table(t_env, cfg, name, view(name).sql_columns())
        stmts.add_insert_sql(_offline_insert(name, names, f"side_{name}", "event_ts", "created_ts"))
    for name in windows:
        names = _offline_table(t_env, cfg, name, view(name).sql_columns())
        created = "CAST(UNIX_TIMESTAMP() AS BIGINT) * 1000"
        stmts.add_insert_sql(
            _offline_insert(name, names, f"w_{name}", view(name).event_time_feature, created)
        )


def _offline_table(
    t_env: StreamTableEnvironment, cfg: PipelineSettings, name: str, cols: list[tuple[str, str]]
) -> str:
    """Create the offline sink table of ``name`` (``offline_sink.sql``); returns its column list for an INSERT."""
    t_env.execute_sql(
        render_sql(
            "offline_sink",
            table=f"offline_{name}",
            user_col=USER_JOIN_KEY,
            event_ts_col=TIMESTAMP_FIELD,
            created_col=CREATED_FIELD,
            columns=",\n  ".join(f"`{c}` {sql_type}" for c, sql_type in cols),
            path=(cfg.dir("offline") / name).resolve().as_uri(),
            rollover=f"{cfg.offline_rollover_s} s",
        )
    )
    return f"{USER_JOIN_KEY}, " + ", ".join(f"`{c}`" for c, _ in cols)


def _offline_insert(name: str, cols: str, source: str, event_ms: str, created_ms: str) -> str:
    ts = f"CAST(TO_TIMESTAMP_LTZ({event_ms}, 3) AS TIMESTAMP(3))"
    return (
        f"INSERT INTO `offline_{name}` SELECT {cols}, {ts}, "
        f"CAST(TO_TIMESTAMP_LTZ({created_ms}, 3) AS TIMESTAMP(3)), DATE_FORMAT({ts}, 'yyyy-MM-dd') "
        f"FROM `{source}`"
    )


def build_dlq_sink(
    t_env: StreamTableEnvironment, stmts: StatementSet, dlq: DataStream, cfg: PipelineSettings
) -> None:
    t_env.execute_sql(
        render_sql(
            "dlq_sink",
            topic=cfg.dlq_topic,
            bootstrap=cfg.kafka_bootstrap,
            delivery=cfg.dlq_delivery,
            txn_prefix=f"{cfg.job_name}-dlq",
        )
    )
    stmts.add_insert("clickstream_dlq", t_env.from_data_stream(dlq))


def build_job(t_env: StreamTableEnvironment, cfg: PipelineSettings, online_uri: str) -> StatementSet:
    """The whole job; the caller attaches the statement set and executes the environment."""
    op_cfg = operator_config(cfg, online_uri)
    stmts = t_env.create_statement_set()
    events, dlq = build_validation(t_env, build_kafka_source(t_env, cfg), cfg, op_cfg)
    behaviours = events.union(build_instore_source(t_env, cfg))
    clean, side = build_hybrid(behaviours, cfg, op_cfg, cfg.offline_enabled)
    windows = build_windows(t_env, clean, cfg)
    build_window_writer(t_env, windows, cfg, op_cfg)
    build_dlq_sink(t_env, stmts, dlq, cfg)
    if cfg.offline_enabled:
        build_offline_sinks(t_env, stmts, cfg, side, windows)
    return stmts
