"""``omniseq bench serve``: the recommendation server under load, end to end.

Starts a real redis-server, exports a real SASRec attnE (``models.zoo`` + ``models.export``; untrained weights --
latency does not depend on training) over a catalogue of ``--items`` items, registers and promotes it, writes
full-length hybrid histories for ``--users`` users through ``RedisOnlineStore``, starts the server as a uvicorn
subprocess (httptools, uvloop) and drives it from a *separate* load-generator process (``bench.loadgen``:
asyncio keep-alive HTTP/1.1 clients) at fixed concurrency levels for a fixed time each.

Also measured in the same run: a ``GET /healthz`` baseline (the HTTP stack alone), the direct feature read, and an
in-process per-stage breakdown (feature read, encode, model, rank, response JSON) of the same recommend path.
Writes ``bench/results/serve.json`` and its figure ``serve.png`` (:func:`bench.plots.plot_serve`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.loadgen import clean_env, run_load, summary_ms
from bench.plots import plot_serve
from omniseq.infra.process import free_port

RESULTS = Path(__file__).resolve().parent / "results" / "serve.json"
VIEW = "user_hybrid_seq_v1"  # the last 50 tokens
T0 = 1_700_000_000_000


# --- set-up -------------------------------------------------------------------------------------------------------


def start_redis(port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (Debian package redis-server)")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            return proc
        except redis.exceptions.ConnectionError:
            time.sleep(0.02)
    proc.terminate()
    raise SystemExit(f"redis-server did not start on port {port}")


def export_model(registry_root: Path, n_items: int, max_len: int, work: Path) -> tuple[str, list[str]]:
    from models.base import ModelConfig
    from models.export import export_torchscript
    from models.inputs import InputSpec, build_vocab
    from models.registry import ModelRegistry
    from models.zoo import build_model

    vocab = build_vocab(f"i{n}" for n in range(n_items))
    spec = InputSpec(max_len=max_len, max_basket=16, store_mode="attn")
    config = ModelConfig(
        name="sasrec_attne", n_items=len(vocab), max_len=max_len, store_mode="attn", dropout=0.0
    )
    art = work / "artifact"
    art.mkdir()
    export_torchscript(build_model(config), art / "model.pt")
    (art / "vocab.json").write_text(json.dumps(vocab))
    registry = ModelRegistry(registry_root)
    manifest = {"model_name": "sasrec_attne", "config": config.to_dict(), "input_spec": spec.to_dict(),
                "feature_versions": {"sequence": VIEW}, "train_data_range": {}, "metrics": {}}  # fmt: skip
    version = registry.register(art, manifest)
    registry.promote(version)
    return version, vocab


def write_histories(port: int, users: list[str], vocab: list[str], max_len: int, seed: int) -> None:
    import redis
    from tqdm import tqdm

    from omniseq.features.online import RedisOnlineStore
    from omniseq.features.sequence import BASKET_CODE, HybridSequence, Token

    rng = random.Random(seed)
    items = vocab[2:]
    store = RedisOnlineStore(redis.Redis(port=port))
    rows = []
    for u in tqdm(users, desc="histories", unit="user"):
        tokens = []
        for i in range(max_len):  # full length: max_len tokens, about 20% in-store baskets
            if rng.random() < 0.2:
                basket = tuple(rng.sample(items, rng.randint(1, 6)))
                tokens.append(
                    Token(BASKET_CODE, T0 + i * 1000, "", basket, f"store{rng.randrange(5)}", f"t{i}")
                )
            else:
                tokens.append(Token(rng.randrange(4), T0 + i * 1000, rng.choice(items), key=f"e{i}"))
        seq = HybridSequence(u, max_len, tokens)
        rows.append((u, seq.to_features(), seq.last_ts))
    store.write(VIEW, rows)


def start_server(
    port: int, redis_port: int, registry_root: Path, args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    env = clean_env(OMNISEQ_REDIS_PORT=str(redis_port), OMNISEQ_REGISTRY_DIR=str(registry_root),
                     OMNISEQ_TORCH_THREADS=str(args.torch_threads), OMNISEQ_CHAMPION_POLL_S="5")  # fmt: skip
    cmd = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning", "--workers", str(args.workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not become ready in 120 s")


# --- measurements -------------------------------------------------------------------------------------------------


def scrape_stages(port: int) -> dict[str, tuple[float, float]]:
    """(sum seconds, count) per recommend stage from the server's /metrics (one worker's view)."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[str, list[float]] = {}
    for line in text.splitlines():
        for suffix, slot in (("_sum", 0), ("_count", 1)):
            prefix = f'omniseq_recommend_stage_seconds{suffix}{{stage="'
            if line.startswith(prefix):
                stage = line[len(prefix) : line.index('"', len(prefix))]
                out.setdefault(stage, [0.0, 0.0])[slot] = float(line.rsplit(" ", 1)[1])
    return {k: (v[0], v[1]) for k, v in out.items()}


def stage_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    means = {}
    for stage, (s1, c1) in after.items():
        s0, c0 = before.get(stage, (0.0, 0.0))
        if c1 > c0:
            means[stage] = round((s1 - s0) / (c1 - c0) * 1000, 4)
    return means


