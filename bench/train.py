"""``omniseq bench train``: CPU training throughput (sequences/s, epoch time, peak memory) of SASRec and attnE on
Amazon Beauty (max length 50, hidden 50, 2 blocks, batch 128), and the time to evaluate 10,000 users.

The reference is a plain public PyTorch SASRec measured earlier on this kind of 2-core machine at about 1,440
training sequences/s (27.9 s/epoch); the ratio is only indicative as that reference was not re-run here. Epoch time
is extrapolated from ``--steps`` measured batches (after ``--warmup``). Writes ``bench/results/train.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import torch

REFERENCE_SEQ_PER_S = 1440.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _train_speed(name: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    from models.data import training_tensors
    from models.train import TrainConfig
    from models.zoo import build_model

    cfg = TrainConfig(
        model=name,
        hidden=50,
        blocks=2,
        max_len=50,
        batch_size=128,
        d_attn=50,
        loss=args.loss,
        n_negatives=args.negatives,
        progress=False,
    )
    train = training_tensors(data, cfg.input_spec())
    torch.manual_seed(0)
    model = build_model(cfg.model_config_for(data.n_items)).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n = int(train["tokens"].shape[0])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    t0, seqs = 0.0, 0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            t0, seqs = time.perf_counter(), 0
        idx = order[(step * 128) % n :][:128]
        loss = model.loss({k: v[idx] for k, v in train.items()})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seqs += int(idx.shape[0])
    elapsed = time.perf_counter() - t0
    rate = seqs / elapsed
    return {
        "model": name,
        "loss": args.loss,
        "n_negatives": args.negatives,
        "measured_steps": args.steps,
        "sequences_per_s": round(rate, 1),
        "epoch_s_extrapolated": round(n / rate, 2),
        "training_sequences": n,
        "speedup_vs_reference": round(rate / REFERENCE_SEQ_PER_S, 3),
        "peak_rss_mb": round(_rss_mb(), 1),
        "_model": model,
    }


def _eval_time(model: Any, data: Any, users: int) -> dict[str, Any]:
    from models.data import eval_set
    from models.evaluate import evaluate
    from models.inputs import InputSpec

    ev = eval_set(data, InputSpec(50, 16, "none"), "test").subset(users)
    out: dict[str, Any] = {"users": len(ev)}
    for protocol in ("full", "sampled"):
        t0 = time.perf_counter()
        m = evaluate(model, ev, protocols=(protocol,))
        out[f"{protocol}_s"] = round(time.perf_counter() - t0, 3)
        out[f"{protocol}_ndcg@10_untrained"] = round(m[f"{protocol}_ndcg@10"], 5)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="omniseq bench train", description=__doc__)
    p.add_argument("--dataset", default="beauty")
    p.add_argument("--steps", type=int, default=40, help="measured training batches per model")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--loss", default="sampled", choices=["sampled", "full"])
    p.add_argument("--negatives", type=int, default=256)
    p.add_argument("--eval-users", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("bench/results/train.json"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from models.data import from_dataset

    data = from_dataset(args.dataset)
    results = [_train_speed(name, data, args) for name in ("sasrec", "sasrec_attne")]
    evaluation = _eval_time(results[0].pop("_model"), data, args.eval_users)
    results[1].pop("_model")
    report = {
        "dataset": args.dataset,
        "setup": "max_len 50, hidden 50, 2 blocks, batch 128, Adam, CPU",
        "reference_sequences_per_s": REFERENCE_SEQ_PER_S,
        "reference_note": "plain public PyTorch SASRec (BCE, 1 negative), not re-run in this benchmark",
        "train": results,
        "evaluation": evaluation,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0
