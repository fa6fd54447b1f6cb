"""``omniseq bench soak``: the API under a fixed request rate for a long time (default 10 minutes).

Trains a small SASRec attnE on the simulator (``models.train``; a trained model, not random weights), registers and
promotes it, writes hybrid histories of its items for ``--users`` users to a real redis-server, starts the server as
a uvicorn subprocess and drives ``POST /recommend`` *open loop* at ``--rate`` requests/s from this process (asyncio,
keep-alive connections; a request's latency counts from its scheduled send time, so a stalled server shows up as
latency, not as a lower rate; beyond ``--max-in-flight`` outstanding requests a due request is counted as an
``error:backlog`` instead of queued, so an overloaded server cannot stall the generator). Per minute: requests, errors (non-2xx or failed), latency p50/p99/max and the server
process's resident memory (RSS, sampled every 5 s). Writes ``bench/results/soak.json`` and ``soak.png``.
Goal: 0 errors, flat memory, flat p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from matplotlib.figure import Figure

from bench.loadgen import summary_ms
from bench.serve import ServerConfig, start_redis, start_server, write_histories
from models.data import from_dataset
from models.registry import ModelRegistry
from models.train import TrainConfig, manifest_of, run_training, write_artifacts
from omniseq.infra.process import free_port

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"


def rss_mb(pid: int) -> float:
    """Resident set size of a process (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def train_and_register(
    registry_root: Path, args: argparse.Namespace, work: Path
) -> tuple[str, list[str], int]:
    cfg = TrainConfig(model="sasrec_attne", dataset="simulator", epochs=args.epochs, hidden=32, d_attn=32,
                      max_len=50, batch_size=128, threads=1, progress=False, eval_users=200)  # fmt: skip
    result = run_training(cfg, from_dataset("simulator", None, users=args.train_users))
    registry = ModelRegistry(registry_root)
    manifest = manifest_of(result)
    manifest["feature_versions"] = {"sequence": "user_hybrid_seq_v1"}  # the 50-token view the histories go to
    version = registry.register(write_artifacts(result, work / "artifact"), manifest)
    registry.promote(version)
    return version, registry.get(version).vocab(), cfg.max_len


class Minute:
    def __init__(self) -> None:
        self.lat: list[float] = []
        self.errors = 0
        self.statuses: dict[str, int] = {}
        self.rss: list[float] = []

    def record(self, status: str, latency: float | None) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if latency is None or not status.startswith("2"):
            self.errors += 1
        else:
            self.lat.append(latency)

    def summary(self, index: int) -> dict[str, Any]:
        return {"minute": index + 1, "requests": sum(self.statuses.values()), "errors": self.errors,
                "statuses": self.statuses, **summary_ms(self.lat),
                "rss_mb_max": round(max(self.rss), 1) if self.rss else None,
                "rss_mb_last": round(self.rss[-1], 1) if self.rss else None}  # fmt: skip


async def drive(port: int, pid: int, users: list[str], args: argparse.Namespace,
                progress: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:  # fmt: skip
    minutes = [Minute() for _ in range(args.minutes)]
    start = time.perf_counter()
    end = start + args.minutes * 60
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    pending: set[asyncio.Task[None]] = set()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=10) as client:

        async def one(i: int, scheduled: float) -> None:
            body = {"user_id": users[i % len(users)], "k": 10}
            try:
                r = await client.post("/recommend", json=body)
                status, latency = str(r.status_code), time.perf_counter() - scheduled
            except httpx.HTTPError as exc:
                status, latency = f"error:{type(exc).__name__}", None
            minutes[min(int((scheduled - start) // 60), args.minutes - 1)].record(status, latency)

        async def sample_rss() -> None:
            while (now := time.perf_counter()) < end:
                minutes[min(int((now - start) // 60), args.minutes - 1)].rss.append(rss_mb(pid))
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample_rss())
        i, reported = 0, 0
        while (scheduled := start + i / args.rate) < end:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(pending) >= args.max_in_flight:  # the server is this far behind: count it, keep the pace
                minutes[min(int((scheduled - start) // 60), args.minutes - 1)].record("error:backlog", None)
            else:
                task = asyncio.create_task(one(i, scheduled))
                pending.add(task)
                task.add_done_callback(pending.discard)
            i += 1
            done_minutes = int((time.perf_counter() - start) // 60)
            if done_minutes > reported and done_minutes <= args.minutes:
                progress(minutes[reported].summary(reported))
                reported += 1
        await asyncio.gather(*pending)
        await sampler
    return [m.summary(k) for k, m in enumerate(minutes)]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="omniseq bench soak", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--rate", type=float, default=50.0, help="requests per second (fixed, open loop)")
    p.add_argument("--users", type=int, default=2000, help="users with histories in Redis")
    p.add_argument("--train-users", type=int, default=300, help="simulator users the model is trained on")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--max-in-flight", type=int, default=200, help="more outstanding requests count as errors")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--serve-nice",
        type=int,
        default=None,
        help="niceness of the server and the load generator once set-up is done (root to lower it)",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below (server, redis) on kill
    with tempfile.TemporaryDirectory(prefix="omniseq-soak-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        version, vocab, max_len = train_and_register(work / "registry", args, work)
        redis_port, port = free_port(), free_port()
        redis_server = start_redis(redis_port, work)
        server = None
        try:
            users = [f"soak-u{n}" for n in range(args.users)]
            history = argparse.Namespace(seed=0, max_len=max_len)
            write_histories(redis_port, users, vocab, history, work)
            serve_args = argparse.Namespace(
                torch_threads=args.torch_threads, cache_size=0
            )  # every request scored
            config = ServerConfig(items=len(vocab), workers=args.workers, cache=False)
            server = start_server(port, redis_port, work / "registry", config, serve_args)
            setup_s = time.perf_counter() - t0
            if (
                args.serve_nice is not None
            ):  # training ran niced; the measured part may run at another niceness
                for pid in (server.pid, redis_server.pid, os.getpid()):
                    if pid is not None:
                        os.setpriority(os.PRIO_PROCESS, pid, args.serve_nice)
            rss_start = rss_mb(server.pid)
            load_start = round(os.getloadavg()[0], 1)
            print(f"model {version} ({len(vocab)} items) serving; {args.rate:g} req/s for {args.minutes} min",
                  flush=True)  # fmt: skip
            per_minute = asyncio.run(
                drive(port, server.pid, users, args, lambda m: print(json.dumps(m), flush=True))
            )
            rss_end = rss_mb(server.pid)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            redis_server.stop()
    result = report(args, version, len(vocab), setup_s, rss_start, rss_end, per_minute)
    result["summary"]["load_average_1m_start"] = load_start  # the machine is shared: say how busy it was
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    print(json.dumps(result["summary"], indent=2))
    return 0


def report(args: argparse.Namespace, version: str, vocab_size: int, setup_s: float, rss_start: float,
           rss_end: float, per_minute: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    p99 = [m["p99_ms"] for m in per_minute if m["requests"]]
    requests = sum(m["requests"] for m in per_minute)
    return {
        "command": "omniseq bench soak " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                                    if k != "out"),  # fmt: skip
        "model_version": version, "vocab_size": vocab_size, "setup_s": round(setup_s, 1),
        "per_minute": per_minute,
        "summary": {
            "minutes": args.minutes, "rate_rps": args.rate, "requests": requests,
            "achieved_rps": round(requests / (args.minutes * 60), 1),
            "errors": sum(m["errors"] for m in per_minute),
            "p99_ms_first_minute": p99[0] if p99 else None, "p99_ms_last_minute": p99[-1] if p99 else None,
            "p99_ms_max_minute": max(p99) if p99 else None,
            "rss_mb_start": round(rss_start, 1), "rss_mb_end": round(rss_end, 1),
            "rss_mb_growth": round(rss_end - rss_start, 1),
            "load_average_1m_end": round(os.getloadavg()[0], 1), "cpu_count": os.cpu_count(),
        },
    }  # fmt: skip


def plot(result: dict[str, Any], path: Path) -> None:
    rows = result["per_minute"]
    x = [m["minute"] for m in rows]
    fig = Figure(figsize=(10, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(x, [m["p50_ms"] for m in rows], marker="o", label="p50")
    ax1.plot(x, [m["p99_ms"] for m in rows], marker="o", label="p99")
    ax1.set(
        xlabel="minute",
        ylabel="latency (ms)",
        title=f"POST /recommend at {result['summary']['rate_rps']:g} req/s",
    )
    ax1.legend()
    ax2.plot(x, [m["rss_mb_max"] for m in rows], marker="o", color="tab:red")
    ax2.set(xlabel="minute", ylabel="server RSS (MiB)", title=f"errors: {result['summary']['errors']}")
    ax2.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
