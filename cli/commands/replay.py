"""``omniseq replay``: stream a dataset (or the simulator) into Kafka; in-store baskets become Parquet drops."""

from __future__ import annotations

import argparse
import json

from omniseq.data import load
from omniseq.schema import sort_key
from pipeline.config import PipelineSettings
from pipeline.producer import DropScheduler, Pacer, Replayer, kafka_producer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a dataset name of omniseq.data.load (e.g. hm, sim:<dir>, simulator)")
    parser.add_argument("--root", default=None, help="datasets folder (default: ../shared/data)")
    parser.add_argument("--users", type=int, default=None, help="simulator: number of users")
    parser.add_argument(
        "--limit", type=int, default=None, help="replay only the first N behaviours (time order)"
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speedup", type=float, default=None, help="event time runs this many times wall time")
    pace.add_argument("--rate", type=float, default=None, help="fixed online events per second")
    parser.add_argument("--drop-interval-min", type=float, default=60.0, help="event-time minutes per drop")
    parser.add_argument("--drop-delay-min", type=float, default=0.0, help="drops land this late (event time)")
    parser.add_argument("--malformed-every", type=int, default=0, help="inject a malformed message every N")
    parser.add_argument("--duplicate-every", type=int, default=0, help="re-send every N-th event")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    cfg = PipelineSettings()
    opts = {"users": args.users} if args.users is not None else {}
    dataset = load(args.dataset, args.root, **opts)
    behaviours = sorted(dataset.behaviours(), key=sort_key)[: args.limit]
    drops = DropScheduler(
        cfg.dir("landing"), int(args.drop_interval_min * 60_000), int(args.drop_delay_min * 60_000)
    )
    producer = kafka_producer(cfg.kafka_bootstrap)
    try:
        stats = Replayer(producer, cfg.clickstream_topic, drops).run(
            behaviours,
            Pacer(args.speedup, args.rate),
            malformed_every=args.malformed_every,
            duplicate_every=args.duplicate_every,
            total=len(behaviours),
            progress=not args.no_progress,
        )
    finally:
        producer.close()
    print(json.dumps(stats.summary(), indent=2))
    for err in stats.errors:
        print("error:", err)
    return 1 if stats.failed else 0
