"""``omniseq models list``: the registry's versions (model, data, metrics) and which one is the champion."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from models.registry import ModelRegistry, RegistryError
from omniseq.settings import StackSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=["list"], help="what to do (list)")
    parser.add_argument(
        "--registry", type=Path, default=None, help="registry folder (default: StackSettings)"
    )


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("-" if value is None else str(value))


def run(args: argparse.Namespace) -> int:
    registry = ModelRegistry(args.registry or StackSettings().dir("registry"))
    versions = registry.versions()
    champion_versions, problems = set(), []
    for family in sorted({mv.family for mv in versions} | {"next_item"}):
        try:
            champ = registry.champion(family)
        except RegistryError as exc:
            problems.append(f"champion of {family}: {exc}")
            continue
        if champ is not None:
            champion_versions.add(champ.version)
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
    console = Console()
    console.print(table)
    for version, reason in registry.broken().items():
        console.print(f"[red]skipped broken version[/] {version}: {reason}")
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if not champion_versions & {mv.version for mv in versions if mv.family == "next_item"}:
        console.print("no next-item champion yet ('omniseq promote VERSION')")
    return 0