def in_process_breakdown(
    redis_port: int, registry_root: Path, users: list[str], n: int, k: int, threads: int
) -> dict[str, Any]:
    """The recommend path stage by stage in this process, sequentially (no HTTP, no contention from load)."""
    import redis
    import torch

    from models.inputs import encode_sequence
    from models.registry import ModelRegistry
    from omniseq.features.online import RedisOnlineStore
    from omniseq.features.sequence import HybridSequence
    from serving.model_manager import load_bundle
    from serving.recommender import FEATURE_NAMES, Recommender

    torch.set_num_threads(threads)
    registry = ModelRegistry(registry_root)
    mv = registry.champion()
    assert mv is not None
    bundle = load_bundle(mv)
    store = RedisOnlineStore(redis.Redis(port=redis_port))
    times: dict[str, list[float]] = {
        s: [] for s in ("feature_read", "encode", "model", "rank", "response_json")
    }
    for i in range(n):
        u = users[i % len(users)]
        t0 = time.perf_counter()
        row = store.read(VIEW, [u], FEATURE_NAMES)[0]
        t1 = time.perf_counter()
        assert row is not None
        seq = HybridSequence.from_features(u, row, max_len=bundle.spec.max_len)
        tokens, baskets = encode_sequence(seq, bundle.index, bundle.spec)
        t2 = time.perf_counter()
        with torch.inference_mode():
            scores = bundle.module(tokens.unsqueeze(0), baskets.unsqueeze(0))[0]
            t3 = time.perf_counter()
            items = Recommender._rank(bundle, scores, k, (), None)
        t4 = time.perf_counter()
        json.dumps({"user_id": u, "items": [{"item_id": a, "score": b} for a, b in items], "model_version":
                    bundle.version, "feature_versions": bundle.feature_versions, "fallback": False})  # fmt: skip
        t5 = time.perf_counter()
        for stage, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            times[stage].append(dt)
    out: dict[str, Any] = {stage: summary_ms(v) for stage, v in times.items()}
    out["total"] = summary_ms([sum(x) for x in zip(*times.values(), strict=True)])
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="omniseq bench serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=50_000, help="catalogue size (default 50,000)")
    p.add_argument("--users", type=int, default=2_000, help="users with full-length histories")
    p.add_argument("--max-len", type=int, default=50, help="history length (the feature view keeps 50)")
    p.add_argument("--concurrency", default="1,2,4,8", help="comma-separated client connection counts")
    p.add_argument("--duration", type=float, default=8.0, help="seconds measured per level")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each level")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--breakdown-n", type=int, default=2_000, help="requests timed stage by stage in-process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.max_len > 50:
        raise SystemExit(f"--max-len {args.max_len}: the benchmark's feature view {VIEW} keeps 50 tokens")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below on SIGTERM too
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    users = [f"u{n}" for n in range(args.users)]
    redis_port, api_port = free_port(), free_port()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="omniseq-bench-serve-") as tmp:
        work = Path(tmp)
        redis_proc = start_redis(redis_port)
        server = None
        try:
            t = time.perf_counter()
            version, vocab = export_model(work / "registry", args.items, args.max_len, work)
            write_histories(redis_port, users, vocab, args.max_len, args.seed)
            setup_s = time.perf_counter() - t
            server = start_server(api_port, redis_port, work / "registry", args)
            healthz = run_load(api_port, "/healthz", max(levels), users, args, work)
            results = []
            for c in levels:
                before = scrape_stages(api_port)
                res = run_load(api_port, "/recommend", c, users, args, work)
                res["server_stage_mean_ms"] = stage_means(before, scrape_stages(api_port))
                print(json.dumps(res))
                results.append(res)
            server.terminate()
            server.wait(timeout=30)
            server = None
            breakdown = in_process_breakdown(
                redis_port, work / "registry", users, args.breakdown_n, args.k, args.torch_threads
            )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            redis_proc.terminate()
            redis_proc.wait(timeout=30)
    report = _report(args, version, len(vocab), setup_s, healthz, results, breakdown, load_before)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} and {plot_serve(report, args.out.with_suffix('.png'))}")
    return 0


def _report(args: argparse.Namespace, version: str, vocab_size: int, setup_s: float, healthz: dict[str, Any],
            results: list[dict[str, Any]], breakdown: dict[str, Any], load_before: tuple[float, ...]) -> dict[str, Any]:  # fmt: skip
    import torch

    met = [
        r["concurrency"]
        for r in results
        if r["p99_ms"] <= 5.0 and r["throughput_rps"] >= 700 and not r["errors"]
    ]
    best = max(results, key=lambda r: r["throughput_rps"])
    return {
        "benchmark": "serve",
        "setup": {
            "model": "SASRec attnE (models.zoo build_model + models.export.export_torchscript, untrained weights)",
            "model_version": version,
            "vocab_size": vocab_size,
            "items": args.items,
            "users": args.users,
            "history_tokens": args.max_len,
            "feature_view": VIEW,
            "k": args.k,
            "server": f"uvicorn --workers {args.workers} --loop uvloop --http httptools, torch threads "
            f"{args.torch_threads}",
            "load_generator": "separate process, asyncio keep-alive HTTP/1.1 clients, closed loop",
            "duration_s_per_level": args.duration,
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "setup_s": round(setup_s, 1),
        },
        "baseline_healthz": healthz,
        "recommend": results,
        "in_process_breakdown_ms": breakdown,
        "goal": {"p99_ms": 5.0, "throughput_rps": 700, "met_at_concurrency": met},
        "best_throughput": {
            k: best[k] for k in ("concurrency", "throughput_rps", "p50_ms", "p99_ms", "errors")
        },
        "recommend_vs_healthz_throughput": round(best["throughput_rps"] / healthz["throughput_rps"], 3),
    }


if __name__ == "__main__":
    raise SystemExit(main())
