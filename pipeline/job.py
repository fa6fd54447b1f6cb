"""The feature job: one pure ``build_*(t_env, cfg)`` per transformation, composed by :func:`build_job`.

::

    Kafka clickstream (raw) --ValidateEvents--> behaviours --+--> key_by(user) --HybridFeatures--> Redis seq/in-store views
                         \\--> DLQ topic (reason)             |                       |--> offline seq/in-store views
    landing --(validator)--> accepted/*.parquet --> baskets -+                       \\--> clean events --HOP SQL--+
                                                                                     Redis window views <--WindowWriter--+
                                                                                     offline window views <--------------/
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

from pyflink.common import Types
from pyflink.datastream import DataStream, OutputTag
from pyflink.table import Schema, StatementSet, StreamTableEnvironment, Table

from pipeline import functions as fn
from pipeline.config import PipelineSettings, WindowSpec

SQL_DIR = Path(__file__).parent / "sql"

SEQ_COLUMNS: list[tuple[str, str, Any]] = [
    ("tok_items", "ARRAY<STRING>", lambda: Types.BASIC_ARRAY(Types.STRING())),
    ("tok_types", "ARRAY<BIGINT>", lambda: Types.BASIC_ARRAY(Types.LONG())),
    ("tok_ts", "ARRAY<BIGINT>", lambda: Types.BASIC_ARRAY(Types.LONG())),
    ("basket_items", "ARRAY<STRING>", lambda: Types.BASIC_ARRAY(Types.STRING())),
    ("basket_offsets", "ARRAY<BIGINT>", lambda: Types.BASIC_ARRAY(Types.LONG())),
    ("basket_stores", "ARRAY<STRING>", lambda: Types.BASIC_ARRAY(Types.STRING())),
    ("seq_len", "BIGINT", lambda: Types.LONG()),
    ("last_ts", "BIGINT", lambda: Types.LONG()),
]
INSTORE_COLUMNS: list[tuple[str, str, Any]] = [
    ("store_visits", "BIGINT", lambda: Types.LONG()),
    ("store_items", "BIGINT", lambda: Types.LONG()),
    ("mean_basket_size", "DOUBLE", lambda: Types.DOUBLE()),
    ("last_store_id", "STRING", lambda: Types.STRING()),
    ("last_store_ts", "BIGINT", lambda: Types.LONG()),
]
WINDOW_COLUMNS = ["n_view", "n_click", "n_add_to_cart", "n_purchase", "n_events", "last_online_ts"]


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


def operator_cfg(cfg: PipelineSettings, online_uri: str) -> dict[str, Any]:
    """The plain dict the Python operators get (pickled into the job)."""
    return {
        "online_uri": online_uri,
        "metrics_dir": str((cfg.pipeline_dir / "metrics").resolve()),
        "seq_views": dict(cfg.seq_views),
        "instore_view": cfg.instore_view,
        "max_len": cfg.max_seq_len,
        "dedup_ttl_ms": cfg.dedup_ttl_ms,
        "state_ttl_days": cfg.state_ttl_days,
        "flush_ms": cfg.redis_flush_ms,
        "batch_rows": cfg.redis_batch_rows,
    }


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
    t_env: StreamTableEnvironment, raw: Table, cfg: PipelineSettings
) -> tuple[DataStream, DataStream]:
    """Kafka rows -> (behaviour rows, dead letters)."""
    stream = t_env.to_data_stream(raw)
    metrics_dir = str((cfg.pipeline_dir / "metrics").resolve())
    events = stream.process(fn.ValidateEvents(metrics_dir), output_type=fn.BEHAVIOUR_TYPE).uid("validate")
    return events, events.get_side_output(fn.DLQ_TAG)


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
    drops = t_env.to_data_stream(t_env.from_path("instore_drops"))
    return drops.map(fn.basket_row, output_type=fn.BEHAVIOUR_TYPE).uid("baskets")


def offline_tags(cfg: PipelineSettings) -> dict[str, OutputTag]:
    """Side-output tags of the offline rows. Type infos are built fresh: the tags are pickled into the operator,
    and a type info an earlier job in this process used holds an unpicklable py4j reference."""
    seq_type = Types.ROW_NAMED(
        ["user_id", *[c for c, _, _ in SEQ_COLUMNS], "event_ts", "created_ts"],
        [Types.STRING(), *[t() for _, _, t in SEQ_COLUMNS], Types.LONG(), Types.LONG()],
    )
    store_type = Types.ROW_NAMED(
        ["user_id", *[c for c, _, _ in INSTORE_COLUMNS], "event_ts", "created_ts"],
        [Types.STRING(), *[t() for _, _, t in INSTORE_COLUMNS], Types.LONG(), Types.LONG()],
    )
    tags = {view: OutputTag(f"offline_{view}", seq_type) for view in cfg.seq_views}
    tags[cfg.instore_view] = OutputTag(f"offline_{cfg.instore_view}", store_type)
    return tags


def build_hybrid(
    behaviours: DataStream, cfg: PipelineSettings, online_uri: str, with_offline: bool
) -> tuple[DataStream, dict[str, DataStream]]:
    """Behaviours keyed by user -> (clean online events, {view: offline rows})."""
    tags = offline_tags(cfg) if with_offline else {}
    clean = (
        behaviours.key_by(lambda r: r[0], key_type=Types.STRING())
        .process(fn.HybridFeatures(operator_cfg(cfg, online_uri), tags), output_type=fn.CLEAN_EVENT_TYPE)
        .uid("hybrid")
    )
    return clean, {view: clean.get_side_output(tag) for view, tag in tags.items()}


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
    for view, table in tables.items():
        t_env.create_temporary_view(f"w_{view}", table)
    return tables


def window_table(t_env: StreamTableEnvironment, spec: WindowSpec) -> Table:
    sql = render_sql(
        "window_agg", events_view="clean_events", slide_s=spec.slide_ms // 1000, size_s=spec.size_ms // 1000
    )
    if spec.slide_ms % 1000 or spec.size_ms % 1000:
        raise ValueError(f"window {spec.view}: size and slide must be whole seconds")
    return t_env.sql_query(sql)


def build_window_writer(
    t_env: StreamTableEnvironment, windows: dict[str, Table], cfg: PipelineSettings, online_uri: str
) -> None:
    """Window rows of every view -> the online store (keyed by user, coalesced)."""
    union: Table | None = None
    for view in windows:
        cols = ", ".join(WINDOW_COLUMNS)
        tagged = t_env.sql_query(f"SELECT '{view}' AS `view`, user_id, {cols} FROM `w_{view}`")
        union = tagged if union is None else union.union_all(tagged)
    if union is None:
        return
    rows = t_env.to_data_stream(union)  # Rows of (view, user_id, counts..., last_online_ts)
    writer = fn.WindowWriter(operator_cfg(cfg, online_uri))
    written = rows.key_by(lambda r: r[1], key_type=Types.STRING()).process(writer).uid("window-writer")
    written.print()  # emits nothing; a sink keeps the operator in the graph


def build_offline_sinks(
    t_env: StreamTableEnvironment,
    stmts: StatementSet,
    cfg: PipelineSettings,
    side: dict[str, DataStream],
    windows: dict[str, Table],
) -> None:
    """Every view -> ``<offline_dir>/<view>/date=YYYY-MM-DD/`` (Parquet, committed on checkpoints)."""
    for view, stream in side.items():
        cols = SEQ_COLUMNS if view in cfg.seq_views else INSTORE_COLUMNS
        t_env.create_temporary_view(f"side_{view}", t_env.from_data_stream(stream))
        _offline_table(t_env, cfg, view, [(c, s) for c, s, _ in cols])
        names = ", ".join(f"`{c}`" for c, _, _ in cols)
        stmts.add_insert_sql(_offline_insert(view, names, f"side_{view}", "event_ts", "created_ts"))
    for view in windows:
        _offline_table(t_env, cfg, view, [(c, "BIGINT") for c in WINDOW_COLUMNS])
        names = ", ".join(WINDOW_COLUMNS)
        created = "CAST(UNIX_TIMESTAMP() AS BIGINT) * 1000"
        stmts.add_insert_sql(_offline_insert(view, names, f"w_{view}", "last_online_ts", created))


def _offline_table(
    t_env: StreamTableEnvironment, cfg: PipelineSettings, view: str, cols: list[tuple[str, str]]
) -> None:
    t_env.execute_sql(
        render_sql(
            "offline_sink",
            table=f"offline_{view}",
            columns=",\n  ".join(f"`{c}` {sql_type}" for c, sql_type in cols),
            path=(cfg.dir("offline") / view).resolve().as_uri(),
            rollover=f"{cfg.offline_rollover_s} s",
        )
    )


def _offline_insert(view: str, names: str, source: str, event_ms: str, created_ms: str) -> str:
    ts = f"CAST(TO_TIMESTAMP_LTZ({event_ms}, 3) AS TIMESTAMP(3))"
    return (
        f"INSERT INTO `offline_{view}` SELECT user_id, {names}, {ts}, "
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
    stmts = t_env.create_statement_set()
    events, dlq = build_validation(t_env, build_kafka_source(t_env, cfg), cfg)
    behaviours = events.union(build_instore_source(t_env, cfg))
    clean, side = build_hybrid(behaviours, cfg, online_uri, cfg.offline_enabled)
    windows = build_windows(t_env, clean, cfg)
    build_window_writer(t_env, windows, cfg, online_uri)
    build_dlq_sink(t_env, stmts, dlq, cfg)
    if cfg.offline_enabled:
        build_offline_sinks(t_env, stmts, cfg, side, windows)
    return stmts
