"""``omniseq lens train|anomalies|oos-alerts``: the LENS next-basket family's training and batch jobs.

* ``train``: fit LENS (basket + time jointly) on a dataset's basket histories and register it in the
  ``next_basket`` family (``--promote`` makes it the champion ``POST /next-basket`` serves).
* ``anomalies``: Algorithm 1 with the family's champion (or ``--model``); one row per customer.
* ``oos-alerts``: Algorithm 2; the resupply schedule is ``--resupply`` (CSV ``store_id,item_id,day,units``) or
  simulated from the history's mean daily units (``--factor``).

Outputs go to the Parquet offline store, ``<offline>/lens_anomalies_v1/`` and ``<offline>/lens_oos_alerts_v1/``
(partitioned by ``date=`` of the as-of day, files written atomically), plus ``<view>.summary.json`` and a PNG in
``--report`` (default ``<offline>/../lens_reports``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from models.lens_batch import alerts, anomalies, forecasts, train_and_register
from models.lens_data import DAY_MS, histories_from_dataset, load_dunnhumby, load_tafeng
from models.lens_jobs import schedule_lookup, simulated_resupply
from models.lens_train import LensTrainConfig
from models.registry import ModelRegistry
from omniseq.data.registry import load
from omniseq.settings import StackSettings
from serving.next_basket import NextBasketBundle, load_next_basket


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["train", "anomalies", "oos-alerts"])
    parser.add_argument("--data", default="dunnhumby", help="dunnhumby, tafeng or any 'omniseq data' source")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--max-users", type=int, default=None, help="a seeded sample of customers")
    parser.add_argument(
        "--registry", type=Path, default=None, help="registry folder (default: StackSettings)"
    )
    parser.add_argument(
        "--offline", type=Path, default=None, help="offline store folder (default: StackSettings)"
    )
    parser.add_argument("--report", type=Path, default=None, help="summary JSON + PNG folder")
    parser.add_argument("--model", default=None, help="a next_basket version (default: the champion)")
    parser.add_argument("--size", default="lens1000", choices=["lens1000", "lens2000"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--time-budget-s", type=float, default=600.0)
    parser.add_argument("--promote", action="store_true")
    parser.add_argument("--clusters", type=int, default=8)
    parser.add_argument("--threshold", type=float, default=3.5)
    parser.add_argument("--days", type=int, default=14, help="OOS horizon in days after the as-of date")
    parser.add_argument("--resupply", type=Path, default=None, help="CSV store_id,item_id,day,units")
    parser.add_argument(
        "--factor", type=float, default=1.0, help="simulated resupply: factor x mean daily units"
    )
    parser.add_argument("--seed", type=int, default=0)


def load_histories(args: argparse.Namespace) -> dict[str, Any]:
    if args.data == "dunnhumby":
        return load_dunnhumby(args.data_root, args.max_users, args.seed)
    if args.data == "tafeng":
        histories, _ = load_tafeng(args.data_root)
    else:
        histories = histories_from_dataset(load(args.data, args.data_root))
    if args.max_users is not None and args.max_users < len(histories):
        keep = random.Random(args.seed).sample(sorted(histories), args.max_users)
        histories = {u: histories[u] for u in keep}
    return histories


def _dirs(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    settings = StackSettings()
    registry = args.registry or settings.dir("registry")
    offline = args.offline or settings.dir("offline")
    report = args.report or offline.parent / "lens_reports"
    return registry, offline, report


def write_parquet(offline: Path, view: str, rows: list[dict[str, Any]], as_of_ms: int) -> Path:
    """Append one Parquet file to ``<offline>/<view>/date=<as-of>/`` (temporary name, then an atomic rename)."""
    date = datetime.fromtimestamp(as_of_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    folder = offline / view / f"date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    ts = pa.array([as_of_ms] * len(rows), pa.timestamp("ms", tz="UTC"))
    created = pa.array([now] * len(rows), pa.timestamp("ms", tz="UTC"))
    table = (
        pa.Table.from_pylist(rows)
        .append_column("event_timestamp", ts)
        .append_column("created_timestamp", created)
    )
    final = folder / f"part-{now}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{final.name}"
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return final


def _as_of(histories: dict[str, Any]) -> int:
    stamps = [h.ts_ms[-1] for h in histories.values() if h.ts_ms]
    return max(stamps) if stamps else int(time.time() * 1000)


def _bundle(registry_dir: Path, version: str | None) -> NextBasketBundle:
    registry = ModelRegistry(registry_dir)
    mv = registry.get(version) if version else registry.champion("next_basket")
    if mv is None:
        raise SystemExit(
            f"no next_basket champion in {registry_dir}: run 'omniseq lens train --promote' first"
        )
    return load_next_basket(mv)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    registry_dir, offline, report = _dirs(args)
    histories = load_histories(args)
    if args.action == "train":
        return _train(args, histories, registry_dir)
    bundle = _bundle(registry_dir, args.model)
    report.mkdir(parents=True, exist_ok=True)
    if args.action == "anomalies":
        return _anomalies(args, histories, bundle, offline, report)
    return _oos(args, histories, bundle, offline, report)


def _train(args: argparse.Namespace, histories: dict[str, Any], registry_dir: Path) -> int:
    registry = ModelRegistry(registry_dir)
    cfg = LensTrainConfig(epochs=args.epochs, seed=args.seed, time_budget_s=args.time_budget_s)
    version, metrics = train_and_register(histories, args.size, registry, cfg)
    if args.promote:
        registry.promote(version)
    print(json.dumps({"version": version, "promoted": args.promote, **metrics}))
    return 0


def _anomalies(
    args: argparse.Namespace, histories: dict[str, Any], bundle: Any, offline: Path, report: Path
) -> int:
    recs = anomalies(
        bundle.module, bundle.vocab, histories, bundle.max_baskets, bundle.max_basket_size,
        args.clusters, args.threshold, args.seed,
    )  # fmt: skip
    rows = [{**asdict(r), "is_anomaly": int(r.is_anomaly)} for r in recs]
    as_of = _as_of(histories)
    path = write_parquet(offline, "lens_anomalies_v1", rows, as_of)
    per_cluster = Counter(r.cluster for r in recs)
    flagged = Counter(r.cluster for r in recs if r.is_anomaly)
    summary = {
        "model_version": bundle.version,
        "customers": len(recs),
        "anomalies": sum(r.is_anomaly for r in recs),
        "clusters": {str(c): {"customers": n, "anomalies": flagged.get(c, 0)} for c, n in sorted(per_cluster.items())},
        "choices": {"d_A": "Jaccard + relative time error", "f_k": "k-means++ on normalised FBE states",
                    "d_B": "leave-one-out robust z-score in cluster", "threshold": args.threshold},
        "parquet": str(path),
    }  # fmt: skip
    (report / "lens_anomalies.summary.json").write_text(json.dumps(summary, indent=2))
    _plot_anomalies(recs, report / "lens_anomalies.png", args.threshold)
    print(json.dumps({k: v for k, v in summary.items() if k != "clusters"}))
    return 0


def _read_schedule(path: Path) -> Any:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return schedule_lookup({(r["store_id"], r["item_id"], int(r["day"])): float(r["units"]) for r in rows})


def _oos(
    args: argparse.Namespace, histories: dict[str, Any], bundle: Any, offline: Path, report: Path
) -> int:

    as_of = _as_of(histories)
    fcs = forecasts(bundle.module, bundle.vocab, histories, as_of, bundle.max_baskets, bundle.max_basket_size)
    if args.resupply is not None:
        resupply, source = _read_schedule(args.resupply), str(args.resupply)
    else:
        lines = [
            (h.stores[i] if h.stores else "store", item, (h.quantities[i] / len(b)) if h.quantities else 1.0)
            for h in histories.values() for i, b in enumerate(h.baskets) for item in b
        ]  # fmt: skip
        first = min((h.ts_ms[0] for h in histories.values() if h.ts_ms), default=as_of)
        resupply, source = (
            simulated_resupply(lines, (as_of - first) / DAY_MS, args.factor),
            f"simulated x{args.factor}",
        )
    found = alerts(fcs, args.days, resupply)
    day0 = datetime.fromtimestamp(as_of / 1000, tz=UTC)
    rows = [{**asdict(a)} for a in found]
    path = write_parquet(offline, "lens_oos_alerts_v1", rows, as_of)
    summary = {
        "model_version": bundle.version,
        "as_of": day0.isoformat(),
        "horizon_days": args.days,
        "resupply": source,
        "customers_forecast": len(fcs),
        "customers_in_horizon": sum(0 <= f.days_from_as_of < args.days for f in fcs),
        "alerts": len(found),
        "alerts_per_day": dict(sorted(Counter(a.day for a in found).items())),
        "parquet": str(path),
    }
    (report / "lens_oos_alerts.summary.json").write_text(json.dumps(summary, indent=2))
    _plot_oos(found, args.days, report / "lens_oos_alerts.png")
    print(json.dumps({k: v for k, v in summary.items() if k != "alerts_per_day"}))
    return 0


def _plot_anomalies(recs: list[Any], path: Path, threshold: float) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.scatter(
        [r.cluster for r in recs],
        [r.score for r in recs],
        s=6,
        c=["red" if r.is_anomaly else "grey" for r in recs],
    )
    ax.axhline(threshold, ls="--", c="red")
    ax.set_xlabel("cluster of the funnel state")
    ax.set_ylabel("within-cluster robust z of d_A")
    ax.set_title("LENS behaviour anomalies (red: flagged)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_oos(found: list[Any], days: int, path: Path) -> None:
    per_day = Counter(a.day for a in found)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.bar(range(days), [per_day.get(d, 0) for d in range(days)])
    ax.set_xlabel("days after the as-of date")
    ax.set_ylabel("(store, product) alerts")
    ax.set_title("LENS out-of-stock alerts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
