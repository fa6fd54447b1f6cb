"""``omniseq bench features``: online feature read latency on real Redis, the serving path vs Feast's own call.

Starts a private ``redis-server`` on a free port (or uses ``--redis-url``), registers the repo in a temporary
Feast registry, writes ``--users`` users' ``user_hybrid_seq_v1`` rows (50-token hybrid sequences, all 8
features) with :class:`~omniseq.features.online.RedisOnlineStore`, then measures per call, interleaved so both
see the same machine load:

- ``omniseq_read``: ``RedisOnlineStore.read(view, users)`` (what serving uses), 1 user and 100 users;
- ``feast_get_online_features``: ``FeatureStore.get_online_features`` of the same features and users;
- ``redis_hmget``: the bare pipelined HMGET round trip without decoding (the floor).

Also the write throughput of ``RedisOnlineStore.write``. Results: ``bench/results/features.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import redis
from tqdm import tqdm

from bench.feature_rows import sample_row
from feature_repo.views import feature_refs, view
from omniseq.features.online import RedisOnlineStore, field_hash, redis_key, ts_field
from omniseq.features.store import apply
from omniseq.settings import StackSettings

RESULTS = Path(__file__).resolve().parent / "results" / "features.json"
VIEW = "user_hybrid_seq_v1"


@contextmanager
def redis_server(url: str | None) -> Iterator[tuple[str, int]]:
    if url:
        client = redis.Redis.from_url(url)
        kw = client.connection_pool.connection_kwargs
        yield str(kw.get("host", "127.0.0.1")), int(kw.get("port", 6379))
        return
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found: install it or pass --redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _stats(samples_ns: list[int]) -> dict[str, float]:
    a = np.asarray(samples_ns, dtype=np.float64) / 1e6
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 4),
        "p99_ms": round(float(np.percentile(a, 99)), 4),
        "mean_ms": round(float(a.mean()), 4),
        "n": len(a),
    }


def _measure(
    fns: dict[str, Callable[[list[str]], Any]], users: list[str], batch: int, iters: int
) -> dict[str, Any]:
    rng = random.Random(batch)
    samples: dict[str, list[int]] = {name: [] for name in fns}
    for fn in fns.values():  # warm-up
        for _ in range(20):
            fn(rng.sample(users, batch))
    for _ in tqdm(range(iters), desc=f"{batch} user(s)", leave=False):
        ids = rng.sample(users, batch)
        for name, fn in fns.items():
            t = time.perf_counter_ns()
            fn(ids)
            samples[name].append(time.perf_counter_ns() - t)
    return {name: _stats(s) for name, s in samples.items()}


def _write_rows(store: RedisOnlineStore, users: list[str]) -> dict[str, float]:
    rows = [sample_row(VIEW, u, k, n_behaviours=60) for k, u in enumerate(users)]
    t = time.perf_counter()
    store.write(VIEW, rows)
    dt = time.perf_counter() - t
    return {"rows": len(rows), "seconds": round(dt, 4), "rows_per_s": round(len(rows) / dt, 1)}


def run_bench(host: str, port: int, n_users: int, iters: int, workdir: Path) -> dict[str, Any]:
    settings = StackSettings(run_dir=workdir, redis_host=host, redis_port=port)
    fs = apply(settings)
    client = redis.Redis(host=host, port=port)
    store = RedisOnlineStore(client)
    users = [f"bench_u{i}" for i in range(n_users)]
    write = _write_rows(store, users)
    refs = feature_refs(VIEW)
    names = list(view(VIEW).feature_names)
    fields = [field_hash(VIEW, n) for n in names] + [ts_field(VIEW)]

    def hmget(ids: list[str]) -> Any:
        with client.pipeline(transaction=False) as p:
            for u in ids:
                p.hmget(redis_key(u), fields)
            return p.execute()

    fns: dict[str, Callable[[list[str]], Any]] = {
        "omniseq_read": lambda ids: store.read(VIEW, ids, names),
        "feast_get_online_features": lambda ids: fs.get_online_features(
            features=refs, entity_rows=[{"user_id": u} for u in ids]
        ).to_dict(),
        "redis_hmget": hmget,
    }
    # both paths return the same values (checked once, outside the timing)
    sample = users[:3]
    ours = store.read(VIEW, sample, names)
    theirs = fs.get_online_features(features=refs, entity_rows=[{"user_id": u} for u in sample]).to_dict()
    assert ours == [{n: theirs[n][i] for n in names} for i in range(len(sample))], "paths disagree"
    latency = {str(b): _measure(fns, users, b, iters if b == 1 else max(iters // 5, 50)) for b in (1, 100)}
    ratios = {
        b: round(r["feast_get_online_features"]["p50_ms"] / r["omniseq_read"]["p50_ms"], 2)
        for b, r in latency.items()
    }
    return {"write": write, "latency": latency, "feast_p50_over_omniseq_p50": ratios}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omniseq bench features", description=__doc__)
    parser.add_argument("--users", type=int, default=2000, help="users written (default 2000)")
    parser.add_argument("--iters", type=int, default=2000, help="timed calls for 1 user (100 users: iters/5)")
    parser.add_argument(
        "--redis-url", help="use this Redis instead of starting one (its data is overwritten)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.users < 100:
        parser.error("--users must be >= 100 (the 100-user batch samples from them)")
    with redis_server(args.redis_url) as (host, port), tempfile.TemporaryDirectory() as tmp:
        result = run_bench(host, port, args.users, args.iters, Path(tmp))
    result.update(
        {
            "view": VIEW,
            "features": list(view(VIEW).feature_names),
            "tokens_per_user": view(VIEW).max_len,
            "users": args.users,
            "machine": {
                "python": platform.python_version(),
                "cpu": platform.processor() or platform.machine(),
            },
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["latency"], indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
