"""The in-run baseline of ``omniseq bench pipeline``: a plain Flink SQL job on the same Kafka backlog and the same
mini-cluster settings — JSON decode, a HOP window (10 min, 1 min slide) counting events per user, blackhole sink.
Its drain rate is what Flink itself does on this machine; the product job is quoted as a ratio of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bench._pipeline_metrics import Drain, rest_get
from omniseq.infra.flink import stream_env
from omniseq.infra.process import free_port
from pipeline.config import PipelineSettings
from pipeline.runner import flink_config

SOURCE = """
CREATE TEMPORARY TABLE hop_src (
  user_id STRING,
  ts_ms BIGINT,
  rowtime AS TO_TIMESTAMP_LTZ(ts_ms, 3),
  WATERMARK FOR rowtime AS rowtime - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}',
  'properties.group.id' = 'bench-hop-baseline', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json', 'json.ignore-parse-errors' = 'true'
)"""
SINK = "CREATE TEMPORARY TABLE hop_sink (user_id STRING, n BIGINT, window_end TIMESTAMP(3)) WITH ('connector' = 'blackhole')"
INSERT = """
INSERT INTO hop_sink
SELECT user_id, COUNT(*), window_end
FROM TABLE(HOP(TABLE hop_src, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE))
GROUP BY user_id, window_start, window_end"""


def source_records(rest_url: str, job_id: str) -> int:
    """Records the job's Kafka source vertex has read (REST vertex I/O metric ``read-records``; its
    ``write-records`` are the local window pre-aggregates, fewer than the events)."""
    job = rest_get(rest_url, f"/jobs/{job_id}")
    return sum(int(v["metrics"]["read-records"]) for v in job["vertices"] if v["name"].startswith("Source:"))


def run_baseline(
    cfg: PipelineSettings,
    jars: list[str],
    target: int,
    pids: Callable[[], Mapping[str, list[int]]],
    timeout_s: float = 600,
) -> dict[str, Any]:
    """Run the HOP-window job over the topic's ``target`` events (on ``cfg.flink_target``); its sustained
    events/s, busy time per operator and CPU per event of ``pids`` (see :class:`bench._pipeline_metrics.Drain`).
    The REST metrics are refreshed every 100 ms (Flink's default, 10 s, cannot resolve a drain of seconds)."""
    port = free_port()
    conf = flink_config(cfg, jars, None, port)
    conf["pipeline.name"] = "bench-hop-baseline"
    conf["execution.checkpointing.dir"] = (cfg.pipeline_dir / "baseline-checkpoints").resolve().as_uri()
    conf["metrics.fetcher.update-interval"] = "100 ms"
    rest_url = f"http://{cfg.flink_target}" if cfg.flink_target != "local" else f"http://127.0.0.1:{port}"
    _, t_env = stream_env(conf)
    t_env.execute_sql(SOURCE.format(topic=cfg.clickstream_topic, bootstrap=cfg.kafka_bootstrap))
    t_env.execute_sql(SINK)
    result = t_env.execute_sql(INSERT)
    client = result.get_job_client()
    job_id = str(client.get_job_id())

    def count() -> int:
        try:
            return source_records(rest_url, job_id)
        except (OSError, KeyError, ValueError):
            return 0

    try:
        drain = Drain(count, target, rest_url, lambda: job_id, pids).run(timeout_s)
    finally:
        client.cancel().result()
    return drain.report()
