"""``omniseq bench pipeline --events N``: simulator -> Kafka -> the Flink feature job -> Redis.

Measured in one run, on processes this benchmark starts (Kafka, Redis, the local Flink mini-cluster, or with
``--session-cluster P`` a Flink session cluster of P slots running both jobs at parallelism P):

* ``produce_events_per_s``: kafka-python replay of the simulator's online events (preloaded before the jobs start);
* ``baseline``: a plain Flink SQL HOP-window job (Kafka JSON -> count per user -> blackhole,
  :mod:`bench._pipeline_baseline`) draining the same backlog first; ``ratio_to_baseline`` = product / baseline;
* ``sustained_events_per_s``: the job draining that backlog (events counted by the keyed operator; the rate between
  10 % and 90 % of the backlog, so start-up and tail are excluded); over that same interval, per job vertex
  (operator chain) ``busy_us_per_event`` and ``busy_ms_per_s`` (Flink's accumulated busy time: CPU plus waiting
  inside the operator, e.g. for a core on a loaded machine or for Redis) and per process ``cpu_us_per_event``
  (CPU seconds of the Flink JVM(s), the broker and Redis per event) — see :mod:`bench._pipeline_metrics`;
* freshness: then events are produced at ``--rate`` (default: half the sustained rate); for probe events, the time
  from ``send()`` to the user's ``user_hybrid_seq_v1`` row in Redis containing the event (p50 / p99 / max);
* ``events_lost``: produced valid events minus events the job counted (new + duplicates), and users whose Redis
  sequence does not end with their newest event.

Writes ``bench/results/pipeline.json`` (``pipeline_p<P>.json`` with ``--session-cluster P``; with the time series
``throughput_timeline`` and ``freshness_timeline``) and its figure (:func:`bench.plots.plot_pipeline`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench._pipeline_baseline import run_baseline
from bench._pipeline_metrics import Drain, flink_jvm_pids, running_job
from bench.plots import plot_pipeline
from omniseq.data import load
from omniseq.features.online import RedisOnlineStore
from omniseq.infra.flink_cluster import FlinkSessionCluster
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
# the session cluster: REST metrics refreshed every 100 ms (the baseline drains in seconds), room for both jobs' state
SESSION_CONFIG = {"metrics.fetcher.update-interval": "100 ms", "taskmanager.memory.process.size": "2048m"}


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


def _drain(
    cfg: PipelineSettings,
    target: int,
    rest_url: str,
    pids: Callable[[], dict[str, list[int]]],
    timeout_s: float,
) -> dict[str, Any]:
    t0 = time.monotonic()
    drain = Drain(lambda: _processed(cfg), target, rest_url, lambda: running_job(rest_url), pids, poll_s=0.2)
    drain.run(timeout_s)
    samples = drain.samples
    first = next((t for t, n in samples if n > 0), samples[-1][0])
    return {
        **drain.report(),
        "drain_s": round(samples[-1][0] - first, 2),
        "startup_to_first_event_s": round(first - t0, 2),
        "throughput_timeline": [[round(t - t0, 2), n] for t, n in samples[:: -(-len(samples) // 600)]],
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
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [float("nan")] * 99
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


@contextlib.contextmanager
def _stack(
    run_dir: Path, session_parallelism: int
) -> Iterator[tuple[PipelineSettings, dict[str, list[int]]]]:
    """Kafka, Redis and (``session_parallelism`` > 0) a Flink session cluster with that many slots; the settings
    that point at them and the processes whose CPU is measured."""
    stack = isolated_settings(run_dir)
    with contextlib.ExitStack() as stop:
        broker = KafkaBroker(stack).start()
        stop.callback(broker.stop)
        redis_srv = RedisServer(stack).start()
        stop.callback(redis_srv.stop)
        broker.create_topics([stack.clickstream_topic, stack.dlq_topic])
        cfg = PipelineSettings(**{k: v for k, v in stack.model_dump().items() if v is not None})
        pids = {"kafka_broker": [broker.pid or 0], "redis": [redis_srv.pid or 0]}
        if session_parallelism:
            cluster = FlinkSessionCluster(stack, slots=session_parallelism, config=SESSION_CONFIG).start()
            stop.callback(cluster.stop)
            cfg = cfg.model_copy(
                update={"flink_target": cluster.target, "flink_parallelism": session_parallelism}
            )
            pids["flink_taskmanager"] = cluster.pids()[1:]
            pids["flink_jobmanager"] = cluster.pids()[:1]
        else:
            pids[
                "flink_jvm"
            ] = []  # the gateway JVM hosting the mini-cluster: found once started (_with_gateway)
        yield cfg, pids


def _parser() -> argparse.ArgumentParser:
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
        "--snapshots",
        action="store_true",
        help="offline: also the per-behaviour view snapshots (off by default: the behaviour log only)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the HOP-window baseline job")
    p.add_argument(
        "--session-cluster",
        type=int,
        default=0,
        metavar="P",
        help="run both jobs on a Flink session cluster (JobManager + TaskManager) with P slots, parallelism P "
        "(the scale-out path); default: the product's local mini-cluster. Output default: pipeline_p<P>.json",
    )
    p.add_argument("--out", type=Path, default=None, help=f"default: {RESULTS}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out: Path = args.out or (
        RESULTS.with_name(f"pipeline_p{args.session_cluster}.json") if args.session_cluster else RESULTS
    )
    users = args.users or max(100, (args.events + args.fresh_events) // 50)
    evs = _events(args.events + args.fresh_events, users)
    backlog, live = evs[: args.events], evs[args.events :]
    with (
        tempfile.TemporaryDirectory(prefix="bench-pipeline-", ignore_cleanup_errors=True) as tmp,
        _stack(Path(tmp), args.session_cluster) as (cfg, pids),
    ):
        result = _run(cfg, backlog, live, args, pids)
    result["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    result["config"] = {"events": args.events, "users": users, "offline": not args.no_offline,
                        "offline_snapshots": cfg.offline_enabled and cfg.offline_snapshots,
                        "flink_target": "session cluster" if args.session_cluster else "local mini-cluster",
                        "parallelism": cfg.flink_parallelism, "redis_flush_ms": cfg.redis_flush_ms,
                        "fresh_events": args.fresh_events, "command": "omniseq bench pipeline " + " ".join(
                            argv if argv is not None else sys.argv[1:])}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_timeline")}, indent=2))
    print(f"wrote {out} and {plot_pipeline(result, out.with_suffix('.png'))}")
    return 0 if result["events_lost"] == 0 else 1


def _run(
    cfg: PipelineSettings, backlog: list[OnlineEvent], live: list[OnlineEvent], args: Any,
    pids: dict[str, list[int]],
) -> dict[str, Any]:  # fmt: skip
    cfg = cfg.model_copy(
        update={
            "offline_enabled": not args.no_offline,
            "offline_snapshots": args.snapshots or cfg.offline_snapshots,
        }
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
        result["baseline"] = run_baseline(cfg, jars, len(backlog), _with_gateway(pids))
        _log(f"baseline: {result['baseline']}")
    rest_port = free_port()
    rest_url = (
        f"http://127.0.0.1:{rest_port}" if cfg.flink_target == "local" else f"http://{cfg.flink_target}"
    )
    job = start(cfg, cfg.redis_url, jars, resume=False, rest_port=rest_port)
    try:
        result.update(_drain(cfg, len(backlog), rest_url, _with_gateway(pids), timeout_s=900))
        _log(f"drained the backlog: {_brief(result)}")
        if result.get("baseline", {}).get("sustained_events_per_s"):
            ratio = result["sustained_events_per_s"] / result["baseline"]["sustained_events_per_s"]
            result["ratio_to_baseline"] = round(ratio, 3)
        # freshness is measured under a load the job keeps up with (a backlog would only measure queueing)
        rate = args.rate or max(100.0, round(0.5 * result["sustained_events_per_s"]))
        result.update(_freshness(cfg, live, rate, args.probes))
        _log(f"freshness phase done: {_brief(result)}")
        deadline = time.monotonic() + 60
        while _processed(cfg) < len(backlog) + len(live) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2 * cfg.redis_flush_ms / 1000 + 0.5)
        result.update(_lost(cfg, backlog + live))
    finally:
        job.stop(None)
    return result


def _with_gateway(pids: dict[str, list[int]]) -> Callable[[], dict[str, list[int]]]:
    """``pids`` with the local gateway JVM (started by the first Flink environment) filled in when asked."""
    others = {k: v for k, v in pids.items() if k != "flink_jvm"}
    return lambda: {**pids, "flink_jvm": flink_jvm_pids(others)} if "flink_jvm" in pids else pids


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.endswith("_timeline")}


if __name__ == "__main__":
    raise SystemExit(main())
