"""``omniseq features list|apply``: the versioned feature registry (Feast project ``omniseq``)."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from feature_repo.views import SERVICES, VIEWS, view
from omniseq.features.refill import refill_online
from omniseq.features.store import apply, feature_store, registry_path
from omniseq.settings import StackSettings

_TYPE_NAMES = {
    "int64": "Int64",
    "float64": "Float64",
    "string": "String",
    "int64_list": "Array(Int64)",
    "string_list": "Array(String)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="show every feature view: version, type, source, description, features")
    lst.add_argument(
        "--registered", action="store_true", help="list what the Feast registry holds (after apply) instead"
    )
    sub.add_parser("apply", help="register entities, feature views and services (feast apply)")
    mat = sub.add_parser("materialize", help="load the newest offline rows into Redis (after a Redis loss)")
    mat.add_argument("--views", nargs="+", help="feature views (default: all)")
    mat.add_argument("--start", default="1990-01-01", help="ISO date/time, UTC (default 1990-01-01)")
    mat.add_argument("--end", help="ISO date/time, UTC (default: now)")
    for p in sub.choices.values():
        p.add_argument("--feature-repo", type=Path, help="Feast repo folder (default: OMNISEQ_FEATURE_REPO)")


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]

    overrides = {"feature_repo": args.feature_repo} if args.feature_repo else {}
    return StackSettings(**overrides)


def _defined_table() -> Table:
    table = Table(title="omniseq feature views (entity user, join key user_id)")
    for col in ("view", "version", "type", "window", "source", "description", "features"):
        table.add_column(col, overflow="fold")
    for spec in VIEWS.values():
        feats = ", ".join(f"{f.name}: {_TYPE_NAMES[f.dtype]}" for f in spec.features)
        services = [s for s, views in SERVICES.items() if spec.name in views]
        table.add_row(
            spec.name,
            f"v{spec.version}",
            spec.kind,
            spec.window,
            spec.source,
            spec.description + (f" [services: {', '.join(services)}]" if services else ""),
            feats,
        )
    return table


def _registered_table(args: argparse.Namespace) -> Table:
    store = feature_store(_settings(args))
    table = Table(title=f"Feast registry of project {store.project}")
    for col in ("view", "version", "window", "source", "description", "features"):
        table.add_column(col, overflow="fold")
    for fv in sorted(store.list_feature_views(), key=lambda v: v.name):
        feats = ", ".join(f"{f.name}: {f.dtype}" for f in fv.features)
        src = str(getattr(fv.batch_source, "path", "") or getattr(fv.batch_source, "name", ""))
        table.add_row(
            fv.name, fv.tags.get("version", "?"), fv.tags.get("window", ""), src, fv.description, feats
        )
    return table


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.action == "list":
        console.print(_registered_table(args) if args.registered else _defined_table())
        return 0
    if args.action == "apply":
        settings = _settings(args)
        start = time.perf_counter()
        with console.status("feast apply ..."):
            store = apply(settings)
        n = len(store.list_feature_views())
        console.print(
            f"applied {n} feature views to {registry_path(settings)} in {time.perf_counter() - start:.1f} s"
        )
        return 0
    if args.action == "materialize":
        return _materialize(args, console)
    raise SystemExit(f"unknown action {args.action!r}")


def _utc(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"not an ISO date/time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _materialize(args: argparse.Namespace, console: Console) -> int:
    """Refill Redis from the offline store (the files the pipeline and the writer commit); docs/RUNBOOK.md."""
    for name in args.views or []:
        view(name)  # unknown names: a clear error first
    start, end = _utc(args.start), _utc(args.end) if args.end else dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    results = refill_online(
        _settings(args), args.views, int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    )
    for r in results:
        console.print(
            f"{r.view}: {r.files} offline files, {r.rows_read} rows read, {r.users_written} users written"
        )
    total = sum(r.users_written for r in results)
    console.print(f"materialized {total} user rows from {start} to {end} in {time.perf_counter() - t0:.1f} s")
    return 0
