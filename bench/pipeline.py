"""``omniseq bench pipeline --events N``: simulator -> Kafka -> the Flink feature job -> Redis.

Measured in one run, on processes this benchmark starts (Kafka, Redis, the local Flink mini-cluster):

* ``produce_events_per_s``: kafka-python replay of the simulator's online events (preloaded before the job starts);
* ``baseline``: a plain Flink SQL HOP-window job (Kafka JSON -> count per user -> blackhole,
  :mod:`bench._pipeline_baseline`) draining the same backlog first; ``ratio_to_baseline`` = product / baseline;
* ``sustained_events_per_s``: the job draining that backlog (events counted by the keyed operator, between 10 %
  and 90 % of the backlog, so start-up is excluded); ``busy_ms_per_s`` per job vertex says where the time goes,
  ``busy_us_per_event`` the same per event (busy time, a bound on CPU time, of each operator chain);
* freshness: then events are produced at ``--rate`` (default: half the sustained rate); for probe events, the time from ``send()`` to the user's
  ``user_hybrid_seq_v1`` row in Redis containing the event (p50 / p99 / max);
* ``events_lost``: produced valid events minus events the job counted (new + duplicates), and users whose Redis
  sequence does not end with their newest event.

Writes ``bench/results/pipeline.json`` (with the time series ``throughput_timeline`` and ``freshness_timeline``) and
its figure ``pipeline.png`` (:func:`bench.plots.plot_pipeline`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._pipeline_baseline import drain_rate, rest_get, run_baseline, vertex_busy
from bench.plots import plot_pipeline
from omniseq.data import load
from omniseq.features.online import RedisOnlineStore
from omniseq.infra.kafka import KafkaBroker
from omniseq.infra.process import free_port
from omniseq.infra.redis import RedisServer
from omniseq.infra.stack import isolated_settings
from omniseq.schema import OnlineEvent, sort_key
from pipeline.config import PipelineSettings
from pipeline.producer import Pacer, Replayer, kafka_producer
from pipeline.runner import resolve_jars, start
from pipeline.sinks import read_counters

RESULTS = Path(__file__).parent / "results" / "pipeline.json"


def _events(n: int, users: int) -> list[OnlineEvent]:

    evs = [b for b in load("simulator", users=users).behaviours() if isinstance(b, OnlineEvent)]
    evs.sort(key=sort_key)
    if len(evs) < n:
        raise SystemExit(f"the simulator gave {len(evs)} online events for {users} users; raise --users")
    return evs[:n]


def _log(msg: str) -> None:
    print(f"[bench pipeline {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _processed(cfg: PipelineSettings) -> int:
    c = read_counters(cfg.pipeline_dir / "metrics")
    return c.get("events", 0) + c.get("duplicate_events", 0)


def _vertex_busy(rest_port: int) -> dict[str, float]:
    """busyTimeMsPerSecond per job vertex (summed over subtasks) of the running job."""
    url = f"http://127.0.0.1:{rest_port}"
    try:
        job = next(j["id"] for j in rest_get(url, "/jobs")["jobs"] if j["status"] == "RUNNING")
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        return {f"error: {str(exc)[:80]}": float("nan")}
    return vertex_busy(url, job)


def _drain(cfg: PipelineSettings, target: int, rest_port: int, timeout_s: float) -> dict[str, Any]:
    samples: list[tuple[float, int]] = []
    busy: dict[str, float] = {}
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        n = _processed(cfg)
        samples.append((time.monotonic(), n))
        if not busy and n >= target // 2:
            busy = _vertex_busy(rest_port)
        if n >= target:
            break
        time.sleep(0.2)
    rate = drain_rate(samples, target)
    first = next((t for t, n in samples if n > 0), samples[-1][0])
    return {
        "sustained_events_per_s": round(rate),
        "drain_s": round(samples[-1][0] - first, 2),
        "startup_to_first_event_s": round(first - t0, 2),
        "processed": samples[-1][1],
        "busy_ms_per_s": busy,
        "throughput_timeline": [[round(t - t0, 2), n] for t, n in samples[:: -(-len(samples) // 600)]],
        "busy_us_per_event": {k: round(v * 1000 / rate, 2) for k, v in busy.items()} if rate else {},
    }


class FreshnessProbe:
    """Polls Redis for probe events until each user's sequence contains it."""

    def __init__(self, redis_url: str, view: str) -> None:

        self.store, self.view = RedisOnlineStore.from_url(redis_url), view
        self.pending: dict[str, tuple[OnlineEvent, float]] = {}
        self.latencies: list[float] = []
        self.timeline: list[tuple[float, float]] = []  # (send time, seconds to Redis) per probe
        self.lock = threading.Lock()
        self.done = threading.Event()
        self._done_at = 0.0

    def add(self, e: OnlineEvent, sent_at: float) -> None:
        with self.lock:
            self.pending[e.event_id] = (e, sent_at)

    def run(self) -> None:
        while not self.done.is_set() or self.pending:
            with self.lock:
                probes = list(self.pending.values())
            if probes:
                rows = self.store.read(self.view, [e.user_id for e, _ in probes], ["tok_ts", "tok_items"])
                now = time.time()
                for (e, sent), row in zip(probes, rows, strict=True):
                    if row and any(
                        t == e.ts_ms and i == e.item_id
                        for t, i in zip(row["tok_ts"], row["tok_items"], strict=True)
                    ):
                        self.latencies.append(now - sent)
                        self.timeline.append((sent, now - sent))
                        with self.lock:
                            del self.pending[e.event_id]
            time.sleep(0.005)
            if self.done.is_set() and time.time() - self._done_at > 30:
                break

    def finish(self) -> None:
        self._done_at = time.time()
        self.done.set()


