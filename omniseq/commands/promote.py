"""``omniseq promote VERSION``: point the registry's champion at a version (atomic replace of champion.json)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Point the registry's champion at a model version (atomic)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("version", help="a version listed by 'omniseq models list'")
    parser.add_argument(
        "--registry", type=Path, default=None, help="registry folder (default: StackSettings)"
    )


def run(args: argparse.Namespace) -> int:
    from models.registry import ModelRegistry, RegistryError
    from omniseq.settings import StackSettings

    registry = ModelRegistry(args.registry or StackSettings().dir("registry"))
    try:
        mv = registry.promote(args.version)
    except RegistryError as exc:
        print(f"error: {exc}")
        return 2
    registry.record_decision(
        {"promote": True, "reason": "manual promotion", "challenger": mv.version, "metrics": mv.metrics}
    )
    print(f"champion -> {mv.version} ({mv.manifest.get('model_name')})")
    return 0
