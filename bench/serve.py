"""``omniseq bench serve``: the recommendation server under load, end to end.

Starts a real redis-server, exports a real SASRec attnE (``models.zoo`` + ``models.export``; untrained transformer
weights -- latency does not depend on training) over a catalogue of ``--items`` items and another of
``--large-items`` items (with its ANN index, ``models.ann``), registers and promotes it, writes full-length hybrid
histories for ``--users`` users through ``RedisOnlineStore``, starts the server as a uvicorn subprocess (httptools,
uvloop) once per configuration (catalogue, workers, user cache on/off) and drives it from a *separate*
load-generator process (``bench.loadgen``) at fixed concurrency levels, with and without ``explain``.

Workload: before a request, with probability ``1 - --repeat-rate`` the user gets a new behaviour (stored in Redis
by the load generator), so ``--repeat-rate`` of requests find the user's row unchanged since their last request;
every level, cache on or off, runs the same workload. Item embeddings: an untrained model's are isotropic noise
(no structure any ANN index can use), so both catalogues get clustered item embeddings (``--cluster-size`` items
per cluster around random centres, spread ``--cluster-spread``), a stand-in for a trained model's.

Also measured in the same run: a ``GET /healthz`` baseline, server CPU per request (all worker processes, psutil),
an in-process per-stage breakdown, the item matrix in each layout and dtype, and the retrieval stage's recall@10
against exact scoring over the large catalogue. Writes ``bench/results/serve.json`` and ``serve.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
import torch
from tqdm import tqdm

from bench import _serve_inproc as inproc
from bench._serve_metrics import cpu_seconds, scrape, stage_means
from bench._serve_report import report, updated
from bench.loadgen import clean_env, run_load
from bench.plots import plot_serve
from feature_repo.views import BASKET_CODE
from models.ann import write_item_index
from models.base import ModelConfig
from models.export import export_torchscript
from models.inputs import InputSpec, build_vocab
from models.registry import ModelRegistry
from models.zoo import build_model
from omniseq.features.online import RedisOnlineStore, redis_key
from omniseq.features.sequence import HybridSequence, Token
from omniseq.infra.process import free_port
from omniseq.infra.redis import RedisServer
from omniseq.settings import StackSettings

RESULTS = Path(__file__).resolve().parent / "results" / "serve.json"
VIEW = inproc.VIEW  # the last 50 tokens
T0 = 1_700_000_000_000


@dataclass(frozen=True)
class ServerConfig:
    items: int
    workers: int
    cache: bool  # the user-representation cache
    channel: str = "online"  # "store": POST /recommend with channel "store", answered by the C2Rec champion
    answer_cache: bool = False  # the finished-answer cache (serving.answer_cache), beside the user cache


# --- set-up -------------------------------------------------------------------------------------------------------


def start_redis(port: int, work: Path) -> RedisServer:
    """A throw-away redis-server on ``127.0.0.1:port`` (no persistence, no password; data under ``work``), started
    and waited on by the stack's own launcher."""
    settings = StackSettings(
        run_dir=work, redis_host="127.0.0.1", redis_port=port, redis_password=None, redis_persistence=False
    )
    return RedisServer(settings).start()