def _freshness(cfg: PipelineSettings, events: list[OnlineEvent], rate: float, probes: int) -> dict[str, Any]:

    probe = FreshnessProbe(cfg.redis_url, "user_hybrid_seq_v1")
    every = max(1, len(events) // probes)
    tracked = {e.event_id for e in events[::every]}
    producer = kafka_producer(cfg.kafka_bootstrap, linger_ms=0)
    rep = Replayer(producer, cfg.clickstream_topic)

    def track(e: OnlineEvent) -> bool:
        if e.event_id in tracked:
            probe.add(e, time.time())
        return False

    thread = threading.Thread(target=probe.run, daemon=True)
    thread.start()
    t0, started = time.monotonic(), time.time()
    rep.run(events, Pacer(rate=rate), track=track, progress=False)
    produce_s = time.monotonic() - t0
    probe.finish()
    thread.join(timeout=60)
    producer.close()
    lat = sorted(probe.latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {
        "rate_target_events_per_s": rate,
        "rate_achieved_events_per_s": round(len(events) / produce_s),
        "probes": len(tracked),
        "probes_seen": len(lat),
        "freshness_p50_ms": round(q[49] * 1000, 1),
        "freshness_p99_ms": round(q[98] * 1000, 1),
        "freshness_max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "freshness_timeline": [
            [round(sent - started, 3), round(d * 1000, 1)] for sent, d in sorted(probe.timeline)
        ],
    }


def _lost(cfg: PipelineSettings, events: list[OnlineEvent]) -> dict[str, Any]:

    newest: dict[str, OnlineEvent] = {}
    for e in events:
        newest[e.user_id] = e
    store = RedisOnlineStore.from_url(cfg.redis_url)
    users = sorted(newest)
    rows = store.read("user_hybrid_seq_v1", users, ["last_ts"])
    stale = sum(1 for u, r in zip(users, rows, strict=True) if not r or r["last_ts"] != newest[u].ts_ms)
    return {
        "events_lost": len(events) - _processed(cfg),
        "users_with_stale_sequence": stale,
        "users": len(users),
    }


def _stack(run_dir: Path) -> tuple[Any, Any, PipelineSettings, int]:
    stack = isolated_settings(run_dir)
    broker, redis_srv = KafkaBroker(stack).start(), RedisServer(stack).start()
    broker.create_topics([stack.clickstream_topic, stack.dlq_topic])
    cfg = PipelineSettings(**{k: v for k, v in stack.model_dump().items() if v is not None})
    return broker, redis_srv, cfg, free_port()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="omniseq bench pipeline", description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=200_000, help="events preloaded for the throughput phase")
    p.add_argument("--users", type=int, default=0, help="simulated users (default: events / 60)")
    p.add_argument("--fresh-events", type=int, default=20_000, help="events of the freshness phase")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="events/s of the freshness phase (default: half the sustained rate)",
    )
    p.add_argument("--probes", type=int, default=300, help="probe events whose freshness is measured")
    p.add_argument("--no-offline", action="store_true", help="disable the Parquet offline sinks")
    p.add_argument(
        "--no-snapshots",
        action="store_true",
        help="offline: the behaviour log only, no per-event view snapshots",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the HOP-window baseline job")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    users = args.users or max(100, (args.events + args.fresh_events) // 50)
    evs = _events(args.events + args.fresh_events, users)
    backlog, live = evs[: args.events], evs[args.events :]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-", ignore_cleanup_errors=True) as tmp:
        broker, redis_srv, cfg, rest_port = _stack(Path(tmp))
        try:
            result = _run(cfg, backlog, live, args, rest_port)
        finally:
            redis_srv.stop()
            broker.stop()
    result["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    result["config"] = {"events": args.events, "users": users, "offline": not args.no_offline,
                        "offline_snapshots": not (args.no_offline or args.no_snapshots),
                        "parallelism": cfg.flink_parallelism, "redis_flush_ms": cfg.redis_flush_ms,
                        "fresh_events": args.fresh_events, "command": "omniseq bench pipeline " + " ".join(
                            argv if argv is not None else sys.argv[1:])}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_timeline")}, indent=2))
    print(f"wrote {args.out} and {plot_pipeline(result, args.out.with_suffix('.png'))}")
    return 0 if result["events_lost"] == 0 else 1


def _run(
    cfg: PipelineSettings, backlog: list[OnlineEvent], live: list[OnlineEvent], args: Any, rest_port: int
) -> dict[str, Any]:

    cfg = cfg.model_copy(
        update={"offline_enabled": not args.no_offline, "offline_snapshots": not args.no_snapshots}
    )
    jars = resolve_jars(cfg)
    producer = kafka_producer(cfg.kafka_bootstrap)
    t0 = time.monotonic()
    stats = Replayer(producer, cfg.clickstream_topic).run(backlog, total=len(backlog))
    producer.close()
    result: dict[str, Any] = {"produce_events_per_s": round(len(backlog) / (time.monotonic() - t0))}
    result["acknowledged"], result["failed"] = stats.acknowledged, stats.failed
    result["load_average_1m_start"] = round(os.getloadavg()[0], 2)
    if not args.no_baseline:
        result["baseline"] = run_baseline(cfg, jars, len(backlog))
        _log(f"baseline: {result['baseline']}")
    job = start(cfg, cfg.redis_url, jars, resume=False, rest_port=rest_port)
    try:
        result.update(_drain(cfg, len(backlog), rest_port, timeout_s=600))
        _log(f"drained the backlog: {result}")
        if "baseline" in result and result["baseline"]["sustained_events_per_s"]:
            ratio = result["sustained_events_per_s"] / result["baseline"]["sustained_events_per_s"]
            result["ratio_to_baseline"] = round(ratio, 3)
        # freshness is measured under a load the job keeps up with (a backlog would only measure queueing)
        rate = args.rate or max(100.0, round(0.5 * result["sustained_events_per_s"]))
        result.update(_freshness(cfg, live, rate, args.probes))
        _log(f"freshness phase done: {result}")
        deadline = time.monotonic() + 60
        while _processed(cfg) < len(backlog) + len(live) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2 * cfg.redis_flush_ms / 1000 + 0.5)
        result.update(_lost(cfg, backlog + live))
    finally:
        job.stop(None)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
