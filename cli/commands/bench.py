"""``omniseq bench WHAT [ARGS...]``: run a benchmark module ``bench/WHAT.py`` (its ``main(argv)``).

Every benchmark writes its measured figures to ``bench/results/WHAT.json``; docs quote only those files.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", help=f"one of: {', '.join(available())}, or 'all'")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")


def run(args: argparse.Namespace) -> int:
    names = available() if args.what == "all" else [args.what]
    unknown = [n for n in names if n not in available()]
    if unknown:
        raise SystemExit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(available())} or 'all'")
    status = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        status |= int(module.main(list(args.args)) or 0)
    return status
