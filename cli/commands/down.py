"""``omniseq down``: stop the processes that ``omniseq up`` started, found through ``<run_dir>/pids/*.pid``."""

from __future__ import annotations

import argparse

from cli.commands.up import load_settings
from omniseq.infra.stack import stop_from_pid_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file with StackSettings keys (env OMNISEQ_* still override)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait before SIGKILL")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    result = stop_from_pid_files(settings.run_dir, timeout=args.timeout)
    if not result:
        print(f"nothing to stop (no pid files in {settings.run_dir}/pids)")
    for name, what in result.items():
        print(f"{name}: {what}")
    return 0
