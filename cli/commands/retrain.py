"""``omniseq retrain``: one retraining cycle now, or ``--schedule`` to run on the configured cron expression."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from rich.console import Console

from lifecycle.retrain import RetrainConfig, retrain_once
from lifecycle.schedule import run_on_schedule, validate_cron


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--schedule", action="store_true", help="keep running; retrain at every cron tick")
    parser.add_argument("--cron", default=None, help="cron expression (default: OMNISEQ_RETRAIN_SCHEDULE)")
    parser.add_argument("--model", default=None, help="model to train (default: OMNISEQ_RETRAIN_MODEL)")
    parser.add_argument("--margin", type=float, default=None, help="relative improvement required to promote")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--end-ms", type=int, default=None, help="training data up to this epoch-ms time")
    parser.add_argument("--lookback-days", type=float, default=None, help="training data window length")
    parser.add_argument("--max-runs", type=int, default=None, help="with --schedule: stop after N runs")


def _config(args: argparse.Namespace) -> object:
    overrides = {
        "model": args.model, "margin": args.margin, "epochs": args.epochs, "end_ms": args.end_ms,
        "lookback_days": args.lookback_days, "schedule": args.cron,
    }  # fmt: skip
    return RetrainConfig(**{k: v for k, v in overrides.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console()
    cfg = _config(args)
    assert isinstance(cfg, RetrainConfig)

    def once() -> None:
        d = retrain_once(cfg)
        verb = "[green]promoted[/]" if d.promote else "[yellow]kept champion[/]"
        console.print(f"{verb} {d.challenger}: {d.reason}")

    if not args.schedule:
        once()
        return 0
    validate_cron(cfg.schedule)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"retraining on schedule '{cfg.schedule}' (Ctrl-C stops)")
    stats = run_on_schedule(cfg.schedule, once, stop, max_runs=args.max_runs)
    console.print(f"{stats.runs} runs, {stats.failures} failed")
    return 0 if stats.failures == 0 else 1
