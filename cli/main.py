"""The ``omniseq`` console script. Each subcommand lives in ``cli/commands/<name>.py``; a command module defines
``add_arguments(parser)`` and ``run(args) -> int``, and its one-line help is in :data:`COMMANDS`.

Lazy on purpose, like ``omniseq bench`` (which imports the benchmark it is named): only the module of the
command being run is imported, so ``omniseq --help`` loads no command (and so no torch, PyFlink or Feast) and
one broken part does not break the others. Measured on the 2-core dev machine under load: ``omniseq --help``
0.07 s, ``omniseq down --help`` 1.5 s, ``omniseq features --help`` (imports Feast) 21 s. A command module
imports everything it needs at its top.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "generate": "Write a synthetic omnichannel dataset (online events + in-store batches) to a folder.",
    "data": "Summarise a dataset adapter's hybrid histories (users, items, channels, time span).",
    "up": "Start Kafka (KRaft), Redis and Flink jars as local processes; 'omniseq down' stops them.",
    "down": "Stop the local processes started by 'omniseq up'.",
    "replay": "Stream a dataset or the simulator into Kafka; write in-store batches as Parquet drops.",
    "drop": "Drop one in-store basket (a Parquet file) into the running pipeline's landing folder.",
    "pipeline": "Run the PyFlink feature job (local mini-cluster or a Flink session cluster).",
    "features": "Feature registry: apply, list feature views and versions, materialise.",
    "train": "Train a recommender (from the offline store or a dataset), export TorchScript and register it.",
    "evaluate": "Evaluate recommenders (sampled and full-ranking protocols) and write the results table.",
    "models": "Model registry: list versions and the champion.",
    "promote": "Point the registry's champion at a model version (atomic).",
    "serve": "Run the FastAPI recommendation server (uvicorn).",
    "retrain": "Scheduled retraining: train, compare with the champion, promote if better.",
    "bench": "Benchmarks (features, serve, pipeline, train, simulator); results go to bench/results/.",
    "demo": "The whole loop end to end on local processes (what 'make demo' runs).",
    "lens": "LENS next basket: train + register, behaviour anomalies, out-of-stock alerts (Parquet offline store).",
    "journeys": "In-store journeys: train the GPT (stores A, B), generate journeys into the landing folder, layout what-if.",
}


def _module_name(command: str) -> str:
    return f"cli.commands.{command}"


def build_parser(load: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omniseq", description="Streaming omnichannel recommender.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if load is not None and name in load:
            module = importlib.import_module(_module_name(name))
            module.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=[command] if command in COMMANDS else [])
    args = parser.parse_args(argv)
    module = importlib.import_module(_module_name(args.command))
    return int(module.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
