"""Command-line options shared by ``omniseq train`` and ``omniseq evaluate`` -> :class:`~models.train.TrainConfig`."""

from __future__ import annotations

import argparse
from typing import Any

from models.train import TrainConfig

#: flag -> (TrainConfig field, type, help)
OPTIONS: dict[str, tuple[str, type, str]] = {
    "--dataset": ("dataset", str, "dataset adapter name (hm, beauty, user-item:<path>, sim:<dir>, ...)"),
    "--data-root": ("data_root", str, "root of the datasets (default ../shared/data)"),
    "--epochs": ("epochs", int, "training epochs (seed: 20)"),
    "--batch-size": ("batch_size", int, "batch size (seed: 512)"),
    "--max-len": ("max_len", int, "maximum sequence length (seed: 90)"),
    "--max-basket": ("max_basket", int, "maximum items per in-store basket"),
    "--hidden": ("hidden", int, "hidden size"),
    "--blocks": ("blocks", int, "transformer blocks"),
    "--heads": ("heads", int, "attention heads"),
    "--dropout": ("dropout", float, "dropout (seed: 0.2)"),
    "--lr": ("lr", float, "Adam learning rate (seed: 1e-3)"),
    "--loss": ("loss", str, "'sampled' (negatives, the seed) or 'full' cross-entropy"),
    "--n-negatives": ("n_negatives", int, "negatives per batch for the sampled loss"),
    "--device": ("device", str, "auto | cpu | cuda"),
    "--threads": ("threads", int, "torch CPU threads"),
    "--eval-users": ("eval_users", int, "validation users evaluated after each epoch"),
    "--patience": ("patience", int, "early stop after this many epochs without improvement"),
    "--feature-view": ("feature_view", str, "sequence feature view the model is served from"),
}


def add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file of TrainConfig fields (flags override it)")
    for flag, (_, typ, text) in OPTIONS.items():
        parser.add_argument(flag, type=typ, default=None, help=text)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def train_config(args: argparse.Namespace, **extra: Any) -> TrainConfig:
    values: dict[str, Any] = {}
    for flag, (name, _, _) in OPTIONS.items():
        v = getattr(args, flag.lstrip("-").replace("-", "_"))
        if v is not None:
            values[name] = v
    if args.no_progress:
        values["progress"] = False
    values.update(extra)
    if args.config:
        cfg = TrainConfig.from_yaml(args.config, **values)
        assert isinstance(cfg, TrainConfig)
        return cfg.check()
    return TrainConfig(**values).check()
