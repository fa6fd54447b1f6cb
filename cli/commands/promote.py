"""``omniseq promote VERSION``: load and smoke-check a version as the API would, then point the registry's champion
at it (atomic replace of champion.json). A version that does not load is refused and the champion is unchanged."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.registry import ModelRegistry, RegistryError
from serving.bundle import ModelLoadError
from serving.settings import ServingSettings
from serving.verify import verify_version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("version", help="a version listed by 'omniseq models list'")
    parser.add_argument(
        "--registry", type=Path, default=None, help="registry folder (default: StackSettings)"
    )


def run(args: argparse.Namespace) -> int:
    settings = ServingSettings()
    registry = ModelRegistry(args.registry or settings.dir("registry"))
    try:
        print(f"checked: {verify_version(registry.get(args.version), settings)}")
        mv = registry.promote(args.version)
    except (RegistryError, ModelLoadError) as exc:
        print(f"error: {exc}; the champion is unchanged")
        return 2
    registry.record_decision(
        {"promote": True, "reason": "manual promotion", "challenger": mv.version, "metrics": mv.metrics}
    )
    print(f"champion -> {mv.version} ({mv.manifest.get('model_name')})")
    return 0
