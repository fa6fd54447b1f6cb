"""``omniseq data --dataset NAME [--root DIR]``: print a dataset adapter's summary as a table (or JSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from omniseq.data import NAMES, Summary, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(NAMES)}")
    parser.add_argument("--root", type=Path, default=None, help="datasets folder (default ../shared/data)")
    parser.add_argument("--users", type=int, default=None, help="'simulator' only: number of users")
    parser.add_argument("--seed", type=int, default=None, help="'simulator' only: master seed")
    parser.add_argument("--config", type=Path, default=None, help="'simulator' only: simulator YAML")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def summary_table(s: Summary) -> Table:
    table = Table(title=f"dataset {s.name}", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, object]] = [
        ("users", s.users),
        ("items", s.items),
        ("online events", s.online_events),
        *((f"  {t}", n) for t, n in s.events_by_type.items() if n),
        ("in-store baskets", s.store_transactions),
        ("basket items", s.basket_items),
        ("mean basket size", f"{s.mean_basket_size:.2f}"),
        ("users online", s.online_users),
        ("users in store", s.store_users),
        ("users with both channels", s.both_channel_users),
        ("time span", " .. ".join(s.time_span() or ("-", "-"))),
        *((f"skipped: {k}", n) for k, n in s.skipped.items()),
        *((f"note: {k}", n) for k, n in s.notes.items()),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    return table


def run(args: argparse.Namespace) -> int:
    given = (("users", args.users), ("seed", args.seed), ("config", args.config))
    opts = {k: v for k, v in given if v is not None}
    if opts and args.dataset != "simulator":
        raise SystemExit("--users/--seed/--config apply only to --dataset simulator")
    summary = load(args.dataset, args.root, **opts).summary()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        Console().print(summary_table(summary))
    return 0
