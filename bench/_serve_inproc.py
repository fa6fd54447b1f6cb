"""The in-process parts of ``omniseq bench serve``: the recommend path stage by stage (no HTTP), the item-matrix
layouts and dtypes compared, and the retrieval stage's recall@10 and latency against exact scoring."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import redis
import torch

from bench.loadgen import summary_ms
from models.ann import INDEX_FILE, META_FILE, set_search_threads
from models.inputs import encode_sequence
from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore
from omniseq.features.sequence import HybridSequence
from serving.bundle import load_bundle
from serving.recommender import FEATURE_NAMES
from serving.scoring import ItemScorer

VIEW = "user_hybrid_seq_v1"


def _bundle(registry_root: Path, threads: int) -> Any:
    torch.set_num_threads(threads)
    set_search_threads(threads)  # as the server does
    mv = ModelRegistry(registry_root).champion()
    assert mv is not None
    return load_bundle(mv)


def breakdown(
    redis_port: int, registry_root: Path, users: list[str], n: int, k: int, threads: int
) -> dict[str, Any]:
    """The uncached recommend path stage by stage, sequentially: read, decode, encode, user representation,
    catalogue top-k, response JSON."""

    bundle = _bundle(registry_root, threads)
    store = RedisOnlineStore(redis.Redis(port=redis_port))
    stages = ("feature_read", "decode", "encode", "user_repr", "top_k", "response_json")
    times: dict[str, list[float]] = {s: [] for s in stages}
    for i in range(n):
        u = users[i % len(users)]
        t0 = time.perf_counter()
        reply = store.read_raw(VIEW, [u], FEATURE_NAMES)[0]
        t1 = time.perf_counter()
        row = store.decode_raw(VIEW, reply, FEATURE_NAMES)
        assert row is not None
        t2 = time.perf_counter()
        seq = HybridSequence.from_features(u, row, max_len=bundle.spec.max_len)
        tokens, baskets = encode_sequence(seq, bundle.index, bundle.spec)
        t3 = time.perf_counter()
        with torch.inference_mode():
            h = bundle.scorer.represent(bundle.module, tokens, baskets)
            t4 = time.perf_counter()
            values, indices = bundle.scorer.top(h, k)
        t5 = time.perf_counter()
        json.dumps({"user_id": u, "items": [{"item_id": bundle.vocab[a], "score": b} for b, a in zip(values, indices, strict=True)],
                    "model_version": bundle.version, "feature_versions": bundle.feature_versions})  # fmt: skip
        t6 = time.perf_counter()
        for stage, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True):
            times[stage].append(dt)
    out: dict[str, Any] = {stage: summary_ms(v) for stage, v in times.items()}
    out["total"] = summary_ms([sum(x) for x in zip(*times.values(), strict=True)])
    return out


def _timed(fn: Any, n: int) -> dict[str, float]:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return summary_ms(times)


def item_layouts(registry_root: Path, n: int, threads: int) -> dict[str, Any]:
    """One user's product with the whole item matrix in each layout and dtype (the serving choice: fp32 [d, V])."""
    bundle = _bundle(registry_root, threads)
    items = bundle.scorer.items
    h = torch.randn(items.shape[1])
    variants = {
        "fp32 W[V,d] @ h": (items, h, False),
        "fp32 h @ W_t[d,V] (served)": (items.t().contiguous(), h, True),
        "bf16 h @ W_t[d,V]": (items.t().contiguous().bfloat16(), h.bfloat16(), True),
        "fp16 h @ W_t[d,V]": (items.t().contiguous().half(), h.half(), True),
    }
    out: dict[str, Any] = {}
    with torch.inference_mode():
        for name, (w, q, left) in variants.items():
            out[name] = _timed((lambda w=w, q=q: q @ w) if left else (lambda w=w, q=q: w @ q), n)
        scores = h @ variants["fp32 h @ W_t[d,V] (served)"][0]
        out["top_k (k=10) over the scores"] = _timed(lambda: torch.topk(scores, 10), n)
    return out


def retrieval(
    redis_port: int, registry_root: Path, users: list[str], k: int, threads: int, n_timed: int = 300
) -> dict[str, Any]:
    """Recall@k of the served ANN top-k against exact scoring of the whole catalogue, over real users'
    representations; and the latency of both."""

    bundle = _bundle(registry_root, threads)
    ann = bundle.scorer
    if ann.index is None:
        return {"retrieval": "exact (no index)"}
    exact = ItemScorer(ann.items, ann.items.t().contiguous(), None)
    store = RedisOnlineStore(redis.Redis(port=redis_port))
    hs = []
    with torch.inference_mode():
        for u, row in zip(users, store.read(VIEW, users, FEATURE_NAMES), strict=True):
            assert row is not None
            tokens, baskets = encode_sequence(
                HybridSequence.from_features(u, row, 50), bundle.index, bundle.spec
            )
            hs.append(bundle.scorer.represent(bundle.module, tokens, baskets))
        exact_tops = [set(exact.top(h, k)[1]) for h in hs]
        overlap = [len(set(ann.top(h, k)[1]) & e) / k for h, e in zip(hs, exact_tops, strict=True)]
        timed = hs[:n_timed]
        it = iter(range(10**9))
        ann_t = _timed(lambda: ann.top(timed[next(it) % len(timed)], k), len(timed))
        exact_t = _timed(lambda: exact.top(timed[next(it) % len(timed)], k), min(len(timed), 100))
    params = ann.index.params
    champion = ModelRegistry(registry_root).champion()
    assert champion is not None
    folder = Path(champion.path)
    meta = json.loads((folder / META_FILE).read_text())
    sweep: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for nprobe in (16, 32, 64, 128, 256):  # the recall/latency trade-off of the one knob that sets it
            ann.index.index.nprobe = nprobe
            t0, c0 = time.perf_counter(), time.process_time()
            tops = [set(ann.top(h, k)[1]) for h in hs]
            ms, cpu = (time.perf_counter() - t0) / len(hs) * 1000, (time.process_time() - c0) / len(hs) * 1000
            hits = [len(t & e) / k for t, e in zip(tops, exact_tops, strict=True)]
            sweep[str(nprobe)] = {f"recall@{k}": round(sum(hits) / len(hits), 4), "mean_ms": round(ms, 3),
                                  "cpu_ms": round(cpu, 3)}  # fmt: skip
    ann.index.index.nprobe = params.nprobe
    return {
        "recall_by_nprobe": sweep,
        "index": {
            "kind": f"faiss IVF-Flat over the MIPS reduction, {threads} search thread(s)",
            "build_s": meta.get("build_s"),
            "file_mb": round((folder / INDEX_FILE).stat().st_size / 2**20, 1),
            "nlist": params.nlist,
            "nprobe": params.nprobe,
            "candidates_rescored": params.candidates,
        },  # fmt: skip
        "users": len(hs),
        f"recall@{k}": round(sum(overlap) / len(overlap), 4),
        f"ann_top{k}_ms": ann_t,
        f"exact_top{k}_ms": exact_t,
    }
