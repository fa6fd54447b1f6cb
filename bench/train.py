"""``omniseq bench train``: CPU training throughput (sequences/s, epoch time, peak memory) on Amazon Beauty
(max length 50, hidden 50, 2 blocks, batch 128, Adam), against a baseline measured in the same run.

Runs, each for ``--epochs`` whole epochs over the same training sequences through the real training loop
(:func:`models.train.train_epoch`), then evaluated on all (or ``--eval-users``) test users with both protocols:

``reference``     the plain public-style PyTorch SASRec (:mod:`bench.reference_sasrec`): BCE, one negative per
                  position, fixed-width batches (the baseline every ratio is taken against)
``sasrec_plain``  omniseq's SASRec (sampled cross-entropy, ``--negatives`` shared negatives), same fixed-width
                  batches as the reference: the model and loss alone
``sasrec``        omniseq's SASRec as ``omniseq train`` runs it: length-bucketed batches, leading padding trimmed
``sasrec_attne``  SASRec attnE, as ``omniseq train`` runs it

The issue's figure for the public implementation on this kind of machine (about 1,440 sequences/s, 27.9 s/epoch)
is recorded for context; the ratios use the reference measured here. Also times the evaluation of 10,000 users.
Writes ``bench/results/train.json`` and ``bench/results/train.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.reference_sasrec import ReferenceSASRec
from models.data import eval_set, from_dataset, training_tensors
from models.evaluate import evaluate
from models.train import TrainConfig, train_epoch
from models.zoo import build_model

PUBLISHED_REFERENCE_SEQ_PER_S = 1440.0
RUNS = ("reference", "sasrec_plain", "sasrec", "sasrec_attne")


class PeakRSS:
    """Peak resident memory of this process while the block runs (polled from /proc every 20 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def _config(run: str, args: argparse.Namespace) -> Any:
    return TrainConfig(
        model="sasrec_attne" if run == "sasrec_attne" else "sasrec",
        dataset=args.dataset,
        hidden=50,
        blocks=2,
        max_len=50,
        batch_size=128,
        d_attn=50,
        loss="sampled",
        n_negatives=args.negatives,
        bucket_by_length=run in ("sasrec", "sasrec_attne"),
        progress=not args.no_progress,
        seed=args.seed,
    )


def _build(run: str, cfg: Any, n_items: int) -> Any:
    torch.manual_seed(cfg.seed)
    mc = cfg.model_config_for(n_items)
    return ReferenceSASRec(mc) if run == "reference" else build_model(mc)


def _measure(run: str, data: Any, args: argparse.Namespace) -> dict[str, Any]:
    cfg = _config(run, args)
    spec = cfg.input_spec()
    train = training_tensors(data, spec)
    n = int(train["tokens"].shape[0])
    model = _build(run, cfg, data.n_items).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    epoch_s: list[float] = []
    with PeakRSS() as mem:
        for epoch in range(args.epochs):
            t0 = time.perf_counter()
            train_epoch(model, opt, train, cfg, torch.device("cpu"), gen, f"{run} epoch {epoch + 1}")
            epoch_s.append(time.perf_counter() - t0)
    test = eval_set(data, spec, "test")
    test = test.subset(args.eval_users) if args.eval_users else test
    t0 = time.perf_counter()
    metrics = evaluate(model, test, seed=args.seed)
    eval_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(model, test.subset(10_000), seed=args.seed)
    eval_10k_s = time.perf_counter() - t0
    best = min(epoch_s)
    return {
        "run": run,
        "model": "ReferenceSASRec (BCE, 1 negative)" if run == "reference" else cfg.model,
        "batching": "length-bucketed, trimmed" if cfg.bucket_by_length else "fixed width 50",
        "training_sequences": n,
        "epochs": args.epochs,
        "epoch_s": [round(s, 2) for s in epoch_s],
        "sequences_per_s": round(n / best, 1),
        "peak_rss_mib": round(mem.peak / 2**20, 1),
        "eval_users": int(metrics["users"]),
        "eval_s": round(eval_s, 2),
        "eval_10k_users_s": round(eval_10k_s, 2),
        **{k: round(v, 4) for k, v in metrics.items() if "@" in k},
    }


def _plot(runs: list[dict[str, Any]], path: Path) -> None:
    fig = Figure(figsize=(9, 3.2))
    a, b = fig.subplots(1, 2)
    names = [r["run"] for r in runs]
    a.barh(names, [r["sequences_per_s"] for r in runs], color="tab:blue")
    a.axvline(1.5 * runs[0]["sequences_per_s"], color="grey", linestyle=":", label="goal: 1.5x reference")
    a.set(xlabel="training sequences / s (CPU)", title="training speed")
    a.legend(loc="lower right", fontsize=7)
    b.barh(names, [r["full_ndcg@10"] for r in runs], color="tab:green")
    b.set(xlabel="full-ranking NDCG@10", title=f"quality after {runs[0]['epochs']} epoch(s)")
    b.xaxis.set_major_locator(MaxNLocator(4))
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="omniseq bench train", description=__doc__)
    p.add_argument("--dataset", default="beauty")
    p.add_argument("--epochs", type=int, default=3, help="whole epochs per run (the fastest one is quoted)")
    p.add_argument(
        "--negatives",
        type=int,
        default=1024,
        help="shared negatives of the sampled loss (as the Beauty table)",
    )
    p.add_argument("--eval-users", type=int, default=None, help="test users for the quality figures (all)")
    p.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {RUNS}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", type=Path, default=Path("bench/results/train.json"))
    args = p.parse_args(argv)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not runs or runs[0] != "reference" or set(runs) - set(RUNS):
        p.error(f"--runs must start with 'reference' and be among {RUNS}")
    if args.threads:
        torch.set_num_threads(args.threads)

    data = from_dataset(args.dataset)
    results = [_measure(run, data, args) for run in runs]
    base = results[0]["sequences_per_s"]
    for r in results:
        r["speed_vs_reference"] = round(r["sequences_per_s"] / base, 2)
    report = {
        "dataset": args.dataset,
        "setup": "max_len 50, hidden 50, 2 blocks, 1 head, dropout 0.2, batch 128, Adam lr 1e-3, CPU",
        "goal": "sequences_per_s >= 1.5 x reference at equal or better quality",
        "published_reference_sequences_per_s": PUBLISHED_REFERENCE_SEQ_PER_S,
        "reference_here_vs_published": round(base / PUBLISHED_REFERENCE_SEQ_PER_S, 2),
        "runs": results,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    _plot(results, args.out.with_suffix(".png"))
    print(json.dumps(report, indent=1))
    return 0
