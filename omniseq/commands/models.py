"""``omniseq models list``: the registry's versions (model, data, metrics) and which one is the champion."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Model registry: list versions and the champion."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=["list"], help="what to do (list)")
    parser.add_argument(
        "--registry", type=Path, default=None, help="registry folder (default: StackSettings)"
    )


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("-" if value is None else str(value))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from models.registry import ModelRegistry
    from omniseq.settings import StackSettings

    registry = ModelRegistry(args.registry or StackSettings().dir("registry"))
    versions = registry.versions()
    champions = {mv.family: registry.champion(mv.family) for mv in versions}
    champion_versions = {c.version for c in champions.values() if c is not None}
    table = Table(title=f"model registry {registry.root}")
    for col in (
        "",
        "family",
        "version",
        "model",
        "store mode",
        "features",
        "hr@10",
        "ndcg@10",
        "sampled ndcg@10",
        "created",
    ):
        table.add_column(col)
    for mv in versions:
        m = mv.metrics
        table.add_row(
            "*" if mv.version in champion_versions else "",
            mv.family,
            mv.version,
            str(mv.manifest.get("model_name")),
            str((mv.manifest.get("input_spec") or {}).get("store_mode")),
            ",".join((mv.manifest.get("feature_versions") or {}).values()),
            _fmt(m.get("hr@10")),
            _fmt(m.get("ndcg@10")),
            _fmt(m.get("sampled_ndcg@10")),
            str(mv.manifest.get("created_at", "")),
        )
    Console().print(table)
    if registry.champion() is None:
        Console().print("no next-item champion yet ('omniseq promote VERSION')")
    return 0
