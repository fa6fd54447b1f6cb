"""``omniseq generate --users N --out DIR [--seed S] [--config YAML]``: stream the simulator to Parquet files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from omniseq.data.sim.config import SimulatorConfig
from omniseq.data.sim.io import write_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, required=True, help="number of users to simulate")
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder (online/, instore/, manifest.json)"
    )
    parser.add_argument("--seed", type=int, default=None, help="master seed (overrides the config's)")
    parser.add_argument("--config", type=Path, default=None, help="simulator YAML (see docs/DATA.md)")
    parser.add_argument("--chunk-users", type=int, default=2000, help="users per Parquet part (memory bound)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier output in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def load_config(path: Path | None, seed: int | None) -> SimulatorConfig:
    overrides: dict[str, Any] = {} if seed is None else {"seed": seed}
    cfg = SimulatorConfig.from_yaml(path, **overrides) if path else SimulatorConfig(**overrides)
    assert isinstance(cfg, SimulatorConfig)
    return cfg


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, args.seed)
        manifest = write_dataset(
            cfg,
            args.users,
            args.out,
            chunk_users=args.chunk_users,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except (ValidationError, FileExistsError, FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"omniseq generate: {exc}") from exc
    summary = {"out": str(args.out), "counts": manifest["counts"], "seconds": manifest["seconds"]}
    print(json.dumps(summary, indent=2))
    return 0
