"""``omniseq pipeline``: run the PyFlink feature job (local mini-cluster or a session cluster) until
interrupted, or print its counters."""

from __future__ import annotations

import argparse
import json

from pipeline.config import PipelineSettings
from pipeline.runner import main
from pipeline.sinks import prometheus_text, read_counters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--online", default=None, help="online sink URI (default: the stack's Redis)")
    parser.add_argument(
        "--jar", action="append", default=[], help="override the Flink jars (default: ensure_jars)"
    )
    parser.add_argument("--fresh", action="store_true", help="ignore retained checkpoints/savepoints")
    parser.add_argument("--duration-s", type=float, default=0, help="stop with a savepoint after N seconds")
    parser.add_argument(
        "--metrics", choices=["json", "prometheus"], default=None, help="print the job's counters and exit"
    )


def run(args: argparse.Namespace) -> int:
    if args.metrics:
        cfg = PipelineSettings()
        counts = read_counters(cfg.pipeline_dir / "metrics")
        status_file = cfg.pipeline_dir / "job_status.json"
        status = json.loads(status_file.read_text()) if status_file.is_file() else {"state": "UNKNOWN"}
        if args.metrics == "json":
            print(json.dumps({**counts, "job_state": status["state"]}, indent=2))
        else:
            state = f'omniseq_pipeline_job_state{{state="{status["state"]}"}} 1'
            print(prometheus_text(counts) + f"# TYPE omniseq_pipeline_job_state gauge\n{state}")
        return 0

    argv = [*(["--online", args.online] if args.online else []), *[f"--jar={j}" for j in args.jar]]
    argv += [*(["--fresh"] if args.fresh else []), f"--duration-s={args.duration_s}"]
    return main(argv)
