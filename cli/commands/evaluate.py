"""``omniseq evaluate``: train and evaluate several models over several seeds on one dataset (leave-last-out,
both protocols) and write the Table-I-style results to ``bench/results/eval_<name>.{json,md}``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from models.cli_args import add_train_options, train_config
from models.data import from_dataset
from models.report import COLUMNS, summarise, table_rows, write_results
from models.train import plot_curves, run_training

if TYPE_CHECKING:
    from models.train import TrainConfig

DEFAULT_MODELS = "sasrec,bert4rec,sasrec_wstore,sasrec_avge,sasrec_attne"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated model names")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (>= 3 for mean and spread)")
    parser.add_argument("--name", default=None, help="results name (default: the dataset name)")
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"), help="where results go")
    add_train_options(parser)


def _print_table(summary: dict, title: str) -> None:
    table = Table(title=title)
    table.add_column("model")
    for _, label in COLUMNS:
        table.add_column(label)
    for row in table_rows(summary):
        table.add_row(*(c.replace("**", "") for c in row))
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    base = train_config(args)
    name = args.name or base.dataset.replace(":", "_").replace("/", "_")
    data = from_dataset(base.dataset, base.data_root)
    runs: dict[str, list[dict]] = {}
    meta = {
        "dataset": base.dataset,
        "users": len(data.users),
        "items": data.n_items - 2,
        "seeds": seeds,
        "train_config": base.model_dump(),
        "protocols": {
            "sampled": "target among 100 uniform negatives (no specials, not seen by the user)",
            "full": "target's rank among all items (specials excluded)",
        },
        "split": "leave-last-out: last online behaviour = test, the one before = validation",
    }
    title = f"{name}: test metrics (leave-last-out)"
    notes = run_notes(base, len(data.users), data.n_items - 2)
    stem = args.results_dir / f"eval_{name}"
    for model in models:
        for seed in seeds:
            cfg = base.model_copy(update={"model": model, "seed": seed})
            t0 = time.perf_counter()
            result = run_training(cfg.check(), data)
            row = {
                **result.test_metrics,
                "seed": seed,
                "best_epoch": result.history.best_epoch,
                "epochs_run": len(result.history.epochs),
                "seconds": time.perf_counter() - t0,
                "epoch_train_s": [round(r["train_s"], 2) for r in result.history.epochs],
            }
            runs.setdefault(model, []).append(row)
            if seed == seeds[0]:
                plot_curves(
                    result.history,
                    args.results_dir / f"curves_{name}_{model}.png",
                    f"{model} on {name} (seed {seed})",
                )
            write_results(stem, runs, meta, title, notes)  # after every run: partial results survive
    _print_table(summarise(runs), title)
    print(f"wrote {stem}.json and {stem}.md")
    return 0


def run_notes(cfg: TrainConfig, users: int, items: int) -> list[str]:
    """The table's footnotes: the dataset and the training configuration every run shared."""
    loss = f"sampled ({cfg.n_negatives} negatives)" if cfg.loss == "sampled" else "full cross-entropy"
    stop = f", early stop after {cfg.patience} epochs without improvement" if cfg.patience else ""
    return [
        f"dataset {cfg.dataset}: {users} users, {items} items",
        f"epochs {cfg.epochs} at most{stop}, batch {cfg.batch_size}, max_len {cfg.max_len}, hidden {cfg.hidden}, "
        f"blocks {cfg.blocks}, loss {loss}, lr {cfg.lr}, dropout {cfg.dropout}; "
        "best epoch on validation full-ranking NDCG@10",
    ]
