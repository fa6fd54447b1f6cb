"""``omniseq up``: start Kafka (KRaft) and Redis as local processes (Flink jars resolved and checked).

Foreground by default: Ctrl-C (or SIGTERM) stops everything. ``--detach`` leaves the processes running with pid
files under ``<run_dir>/pids``; ``omniseq down`` stops them. Settings come from ``OMNISEQ_*`` variables
(or ``--config`` YAML with the same keys).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from omniseq.infra.process import InfraError, read_pids
from omniseq.infra.stack import LocalStack, describe, print_error
from omniseq.settings import StackSettings

if TYPE_CHECKING:
    from omniseq.settings import StackSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detach", action="store_true", help="start, write pid files and return")
    parser.add_argument("--config", help="YAML file with StackSettings keys (env OMNISEQ_* still override)")
    parser.add_argument("--no-kafka", action="store_true", help="do not start Kafka")
    parser.add_argument("--no-redis", action="store_true", help="do not start Redis")
    parser.add_argument(
        "--flink-session",
        action="store_true",
        help="also start a local Flink session cluster (JobManager + TaskManager); prints its OMNISEQ_FLINK_TARGET",
    )


def load_settings(config: str | None) -> StackSettings:
    """StackSettings from ``--config`` (YAML) or the environment alone."""
    settings = StackSettings.from_yaml(config) if config else StackSettings()
    assert isinstance(settings, StackSettings)
    return settings


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    running = read_pids(settings.run_dir)
    if running:
        print(f"note: pid files exist in {settings.run_dir}/pids ({running}); 'omniseq down' stops those")
    stack = LocalStack(
        settings, kafka=not args.no_kafka, redis=not args.no_redis, flink_session=args.flink_session
    )
    try:
        stack.start()
        print(describe(stack), flush=True)
        if args.detach:
            stack.detach()
            print("detached; stop with 'omniseq down'")
            return 0
        print("running; Ctrl-C stops everything", flush=True)
        stack.wait()
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
    except InfraError as exc:
        print_error(exc)
        return 1
    finally:
        stack.stop()
    return 0
