"""The load generator of ``omniseq bench serve``, run in its own process (``python -m bench.loadgen CONFIG``).

Closed-loop asyncio keep-alive HTTP/1.1 clients at a fixed concurrency: an unmeasured warm-up, then a measured
period; writes throughput, latency percentiles and status counts as JSON to the config's ``out`` path.

With ``new_behaviour_rate`` p > 0 (and a ``writes`` file: per user, ready-made Redis ``HSET`` commands that store
the user's row with one more behaviour, two variants used in turn), a client first stores a new behaviour for the
user with probability p — waiting for Redis's reply — and then asks for recommendations: a fraction ``1 - p`` of
requests find the row unchanged since that user's previous request (the repeat rate a user cache can exploit).
Only the HTTP request is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop


def clean_env(**extra: str) -> dict[str, str]:
    # importing feast sets PROMETHEUS_MULTIPROC_DIR for its own server; children must not inherit it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_")}
    env.update(extra)
    return env


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in seconds]
    return {
        "p50_ms": round(_pct(ms, 0.50), 3),
        "p90_ms": round(_pct(ms, 0.90), 3),
        "p99_ms": round(_pct(ms, 0.99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else float("nan"),
    }


def _quantiles(values: list[float]) -> dict[str, float]:
    """Latency (ms) at fixed quantiles: the distribution plot's points."""
    qs = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999)
    return {str(q): round(_pct(values, q) * 1000, 3) for q in qs}


class _Writer:
    """Stores new behaviours through its own Redis connection (precomputed RESP ``HSET`` commands)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.rate = float(cfg.get("new_behaviour_rate", 0.0))
        self.cmds: dict[str, list[bytes]] = {}
        if self.rate > 0:
            self.cmds = pickle.loads(Path(cfg["writes"]).read_bytes())
        self.port = int(cfg.get("redis_port", 0))
        self.turn: dict[str, int] = {}
        self.writes = 0

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        return await asyncio.open_connection("127.0.0.1", self.port) if self.rate > 0 else None

    async def maybe_write(self, conn: Any, user: str) -> None:
        if conn is None or random.random() >= self.rate:
            return
        n = self.turn.get(user, 0)
        self.turn[user] = n + 1
        variants = self.cmds[user]
        conn[1].write(variants[n % len(variants)])
        line = await conn[0].readline()
        if not line.startswith(b":"):
            raise RuntimeError(f"redis HSET failed: {line!r}")
        self.writes += 1


async def _client(
    port: int,
    requests: list[tuple[str, bytes]],
    deadline: float,
    lat: list[float],
    status: Counter[str],
    writer_: _Writer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    store = await writer_.connect()
    i = random.randrange(len(requests))
    try:
        while time.perf_counter() < deadline:
            user, req = requests[i % len(requests)]
            i += 1
            await writer_.maybe_write(store, user)
            t0 = time.perf_counter()
            writer.write(req)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                status[f"error:{type(exc).__name__}"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            lat.append(time.perf_counter() - t0)
            status[head[9:12].decode()] += 1
    finally:
        writer.close()
        if store is not None:
            store[1].close()


def _requests(
    path: str, users: list[str], k: int, explain: bool = False, channel: str = "online"
) -> list[tuple[str, bytes]]:
    if path == "/healthz":
        return [("", b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")]
    out = []
    for u in users:
        extra = {
            **({"explain": True} if explain else {}),
            **({"channel": channel} if channel != "online" else {}),
        }
        body = json.dumps({"user_id": u, "k": k, **extra}).encode()
        out.append(
            (
                u,
                b"POST /recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body,
            )
        )
    return out


async def _drive(cfg: dict[str, Any]) -> dict[str, Any]:
    requests = _requests(
        cfg["path"], cfg["users"], cfg["k"], bool(cfg.get("explain")), cfg.get("channel", "online")
    )
    writes = _Writer(cfg)
    warm_lat: list[float] = []
    warm_status: Counter[str] = Counter()
    deadline = time.perf_counter() + cfg["warmup_s"]
    await asyncio.gather(
        *(_client(cfg["port"], requests, deadline, warm_lat, warm_status, writes) for _ in range(cfg["c"]))
    )
    warm_writes, writes.writes = writes.writes, 0
    lat: list[float] = []
    status: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + cfg["duration_s"]
    await asyncio.gather(
        *(_client(cfg["port"], requests, deadline, lat, status, writes) for _ in range(cfg["c"]))
    )
    elapsed = time.perf_counter() - start
    errors = sum(n for s, n in status.items() if not s.startswith("2"))
    return {
        "concurrency": cfg["c"],
        "path": cfg["path"],
        "requests": len(lat),
        "warmup_requests": len(warm_lat),
        "errors": errors,
        "statuses": dict(status),
        "throughput_rps": round(len(lat) / elapsed, 1),
        "new_behaviour_writes": writes.writes,
        "warmup_new_behaviour_writes": warm_writes,
        **summary_ms(lat),
        "latency_quantiles_ms": _quantiles(lat),
    }


def loadgen_main(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    uvloop.install()  # uvicorn[standard]'s event loop, the one the server under test runs on
    result = asyncio.run(_drive(cfg))
    Path(cfg["out"]).write_text(json.dumps(result))
    return 0


def run_load(
    port: int, path: str, c: int, users: list[str], args: argparse.Namespace, work: Path, **extra: Any
) -> dict[str, Any]:
    """One level; ``extra``: ``explain``, ``channel``, ``new_behaviour_rate`` with ``writes`` and ``redis_port``."""
    cfg = {"port": port, "path": path, "c": c, "users": users, "k": args.k, "warmup_s": args.warmup,
           "duration_s": args.duration, "out": str(work / f"load-{path.strip('/')}-{c}.json"), **extra}  # fmt: skip
    cfg_path = work / "loadgen.json"
    cfg_path.write_text(json.dumps(cfg))
    subprocess.run([sys.executable, "-m", "bench.loadgen", str(cfg_path)], check=True, env=clean_env())
    return json.loads(Path(cfg["out"]).read_text())  # type: ignore[no-any-return]


if __name__ == "__main__":
    raise SystemExit(loadgen_main(sys.argv[1]))