def clustered_items(n: int, d: int, cluster_size: int, spread: float, seed: int) -> Any:
    """``[n, d]`` item embeddings around ``n / cluster_size`` random centres (row 0, padding, zero)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(max(1, n // cluster_size), d, generator=g)
    assign = torch.randint(0, centres.shape[0], (n,), generator=g)
    items = (centres[assign] + spread * torch.randn(n, d, generator=g)) * 0.02  # the model's init scale
    items[0] = 0
    return items


def export_model(
    registry_root: Path, n_items: int, args: argparse.Namespace, work: Path, name: str = "sasrec_attne"
) -> tuple[str, list[str]]:
    """Register and promote an untrained model with clustered item embeddings: SASRec attnE (family next_item),
    or with ``name="c2rec"`` a C2Rec exported for the store channel (family cross_channel; its channel scorer has no
    single item matrix, so it is scored exactly, without an ANN index)."""
    vocab = build_vocab(f"i{n}" for n in range(n_items))
    spec = InputSpec(max_len=args.max_len, max_basket=16, store_mode="attn")
    config = ModelConfig(name=name, n_items=len(vocab), max_len=args.max_len, store_mode="attn", dropout=0.0)
    torch.manual_seed(args.seed)
    model: Any = build_model(config)
    with torch.no_grad():
        model.item_weights().copy_(
            clustered_items(len(vocab), config.hidden, args.cluster_size, args.cluster_spread, args.seed)
        )
    channel = "store" if name == "c2rec" else None
    art = work / f"artifact-{name}-{n_items}"
    art.mkdir()
    scripted = export_torchscript(model, art / "model.pt", channel)
    with torch.inference_mode():
        t = time.perf_counter()
        if (
            hasattr(scripted, "item_embeddings")
            and write_item_index(art, scripted.item_embeddings()) is not None
        ):
            print(f"ANN index over {len(vocab):,} items built in {time.perf_counter() - t:.1f} s", flush=True)
    (art / "vocab.json").write_text(json.dumps(vocab))
    registry = ModelRegistry(registry_root)
    manifest = {"model_name": name, "config": config.to_dict(), "input_spec": spec.to_dict(),
                "feature_versions": {"sequence": VIEW}, "train_data_range": {}, "metrics": {},
                **({"family": "cross_channel", "channel": channel} if channel else {})}  # fmt: skip
    version = registry.register(art, manifest)
    registry.promote(version)
    return version, vocab


def _resp(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def write_histories(
    port: int, users: list[str], vocab: list[str], args: argparse.Namespace, work: Path
) -> Path:
    """Full-length histories (about 20% in-store baskets) in Redis; returns the load generator's ``writes`` file:
    per user two HSET commands that store the row with one more (online) behaviour."""

    rng = random.Random(args.seed)
    items = vocab[2:]
    store = RedisOnlineStore(redis.Redis(port=port))
    rows, writes = [], {}
    for u in tqdm(users, desc="histories", unit="user"):
        tokens = []
        for i in range(args.max_len):
            if rng.random() < 0.2:
                basket = tuple(rng.sample(items, rng.randint(1, 6)))
                tokens.append(
                    Token(BASKET_CODE, T0 + i * 1000, "", basket, f"store{rng.randrange(5)}", f"t{i}")
                )
            else:
                tokens.append(Token(rng.randrange(4), T0 + i * 1000, rng.choice(items), key=f"e{i}"))
        seq = HybridSequence(u, args.max_len, tokens)
        rows.append((u, seq.to_features(), seq.last_ts))
        variants = []
        for j in range(2):
            new = HybridSequence(u, args.max_len, list(tokens))
            new.add(Token(0, T0 + (args.max_len + j) * 1000, rng.choice(items), key=f"new{j}"))
            mapping = store.encode_row(VIEW, new.to_features(), new.last_ts)
            variants.append(_resp(b"HSET", redis_key(u), *(x for kv in mapping.items() for x in kv)))
        writes[u] = variants
    store.write(VIEW, rows)
    path = work / f"writes-{len(vocab)}.pkl"
    path.write_bytes(pickle.dumps(writes))
    return path


def start_server(port: int, redis_port: int, registry_root: Path, cfg: ServerConfig,
                 args: argparse.Namespace) -> subprocess.Popen[bytes]:  # fmt: skip
    env = clean_env(OMNISEQ_REDIS_PORT=str(redis_port), OMNISEQ_REGISTRY_DIR=str(registry_root),
                    OMNISEQ_TORCH_THREADS=str(args.torch_threads), OMNISEQ_CHAMPION_POLL_S="5",
                    OMNISEQ_USER_CACHE_SIZE=str(args.cache_size if cfg.cache else 0),
                    OMNISEQ_ANSWER_CACHE_SIZE=str(args.cache_size if cfg.answer_cache else 0))  # fmt: skip
    cmd = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning", "--workers", str(cfg.workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)

    deadline = time.monotonic() + 300
    ready = 0
    while time.monotonic() < deadline and ready < 3 * cfg.workers:  # every worker up (new connections spread)
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            ready = (
                ready + 1 if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200 else 0
            )
        except httpx.HTTPError:
            ready = 0
        time.sleep(0.2)
    if ready < 3 * cfg.workers:
        proc.terminate()
        raise SystemExit("the server did not become ready in 300 s")
    time.sleep(2.0 * cfg.workers)  # the other workers finish loading the model
    return proc


def run_server_levels(cfg: ServerConfig, levels: list[tuple[bool, int]], ctx: dict[str, Any],
                      args: argparse.Namespace) -> list[dict[str, Any]]:  # fmt: skip
    port = free_port()
    server = start_server(port, ctx["redis_port"], ctx["registry"], cfg, args)
    out = []
    try:
        primed: set[bool] = set()
        for explain, c in levels:
            load = {"explain": explain, "channel": cfg.channel, "new_behaviour_rate": 1 - args.repeat_rate,
                    "writes": str(ctx["writes"]), "redis_port": ctx["redis_port"]}  # fmt: skip
            if (cfg.cache or cfg.answer_cache) and explain not in primed:
                # unmeasured, with the levels' requests: every worker has seen the users (the caches' steady state)
                primed.add(explain)
                prime = argparse.Namespace(**{**vars(args), "warmup": 0.0, "duration": args.prime_s})
                run_load(port, "/recommend", 4, ctx["users"], prime, ctx["work"], **load)
            before, cpu0 = scrape(port, cfg.workers), cpu_seconds(server)
            res = run_load(port, "/recommend", c, ctx["users"], args, ctx["work"], **load)
            cpu = cpu_seconds(server) - cpu0
            res.update({**asdict(cfg), "explain": explain, "repeat_rate": args.repeat_rate})
            res["server_cpu_ms_per_request"] = round(
                1000 * cpu / max(1, res["requests"] + res["warmup_requests"]), 3
            )
            res["server_stage_mean_ms"] = stage_means(before, scrape(port, cfg.workers))
            print(json.dumps({k: v for k, v in res.items() if k != "latency_quantiles_ms"}), flush=True)
            out.append(res)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return out


def plan(args: argparse.Namespace) -> list[tuple[ServerConfig, list[tuple[bool, int]]]]:
    """Server configurations and their (explain, concurrency) levels."""
    conc = [int(c) for c in args.concurrency.split(",") if c.strip()]
    small, large = args.items, args.large_items
    mid = [c for c in conc if c in (1, 4)] or conc[:1]
    store = [(ServerConfig(small, 2, True, "store", answer_cache=True), [(False, c) for c in mid])]
    if "online" not in _channels(args):
        return store
    p = [
        (ServerConfig(small, 1, False), [(False, c) for c in conc]),
        (ServerConfig(small, 1, True, answer_cache=True), [(False, c) for c in conc]),
        (ServerConfig(small, 2, False), [(False, c) for c in conc]),
        (
            ServerConfig(small, 2, True),
            [(False, c) for c in mid],
        ),  # the user cache alone (the answer cache's share)
        (
            ServerConfig(small, 2, True, answer_cache=True),
            [(False, c) for c in conc] + [(True, c) for c in mid],
        ),
    ]
    if large:
        p += [
            (
                ServerConfig(large, 2, True, answer_cache=True),
                [(False, c) for c in conc] + [(True, c) for c in mid[-1:]],
            ),
            (ServerConfig(large, 2, False), [(False, c) for c in mid]),
        ]
    return p + (store if "store" in _channels(args) else [])


def _channels(args: argparse.Namespace) -> set[str]:
    return {c.strip() for c in args.channels.split(",") if c.strip()}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="omniseq bench serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=50_000, help="catalogue size (default 50,000)")
    p.add_argument(
        "--large-items", type=int, default=1_000_000, help="large catalogue with ANN retrieval (0: skip)"
    )
    p.add_argument("--users", type=int, default=2_000, help="users with full-length histories")
    p.add_argument("--max-len", type=int, default=50, help="history length (the feature view keeps 50)")
    p.add_argument("--concurrency", default="1,2,4,8", help="comma-separated client connection counts")
    p.add_argument("--duration", type=float, default=8.0, help="seconds measured per level")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each level")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--repeat-rate", type=float, default=0.75,
                   help="share of requests whose user has no new behaviour since their last request")  # fmt: skip
    p.add_argument(
        "--prime-s",
        type=float,
        default=15.0,
        help="unmeasured load before a cache-on server's levels (and again before its explain levels)",
    )
    p.add_argument("--cache-size", type=int, default=20_000,
                   help="user (and answer) cache entries per worker when on")  # fmt: skip
    p.add_argument("--cluster-size", type=int, default=500, help="items per embedding cluster")
    p.add_argument(
        "--cluster-spread", type=float, default=0.5, help="within-cluster spread / between-cluster"
    )
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--breakdown-n", type=int, default=2_000, help="requests timed stage by stage in-process")
    p.add_argument("--recall-users", type=int, default=1_000, help="users whose ANN top-k is checked")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels", default="online,store",
                   help="online: the next-item levels; store: POST /recommend with channel store (C2Rec)")  # fmt: skip
    p.add_argument("--update", action="store_true",
                   help="merge this run's levels into --out, replacing the levels of the same channels")  # fmt: skip
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if not _channels(args) or _channels(args) - {"online", "store"}:
        p.error(f"--channels takes online and/or store, got {args.channels!r}")
    return args


def _catalogue(items: int, ctx: dict[str, Any], args: argparse.Namespace) -> None:
    """Export, register and promote the model of one catalogue and write its users' histories."""
    work: Path = ctx["work"]
    t = time.perf_counter()
    ctx["registry"] = work / f"registry-{items}"
    ctx["version"], vocab = export_model(ctx["registry"], items, args, work)
    if items == args.items and "store" in _channels(args):
        ctx["versions"][f"{items}/store"] = export_model(ctx["registry"], items, args, work, "c2rec")[0]
    ctx["writes"] = write_histories(ctx["redis_port"], ctx["users"], vocab, args, work)
    ctx["setup_s"][str(items)] = round(time.perf_counter() - t, 1)
    ctx["versions"][str(items)] = ctx["version"]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.max_len > 50:
        raise SystemExit(f"--max-len {args.max_len}: the benchmark's feature view {VIEW} keeps 50 tokens")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below on SIGTERM too
    users = [f"u{n}" for n in range(args.users)]
    load_before = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="omniseq-bench-serve-") as tmp:
        ctx: dict[str, Any] = {"work": Path(tmp), "users": users, "redis_port": free_port(), "setup_s": {},
                               "versions": {}}  # fmt: skip
        redis_server = start_redis(ctx["redis_port"], ctx["work"])
        try:
            levels: list[dict[str, Any]] = []
            extra: dict[str, Any] = {}
            online = "online" in _channels(args)
            for items in sorted({args.items, args.large_items if online else 0} - {0}):
                _catalogue(items, ctx, args)
                if items == args.items and online:
                    healthz_port = free_port()
                    server = start_server(healthz_port, ctx["redis_port"], ctx["registry"],
                                          ServerConfig(items, 1, False), args)  # fmt: skip
                    try:
                        extra["healthz"] = run_load(healthz_port, "/healthz", 8, users, args, ctx["work"])
                    finally:
                        server.terminate()
                        server.wait(timeout=60)
                for cfg, cfg_levels in plan(args):
                    if cfg.items == items:
                        levels += run_server_levels(cfg, cfg_levels, ctx, args)
                reg, threads = ctx["registry"], args.torch_threads
                if not online:
                    continue
                if items == args.items:
                    extra["breakdown"] = inproc.breakdown(
                        ctx["redis_port"], reg, users, args.breakdown_n, args.k, threads
                    )
                    extra["layouts"] = inproc.item_layouts(reg, 500, threads)
                else:
                    extra["retrieval"] = inproc.retrieval(
                        ctx["redis_port"], reg, users[: args.recall_users], args.k, threads
                    )
                    extra["layouts_large"] = inproc.item_layouts(reg, 30, threads)
        finally:
            redis_server.stop(timeout=30)
    result = report(args, ctx, levels, extra, load_before, time.time() - started)
    if args.update:
        result = updated(json.loads(args.out.read_text()), result, _channels(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot_serve(result, args.out.with_suffix(".png"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
