"""``bench/results/serve.json`` and ``serve.png`` from the levels of ``omniseq bench serve``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

GOAL = {"p99_ms": 5.0, "throughput_rps": 700, "large_catalogue_p99_ms": 10.0, "recall@10": 0.98}


def label(r: dict[str, Any]) -> str:
    """A level's configuration in words: ``50k items, 2 workers, user + answer cache, explain``."""
    items = f"{r['items'] // 1000}k" if r["items"] < 1_000_000 else f"{r['items'] / 1e6:g}M"
    w = f"{r['workers']} worker{'s' if r['workers'] > 1 else ''}"
    store = ", store channel (C2Rec)" if r.get("channel") == "store" else ""
    cache = "user + answer cache" if r.get("answer_cache") else "user cache" if r["cache"] else "cache off"
    return f"{items} items, {w}, {cache}{', explain' if r['explain'] else ''}{store}"


def _met(r: dict[str, Any], args: argparse.Namespace) -> bool:
    p99 = GOAL["p99_ms"] if r["items"] == args.items else GOAL["large_catalogue_p99_ms"]
    return not r["errors"] and r["p99_ms"] <= p99 and (r["items"] != args.items or r["throughput_rps"] >= 700)


def best_level(levels: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The fastest level that meets its goal, else the one with the lowest p99."""
    return max(levels, key=lambda r: (_met(r, args), r["throughput_rps"] if _met(r, args) else -r["p99_ms"]))


def report(args: argparse.Namespace, ctx: dict[str, Any], levels: list[dict[str, Any]], extra: dict[str, Any],
           load_before: tuple[float, ...], wall_s: float) -> dict[str, Any]:  # fmt: skip

    plain = [r for r in levels if not r["explain"]]
    best = best_level(plain, args)
    ret = extra.get("retrieval", {})
    return {
        "benchmark": "serve",
        "command": "omniseq bench serve "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items()) if k != "out"),
        "setup": {
            "model": "SASRec attnE (models.zoo build_model + models.export.export_torchscript, untrained transformer; "
            f"clustered item embeddings: {args.cluster_size} items per cluster, spread {args.cluster_spread})",
            "model_versions": ctx["versions"],
            "catalogues": [args.items, args.large_items],
            "users": args.users,
            "history_tokens": args.max_len,
            "feature_view": "user_hybrid_seq_v1",
            "k": args.k,
            "repeat_rate": args.repeat_rate,
            "repeat_rate_meaning": "share of requests whose user has no new behaviour since their previous request "
            "(the rest first store one new behaviour in Redis); same workload with the cache on and off",
            "user_cache_size_per_worker": args.cache_size,
            "answer_cache_size_per_worker": args.cache_size,
            "caches": "cache off: neither; user cache: the user-representation cache alone; user + answer cache: "
            "the finished-answer cache in front of it (both keyed by the exact stored feature row)",
            "server": f"uvicorn --loop uvloop --http httptools, torch threads {args.torch_threads}",
            "load_generator": "separate process, asyncio keep-alive HTTP/1.1 clients, closed loop",
            "duration_s_per_level": args.duration,
            "warmup_s_per_level": args.warmup,
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "setup_s": ctx["setup_s"],
            "wall_s": round(wall_s, 1),
        },
        "baseline_healthz": extra.get("healthz"),
        "recommend": levels,
        "in_process_breakdown_ms": extra.get("breakdown"),
        "item_matrix_product_ms": extra.get("layouts"),
        "item_matrix_product_ms_large": extra.get("layouts_large"),
        "retrieval_large": ret,
        "goal": {
            **GOAL,
            "met_by": [label(r) + f", concurrency {r['concurrency']}" for r in levels if _met(r, args)],
        },
        "best": {
            k: best.get(k)
            for k in (
                "items",
                "workers",
                "cache",
                "answer_cache",
                "concurrency",
                "throughput_rps",
                "p50_ms",
                "p99_ms",
                "errors",
                "server_cpu_ms_per_request",
            )
        },  # fmt: skip
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Latency distribution (quantile vs ms) of every configuration at one concurrency."""
    levels = result["recommend"]
    conc = 4 if any(r["concurrency"] == 4 for r in levels) else levels[0]["concurrency"]
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for r in levels:
        if r["concurrency"] != conc:
            continue
        q = r["latency_quantiles_ms"]
        ax.plot(
            list(q.values()),
            [float(x) for x in q],
            marker=".",
            label=f"{label(r)}: {r['throughput_rps']:.0f}/s",
        )
    ax.axvline(result["goal"]["p99_ms"], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, client side)")
    ax.set_ylabel("quantile")
    ax.set_title(f"POST /recommend at concurrency {conc} (bench/results/serve.json)")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def updated(old: dict[str, Any], new: dict[str, Any], channels: set[str]) -> dict[str, Any]:
    """``old`` with its levels of ``channels`` replaced by ``new``'s (each run's command and set-up kept)."""
    keep = [r for r in old["recommend"] if r.get("channel", "online") not in channels]
    runs = old.get("updates", []) + [{"channels": sorted(channels), "command": new["command"],
                                      "setup": new["setup"]}]  # fmt: skip
    return {**old, "recommend": keep + new["recommend"], "updates": runs}
