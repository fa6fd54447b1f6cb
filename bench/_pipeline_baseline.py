"""The in-run baseline of ``omniseq bench pipeline``: a plain Flink SQL job on the same Kafka backlog and the same
mini-cluster settings — JSON decode, a HOP window (10 min, 1 min slide) counting events per user, blackhole sink.
Its drain rate is what Flink itself does on this machine; the product job is quoted as a ratio of it."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

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


def rest_get(rest_url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{rest_url}{path}", timeout=5) as r:
        return json.loads(r.read())


def source_records(rest_url: str, job_id: str) -> int:
    """Records the job's Kafka source vertex has read (REST vertex I/O metric ``read-records``; its
    ``write-records`` are the local window pre-aggregates, fewer than the events)."""
    job = rest_get(rest_url, f"/jobs/{job_id}")
    return sum(int(v["metrics"]["read-records"]) for v in job["vertices"] if v["name"].startswith("Source:"))


def drain_rate(samples: list[tuple[float, int]], target: int) -> float:
    """Events/s between 10 % and 90 % of ``target`` (start-up and the tail excluded)."""
    lo = next(((t, n) for t, n in samples if n >= 0.1 * target), samples[-1])
    hi = next(((t, n) for t, n in samples if n >= 0.9 * target), samples[-1])
    return (hi[1] - lo[1]) / (hi[0] - lo[0]) if hi[0] > lo[0] else 0.0


def run_baseline(
    cfg: PipelineSettings, jars: list[str], target: int, timeout_s: float = 600
) -> dict[str, Any]:
    """Run the HOP-window job over the topic's ``target`` events; its sustained events/s and busy time."""
    port = free_port()
    rest_url = f"http://127.0.0.1:{port}"
    conf = flink_config(cfg, jars, None, port)
    conf["pipeline.name"] = "bench-hop-baseline"
    conf["execution.checkpointing.dir"] = (cfg.pipeline_dir / "baseline-checkpoints").resolve().as_uri()
    _, t_env = stream_env(conf)
    t_env.execute_sql(SOURCE.format(topic=cfg.clickstream_topic, bootstrap=cfg.kafka_bootstrap))
    t_env.execute_sql(SINK)
    result = t_env.execute_sql(INSERT)
    client = result.get_job_client()
    job_id = str(client.get_job_id())
    samples: list[tuple[float, int]] = []
    busy: dict[str, float] = {}
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout_s:
            try:
                n = source_records(rest_url, job_id)
            except (OSError, KeyError, ValueError):
                n = 0
            samples.append((time.monotonic(), n))
            if not busy and n >= target // 2:
                busy = vertex_busy(rest_url, job_id)
            if n >= target:
                break
            time.sleep(0.2)
    finally:
        client.cancel().result()
    rate = drain_rate(samples, target)
    return {
        "sustained_events_per_s": round(rate),
        "processed": samples[-1][1],
        "busy_ms_per_s": busy,
        "busy_us_per_event": {k: round(v * 1000 / rate, 2) for k, v in busy.items()} if rate else {},
    }


def vertex_busy(rest_url: str, job_id: str) -> dict[str, float]:
    """busyTimeMsPerSecond per job vertex (summed over subtasks)."""
    out: dict[str, float] = {}
    try:
        for v in rest_get(rest_url, f"/jobs/{job_id}")["vertices"]:
            m = rest_get(
                rest_url,
                f"/jobs/{job_id}/vertices/{v['id']}/subtasks/metrics?get=busyTimeMsPerSecond&agg=sum",
            )
            out[v["name"][:120]] = round(float(m[0]["sum"]), 1) if m else float("nan")
    except (OSError, KeyError, ValueError, IndexError) as exc:
        out[f"error: {str(exc)[:80]}"] = float("nan")
    return out
