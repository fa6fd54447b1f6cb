"""The job's keyed part on a local Flink mini-cluster fed from a list of behaviours instead of Kafka: the job's own
environment (:func:`pipeline.runner.flink_config`) and its own ``build_*`` steps, run to the end of the input."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pyflink.common import Row, Types
from pyflink.datastream import DataStream

from feature_repo.views import BASKET_CODE, EVENT_TYPE_CODES
from omniseq.features.behaviour_log import LOG_COLUMNS
from omniseq.infra.flink import stream_env
from omniseq.schema import Behaviour, StoreTransaction
from pipeline import job
from pipeline.config import PipelineSettings
from pipeline.runner import flink_config, resolve_jars

# the behaviour layout of the keyed operator (omniseq.flink.Records.BEHAVIOUR_FIELDS = the behaviour log's columns)
BEHAVIOUR_TYPE = Types.ROW_NAMED(
    list(LOG_COLUMNS),
    [Types.STRING(), Types.STRING(), Types.INT(), Types.STRING(), Types.LONG(),
     Types.BASIC_ARRAY(Types.STRING()), Types.STRING(), Types.LONG()],
)  # fmt: skip


def job_jars() -> list[str]:
    """The job's jars as file URIs (``OMNISEQ_TEST_FLINK_JARS=dir`` overrides ``ensure_jars``)."""
    override = os.environ.get("OMNISEQ_TEST_FLINK_JARS")
    if override:
        return [p.resolve().as_uri() for p in sorted(Path(override).glob("*.jar"))]
    return resolve_jars(PipelineSettings())


def behaviour_row(b: Behaviour) -> Row:
    """One behaviour in the keyed operator's layout (the fields of ``LOG_COLUMNS``, arrival stamped by the job)."""
    if isinstance(b, StoreTransaction):
        fields = {"user_id": b.user_id, "key": b.txn_id, "type_code": BASKET_CODE, "item_id": "",
                  "ts_ms": b.ts_ms, "items": list(b.items), "store_id": b.store_id, "arrival_ms": None}  # fmt: skip
    else:
        fields = {"user_id": b.user_id, "key": b.event_id, "type_code": EVENT_TYPE_CODES[b.event_type],
                  "item_id": b.item_id, "ts_ms": b.ts_ms, "items": [], "store_id": "", "arrival_ms": None}  # fmt: skip
    return Row(*(fields[c] for c in LOG_COLUMNS))


def run_from_elements(
    cfg: PipelineSettings, history: Sequence[Behaviour], jars: list[str], with_windows: bool = True
) -> None:
    """Run the keyed operator (Redis views, the behaviour log and, with ``offline_snapshots``, the view rows) and, ``with_windows``, the
    window views on ``history`` until the input ends (every offline file committed)."""
    env, t_env = stream_env(flink_config(cfg, jars, None))
    stmts = t_env.create_statement_set()
    src = env.from_collection([behaviour_row(b) for b in history], type_info=BEHAVIOUR_TYPE)
    src = DataStream(src._j_data_stream.map(job._java().AsBehaviour()))
    op_cfg = job.operator_config(cfg, cfg.redis_url)
    clean, side = job.build_hybrid(src, cfg, op_cfg, with_offline=True)
    windows = job.build_windows(t_env, clean, cfg) if with_windows else {}
    if windows:
        job.build_window_writer(t_env, windows, cfg, op_cfg)
    job.build_offline_sinks(t_env, stmts, cfg, side, windows)
    stmts.attach_as_datastream()
    env.execute(cfg.job_name)
