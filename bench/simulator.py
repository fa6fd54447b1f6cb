"""Simulator streaming benchmark: throughput and peak memory of ``omniseq generate`` at two sizes.

Each size runs in a fresh process (so its peak RSS, ``ru_maxrss``, is its own). If output streams, the peak RSS of
the large run stays close to the small run's although it writes ``--scale`` times more events. Writes
``bench/results/simulator.json``.

    omniseq bench simulator [--events 1000000] [--scale 10] [--chunk-users 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from omniseq.data import Simulator, SimulatorConfig, write_dataset

RESULTS = Path(__file__).resolve().parent / "results" / "simulator.json"


def _events_per_user(seed: int, probe_users: int = 200) -> float:
    sim = Simulator(SimulatorConfig(seed=seed))
    n = sum(len(u.behaviours) for u in sim.users(10**6, 10**6 + probe_users))  # users not used by the runs
    return n / probe_users


def _run(users: int, chunk_users: int, seed: int, queue: Any) -> None:
    """Child process: generate into a temporary folder, report counts, time and peak RSS."""
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="omniseq-bench-sim-") as tmp:
        started = time.perf_counter()
        manifest = write_dataset(
            SimulatorConfig(seed=seed), users, Path(tmp), chunk_users=chunk_users, progress=False
        )
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    counts = manifest["counts"]
    behaviours = counts["online_events"] + counts["store_transactions"]
    queue.put(
        {
            "users": users,
            "online_events": counts["online_events"],
            "store_transactions": counts["store_transactions"],
            "behaviours": behaviours,
            "seconds": round(seconds, 3),
            "behaviours_per_s": round(behaviours / seconds, 1),
            "online_events_per_s": round(counts["online_events"] / seconds, 1),
            "peak_rss_mib": round(peak / 1024, 1),
            "rss_at_start_mib": round(rss_start / 1024, 1),
            "parquet_mib": round(size / 2**20, 2),
        }
    )


def _in_child(users: int, chunk_users: int, seed: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(users, chunk_users, seed, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"benchmark child failed with exit code {proc.exitcode}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omniseq bench simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="target behaviours of the large run")
    parser.add_argument("--scale", type=int, default=10, help="large run / small run size")
    parser.add_argument("--chunk-users", type=int, default=1000, help="users per part (the memory bound)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    per_user = _events_per_user(args.seed)
    large_users = max(1, math.ceil(args.events / per_user))
    small_users = max(1, large_users // args.scale)
    runs = [_in_child(n, args.chunk_users, args.seed) for n in (small_users, large_users)]
    result = {
        "benchmark": "simulator",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": {"seed": args.seed, "chunk_users": args.chunk_users, "target_behaviours": args.events},
        "behaviours_per_user_probe": round(per_user, 2),
        "small": runs[0],
        "large": runs[1],
        "size_ratio": round(runs[1]["behaviours"] / runs[0]["behaviours"], 2),
        "peak_rss_ratio_large_vs_small": round(runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"], 3),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
