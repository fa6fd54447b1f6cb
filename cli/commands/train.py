"""``omniseq train``: train one recommender, export TorchScript, register the version (optionally promote it)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd
from rich.console import Console

from models.cli_args import add_train_options, train_config
from models.data import from_feature_frame
from models.registry import ModelRegistry
from models.train import manifest_of, run_training, write_artifacts
from models.zoo import VARIANTS
from omniseq.settings import StackSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="sasrec", choices=sorted(VARIANTS), help="architecture / variant")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--offline",
        type=Path,
        default=None,
        help="train from offline-store feature rows (a Parquet file/folder) instead of --dataset",
    )
    parser.add_argument(
        "--registry", type=Path, default=None, help="registry folder (default: StackSettings)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also keep the artifacts in this folder")
    parser.add_argument("--no-register", action="store_true", help="do not register the version")
    parser.add_argument("--promote", action="store_true", help="make the new version the champion")
    add_train_options(parser)


def run(args: argparse.Namespace) -> int:
    console = Console()
    cfg = train_config(args, model=args.model, seed=args.seed)
    data = from_feature_frame(pd.read_parquet(args.offline)) if args.offline else None
    result = run_training(cfg, data)
    console.print(f"test metrics: {json.dumps({k: round(v, 4) for k, v in result.test_metrics.items()})}")
    with tempfile.TemporaryDirectory() as tmp:
        out = write_artifacts(result, args.out or Path(tmp))
        if args.no_register:
            console.print(f"artifacts in {out} (not registered)")
            return 0
        registry = ModelRegistry(args.registry or StackSettings().dir("registry"))
        version = registry.register(out, manifest_of(result))
    console.print(f"registered [bold]{version}[/] in {registry.root}")
    if args.promote:
        registry.promote(version)
        console.print(f"champion -> {version}")
    return 0
