"""``omniseq bench parsrec``: PARSRec's Table 2 (and Fig. 3) reproduction, and the same table on real baskets.

Data: ``sim`` = the omnichannel simulator in PARSRec's Appendix A setting (:data:`PARSREC_PAPER`: 20 categories x
100 products, two user groups, about 208 baskets per user), or a real basket dataset (``tafeng``, ``dunnhumby``,
``hm``: its in-store baskets, items with fewer than 10 purchases dropped). Split and protocol of the paper
(:mod:`models.basket_eval`): last basket = test, second-to-last = validation; remaining items + 99 random items.
Models: popularity, SASRec, BERT4Rec (the project's own, on the flattened item sequence) and PARSRec, each for every
``--seeds`` seed with the best epoch on validation ``sess_prec@10``. Writes ``bench/results/parsrec[_<data>].json``
and, for ``sim``, the Fig. 3 heatmap PNG (category-level attention per user group against the groups' Sigma).

    omniseq bench parsrec [--data sim] [--users 8192] [--epochs 20] [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench._parsrec_figs import attention_figure
from models.base import ModelConfig
from models.basket_data import baskets_of, from_baskets
from models.basket_eval import PARSRecStepper, SequenceStepper, evaluate_baskets
from models.basket_train import (
    BasketTrainConfig,
    PopularityScorer,
    TrainResult,
    register_parsrec,
    train_parsrec,
    train_sequence_baseline,
)
from models.parsrec import PARSRec, PARSRecConfig
from models.registry import ModelRegistry
from omniseq.data import histories, load
from omniseq.data.sim.config import PARSREC_PAPER, SimulatorConfig
from omniseq.data.sim.simulator import Simulator

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("popularity", "sasrec", "bert4rec", "parsrec")
#: Table 2 of the paper (synthetic and Nielsen), for the side-by-side columns of the README.
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "sim": {
        "popularity": {"hr@10": 0.0066, "ndcg@10": 0.0026, "sess_prec@10": 0.0068},
        "sasrec": {"hr@10": 0.5133, "ndcg@10": 0.3253, "sess_prec@10": 0.5151},
        "bert4rec": {"hr@10": 0.5441, "ndcg@10": 0.3426, "sess_prec@10": 0.5357},
        "parsrec": {"hr@10": 0.5825, "ndcg@10": 0.3800, "sess_prec@10": 0.5792},
    },
}


def load_data(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    if args.data == "sim":
        sim = Simulator(SimulatorConfig(**PARSREC_PAPER, seed=args.data_seed))
        raw: dict[str, list[tuple[str, ...]]] = {}
        groups: dict[str, int] = {}
        for user in sim.users(0, args.users):
            raw[user.user_id] = [b.items for b in user.behaviours]  # type: ignore[union-attr]
            groups[user.user_id] = user.profile.group
        data = from_baskets(raw, min_basket=2, max_basket=10)
        return data, {"simulator": dict(PARSREC_PAPER), "groups": groups, "sim": sim}

    hist = histories(load(args.data))
    if args.users:
        hist = dict(list(hist.items())[: args.users])
    data = from_baskets(baskets_of(hist), min_basket=2, max_basket=args.max_basket, min_item_count=10)
    return data, {}


def run_model(name: str, data: Any, seed: int, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    cfg = BasketTrainConfig(
        epochs=args.epochs,
        seed=seed,
        patience=args.patience,
        max_history=args.max_history,
        batch_size=256,
    )
    train, _, test = data.split()
    t0 = time.perf_counter()
    if name == "popularity":
        pop = PopularityScorer(data.item_counts(train))
        test_m = evaluate_baskets(SequenceStepper(pop, 1), data, test, 1, seed=seed)
        return {"test": test_m, "best_epoch": 0, "seconds": time.perf_counter() - t0}
    if name == "parsrec":
        pc = PARSRecConfig(
            n_items=data.n_items,
            n_users=data.n_users,
            dim=args.dim,
            history_pool=args.pool,
            max_history=args.max_history,
        )
        res = train_parsrec(data, pc, cfg, log)
        assert isinstance(res.model, PARSRec)
        test_m = evaluate_baskets(PARSRecStepper(res.model), data, test, args.max_history, seed=seed)
    else:
        mc = ModelConfig(
            name=name,
            n_items=data.n_items,
            hidden=args.baseline_dim,
            blocks=2,
            heads=2,
            dropout=0.2,
            max_len=args.max_len,
            loss="full",
        )
        res = train_sequence_baseline(data, mc, cfg, log)
        test_m = evaluate_baskets(
            SequenceStepper(res.model, args.max_len), data, test, args.max_len, seed=seed
        )
    out = {"test": test_m, "val": res.val, "best_epoch": res.best_epoch, "curve": res.curve}
    out["seconds"] = time.perf_counter() - t0
    out["_model"] = res.model
    return out


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, float]]]:
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name, per_seed in runs.items():
        keys = [k for k in per_seed[0]["test"] if "@" in k]
        table[name] = {
            k: {
                "mean": float(np.mean([r["test"][k] for r in per_seed])),
                "std": float(np.std([r["test"][k] for r in per_seed])),
            }
            for k in keys
        }
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="omniseq bench parsrec", description=__doc__.splitlines()[0])
    p.add_argument("--data", default="sim", help="sim | tafeng | dunnhumby | hm")
    p.add_argument(
        "--users", type=int, default=8192, help="simulated users (real data: first N users, 0 = all)"
    )
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--pool", default="mean", choices=["mean", "sum"])
    p.add_argument("--baseline-dim", type=int, default=64)
    p.add_argument("--max-len", type=int, default=200, help="SASRec/BERT4Rec input length")
    p.add_argument("--max-history", type=int, default=1000)
    p.add_argument("--max-basket", type=int, default=20)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="default bench/results/parsrec[_<data>].json")
    p.add_argument("--no-figure", action="store_true")
    p.add_argument(
        "--register", default=None, help="registry folder: register the first seed's PARSRec there"
    )
    p.add_argument("--promote", action="store_true", help="and make it the basket family's champion")
    p.add_argument("--sequence-view", default="user_hybrid_seq_v2", help="history feature view for serving")
    p.add_argument(
        "--merge", action="store_true", help="keep the other models' runs already in the output file"
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = (
        Path(args.out)
        if args.out
        else RESULTS / ("parsrec.json" if args.data == "sim" else f"parsrec_{args.data}.json")
    )

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    data, extra = load_data(args)
    log(f"data {args.data}: {data.n_users - 1} users, {data.n_items - 2} items, {data.n_actions()} actions")
    runs: dict[str, list[dict[str, Any]]] = {}
    figure = None
    for name in args.models.split(","):
        for seed in args.seeds:
            log(f"{name} seed {seed}")
            r = run_model(name, data, seed, args, log)
            model = r.pop("_model", None)
            log(f"{name} seed {seed}: test {json.dumps({k: round(v, 4) for k, v in r['test'].items()})}")
            settings = {k: getattr(args, k) for k in ("users", "epochs", "patience", "dim", "pool")}
            settings.update(
                max_len=args.max_len, baseline_dim=args.baseline_dim, max_history=args.max_history
            )
            runs.setdefault(name, []).append({"seed": seed, "settings": settings, **r})
            if name == "parsrec" and seed == args.seeds[0] and args.data == "sim" and not args.no_figure:
                figure = attention_figure(model, data, extra["groups"], extra["sim"], out.with_suffix(".png"))
            if name == "parsrec" and seed == args.seeds[0] and args.register:
                runs[name][-1]["registered"] = _register(model, r, data, args)
            _write(out, args, argv, data, runs, figure, time.perf_counter() - t0)
    log(f"wrote {out}")
    return 0


def _register(model: Any, r: dict[str, Any], data: Any, args: argparse.Namespace) -> str:
    result = TrainResult(model, r["best_epoch"], r.get("val", {}))
    version = register_parsrec(args.register, result, data, r["test"], args.sequence_view)
    if args.promote:
        ModelRegistry(args.register).promote(version)
    print(f"registered basket model {version}" + (" (champion)" if args.promote else ""), file=sys.stderr)
    return version


def _write(
    out: Path,
    args: argparse.Namespace,
    argv: list[str] | None,
    data: Any,
    runs: Any,
    figure: Any,
    secs: float,
) -> None:
    command = "omniseq bench parsrec " + " ".join(argv if argv is not None else sys.argv[1:])
    commands = [command]
    if args.merge and out.is_file():  # another invocation's models (e.g. the baselines run in parallel)
        old = json.loads(out.read_text())
        merged = {k: list(v) for k, v in old.get("runs", {}).items()}
        for name, per_seed in runs.items():
            seeds = {r["seed"] for r in per_seed}
            merged[name] = [r for r in merged.get(name, []) if r["seed"] not in seeds] + per_seed
        runs = {k: sorted(v, key=lambda r: r["seed"]) for k, v in merged.items()}
        figure = figure or old.get("figure")
        commands = [c for c in old.get("commands", []) if c != command] + [command]
    payload = {
        "benchmark": "parsrec",
        "commands": commands,
        "args": {k: v for k, v in vars(args).items() if k not in ("merge", "register", "promote")},
        "data": {
            "name": args.data,
            "users": data.n_users - 1,
            "items": data.n_items - 2,
            "actions": data.n_actions(),
            "baskets": int(sum(len(b) for b in data.baskets)),
        },
        "protocol": "last basket test, second-to-last validation; remaining basket items + 99 random items",
        "table": summarize(runs),
        "paper": PAPER.get(args.data),
        "runs": runs,
        "figure": figure,
        "seconds": secs,
        "machine": {
            "cpus": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, default=float))


if __name__ == "__main__":
    raise SystemExit(main())
