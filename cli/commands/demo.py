"""``omniseq demo``: the whole loop end to end on local processes (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
from typing import Any

from lifecycle.demo import DemoSettings, run_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", default=None, help="simulator (default), hm, sim:<dir>, ... (OMNISEQ_DEMO_DATASET)"
    )
    parser.add_argument("--users", type=int, default=None, help="simulator users (OMNISEQ_DEMO_USERS)")
    parser.add_argument("--retrain", action="store_true", help="train even if a champion exists")
    parser.add_argument("--exit", action="store_true", help="stop after the demo requests instead of waiting")


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.dataset:
        overrides["dataset"] = args.dataset
    if args.users:
        overrides["users"] = args.users
    if args.retrain:
        overrides["retrain"] = True
    if args.exit:
        overrides["stay_up"] = False
    return run_demo(DemoSettings(**overrides))
