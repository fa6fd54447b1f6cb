"""``omniseq bench lens``: LENS (next basket + time to next purchase) on real data, against baselines.

* ``tafeng`` -- Ta-Feng, Next-Basket Reality Check preprocessing. One random user fold per seed: the held-out next
  basket of ``test_fraction`` (30 %) of the customers. LENS trains on every customer's history prefixes and on the
  other 70 %'s next baskets. Two protocols on the same held-out baskets:
  the paper's (the greedy decoded basket, <= k = 10 items, variable size; mean recall / precision, F1 of the means,
  and PHR beside precision) and the Reality Check's (a fixed top-10 ranking -- LENS ranks by the first decoding
  step; recall@10, NDCG@10, PHR@10, repeat vs explore recall). Baselines G-TopFreq, P-TopFreq, GP-TopFreq and
  TIFU-KNN answer with top-10 lists on the same users.
* ``dunnhumby`` -- Dunnhumby Complete Journey, real timestamps: the days from each household's second-to-last
  basket to its last one, LENS's time head (time objective only) against the household's median gap and the global
  median gap; the serving interval (10 % / 90 % residual quantiles) and its coverage on the test baskets.

CPU scale-down (this machine): vocabulary, input and target lengths, prefixes per user, epochs and a wall-clock
budget per run are arguments; the JSON records them with what actually ran (epochs, batches, seconds).
Writes ``bench/results/lens_tafeng.json`` / ``lens_dunnhumby.json`` (after every run) and ``lens.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench._lens_tasks import Budget, dunnhumby_run, set_threads, tafeng_run

RESULTS = Path(__file__).parent / "results"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="omniseq bench lens", description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="tafeng,dunnhumby")
    p.add_argument("--sizes", default="lens1000")
    p.add_argument("--dunnhumby-size", default="lens1000")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--max-users", type=int, default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--dunnhumby-epochs", type=int, default=3)
    p.add_argument("--large-seeds", type=int, default=None, help="run LENS2000 for only the first N seeds")
    p.add_argument("--time-budget-s", type=float, default=600.0)
    p.add_argument("--prefixes-per-user", type=int, default=2)
    p.add_argument("--max-items", type=int, default=5000)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def spread(runs: list[dict[str, Any]], *path: str) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one run) of ``run[path...]`` over runs."""
    vals = []
    for r in runs:
        v: Any = r
        for key in path:
            v = v[key]
        vals.append(float(v))
    return {
        "mean": statistics.fmean(vals),
        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "n": len(vals),
    }


TAFENG_METRICS = (
    "recall",
    "precision",
    "f1",
    "phr",
    "ndcg",
    "recall_repeat",
    "recall_explore",
    "mean_pred_size",
)


def summarise_tafeng(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in sorted({r["size"] for r in runs}):
        rs = [r for r in runs if r["size"] == size]
        for proto in ("lens_paper", "lens_rc"):
            out[f"{size.upper()} ({proto[5:]})"] = {m: spread(rs, proto, m) for m in TAFENG_METRICS}
    base_runs = [r for r in runs if r["size"] == runs[0]["size"]]
    for name in base_runs[0]["baselines"]:
        out[name] = {m: spread(base_runs, "baselines", name, m) for m in TAFENG_METRICS}
    return out


def summarise_dunnhumby(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mae_days": {k: spread(runs, "mae_days", k) for k in runs[0]["mae_days"]},
        "interval_coverage": spread(runs, "interval", "coverage_on_test"),
    }


def write(
    path: Path, args: argparse.Namespace, budget: Budget, runs: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    body = {
        "command": "omniseq bench lens " + " ".join(args.argv),
        "machine": {"python": platform.python_version(), "cpu_threads": args.threads},
        "budget": asdict(budget),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "paper_table2": {
            "LENS2000": {"recall": 0.1255, "precision": 0.4032, "f1": 0.1914},
            "LENS1000": {"recall": 0.1138, "precision": 0.3723, "f1": 0.1743},
            "XGBoostClassifier": {"recall": 0.0948, "precision": 0.2779, "f1": 0.1414},
        },
        "summary": summary,
        "runs": runs,
    }
    path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    args = parse(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    set_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    budget = Budget(
        max_users=args.max_users,
        max_items=args.max_items,
        prefixes_per_user=args.prefixes_per_user,
        epochs=args.epochs,
        time_budget_s=args.time_budget_s,
    )
    tasks = args.tasks.split(",")
    if "tafeng" in tasks:
        runs: list[dict[str, Any]] = []
        sizes = args.sizes.split(",")
        for size in sizes:
            seeds = args.seeds[: args.large_seeds] if size == "lens2000" and args.large_seeds else args.seeds
            for seed in seeds:
                logging.info("tafeng %s seed %d", size, seed)
                runs.append(tafeng_run(args.data, size, seed, budget, baselines=size == sizes[0]))
                write(args.out / "lens_tafeng.json", args, budget, runs, summarise_tafeng(runs))
    if "dunnhumby" in tasks:
        druns: list[dict[str, Any]] = []
        for seed in args.seeds:
            logging.info("dunnhumby seed %d", seed)
            dbudget = replace(budget, epochs=args.dunnhumby_epochs)
            druns.append(dunnhumby_run(args.data, args.dunnhumby_size, seed, dbudget)[0])
            write(args.out / "lens_dunnhumby.json", args, budget, druns, summarise_dunnhumby(druns))
    plot(args.out)
    return 0


def plot(out: Path) -> None:
    """``lens.png``: Ta-Feng recall@10 / PHR@10 per method, Dunnhumby MAE per predictor (when the JSON exist)."""
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    tf, dh = out / "lens_tafeng.json", out / "lens_dunnhumby.json"
    if tf.exists():
        s = json.loads(tf.read_text())["summary"]
        names = list(s)
        for j, m in enumerate(("recall", "phr")):
            axes[0].bar([i + 0.4 * j for i in range(len(names))], [s[n][m]["mean"] for n in names], 0.4,
                        yerr=[s[n][m]["std"] for n in names], label=m)  # fmt: skip
        axes[0].set_xticks([i + 0.2 for i in range(len(names))], names, rotation=30, ha="right", fontsize=7)
        axes[0].set_title("Ta-Feng next basket (k = 10)")
        axes[0].legend()
    if dh.exists():
        s = json.loads(dh.read_text())["summary"]["mae_days"]
        axes[1].bar(list(s), [v["mean"] for v in s.values()], yerr=[v["std"] for v in s.values()])
        axes[1].set_title("Dunnhumby days to next purchase: MAE")
    fig.tight_layout()
    fig.savefig(out / "lens.png", dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
