"""Cross-channel benchmark: C2Rec against per-channel baselines, per channel, on H&M or the simulator.

Per-channel leave-last-out (:mod:`models.channels`); every model is trained on the same training units and picked
on its channel's validation targets (best epoch by full-ranking NDCG@10); test metrics on the sampled (100
negatives) and full-ranking protocols, for all targets and with cold targets (item in no training unit) split out.
H&M at article and product level (``product_code = article_id // 1000``); the simulator with its known
in-store -> online effect on and off. Writes ``bench/results/c2rec_<name>.json`` and an attention plot.

    omniseq bench c2rec --dataset hm --levels article,product --seeds 0,1,2
    omniseq bench c2rec --dataset sim --sim-users 1500 --seeds 0
    omniseq bench c2rec merge OUT.json BASE.json LATER.json...   # later runs replace BASE's runs of their models
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from bench._c2rec_plot import attention_summary, plot_attention
from models import channels as ch
from models.base import ModelConfig, SequentialRecommender
from models.data import SequenceData, from_histories
from models.evaluate import evaluate
from models.inputs import InputSpec
from models.report import summarise
from models.train import TrainConfig, fit
from models.zoo import build_model
from omniseq.data import Simulator, SimulatorConfig, histories, load
from omniseq.schema import Behaviour, OnlineEvent, StoreTransaction

RESULTS = Path(__file__).resolve().parent / "results"
#: model -> (view, architecture, store mode, channels it answers, ModelConfig overrides)
MODELS: dict[str, tuple[ch.View | None, str, str, tuple[str, ...], dict[str, Any]]] = {
    "popularity": ("hybrid", "popularity", "none", ch.CHANNELS, {}),
    "sasrec": (None, "sasrec", "none", ch.CHANNELS, {}),  # view = the channel itself
    "sasrec_wstore": ("hybrid", "sasrec_wstore", "flatten", ch.CHANNELS, {}),
    "sasrec_attne": ("attn", "sasrec_attne", "attn", ("online",), {}),
    "c2rec": ("attn", "c2rec", "attn", ch.CHANNELS, {}),
    "c2rec_uniform": ("attn", "c2rec", "attn", ch.CHANNELS, {"channel_attention": "uniform"}),
    "c2rec_no_cls": ("attn", "c2rec", "attn", ch.CHANNELS, {"lambda_cls": 0.0}),
    "c2rec_no_attn_loss": ("attn", "c2rec", "attn", ch.CHANNELS, {"lambda_attn": 0.0}),
}
LABELS = {
    "popularity": "Popularity (per channel)",
    "sasrec": "SASRec (one channel)",
    "sasrec_wstore": "SASRec w/store",
    "sasrec_attne": "SASRec attnE",
    "c2rec": "C2Rec",
    "c2rec_uniform": "C2Rec, uniform attention",
    "c2rec_no_cls": "C2Rec, no L_cls",
    "c2rec_no_attn_loss": "C2Rec, no L_attn",
}


def product_level(histories: Mapping[str, list[Behaviour]]) -> dict[str, list[Behaviour]]:
    """H&M articles -> products (``article_id // 1000``); a basket's duplicate products collapse."""

    def prod(item: str) -> str:
        return str(int(item) // 1000)

    out: dict[str, list[Behaviour]] = {}
    for user, seq in histories.items():
        out[user] = [
            replace(b, items=tuple(dict.fromkeys(prod(i) for i in b.items)))
            if isinstance(b, StoreTransaction)
            else replace(b, item_id=prod(b.item_id))
            for b in seq
        ]
    return out


def load_levels(args: argparse.Namespace) -> dict[str, SequenceData]:
    if args.dataset == "hm":
        raw = histories(load("hm", args.data_root))
        levels = {"article": raw, "product": product_level(raw)}
        return {k: from_histories(v) for k, v in levels.items() if k in args.levels}
    worlds: dict[str, dict[str, Any]] = {
        "effect_on": {},
        "effect_off": {"store_complement_boost": 0.0, "store_repeat_penalty": 0.0},
    }
    out = {}
    for name, overrides in worlds.items():
        sim = Simulator(SimulatorConfig(seed=args.sim_seed, **overrides))
        hist = {u.user_id: list(u.behaviours) for u in sim.users(0, args.sim_users)}
        if args.sim_purchases_only:  # the simulator's online funnel: keep what H&M has (purchases)
            hist = {
                u: [b for b in s if not isinstance(b, OnlineEvent) or b.event_type == "purchase"]
                for u, s in hist.items()
            }
        out[name] = from_histories(hist)
    return out


def build(name: str, n_items: int, cfg: TrainConfig, channel: str) -> SequentialRecommender:
    _, arch, mode, _, overrides = MODELS[name]
    base = cfg.model_copy(update={"model": arch}).model_config_for(n_items)
    model = build_model(ModelConfig.from_dict({**base.to_dict(), "store_mode": mode, **overrides}))
    return ch.ChannelView(model, channel) if arch == "c2rec" else model


def run_one(
    sp: ch.ChannelSplit, name: str, channel: str, cfg: TrainConfig, spec: InputSpec
) -> tuple[dict[str, Any], SequentialRecommender]:
    view = MODELS[name][0] or channel  # type: ignore[assignment]
    spec = replace(spec, store_mode=ch.VIEWS[view])  # type: ignore[arg-type]
    label = "both" if MODELS[name][1] == "c2rec" else channel
    train = ch.training_tensors(sp, view, label, spec)  # type: ignore[arg-type]
    valid, _ = ch.eval_set(sp, view, channel, "valid", spec)  # type: ignore[arg-type]
    test, cold = ch.eval_set(sp, view, channel, "test", spec)  # type: ignore[arg-type]
    torch.manual_seed(cfg.seed)
    model = build(name, sp.data.n_items, cfg, channel)
    t0 = time.perf_counter()
    run_cfg = cfg.model_copy(update={"epochs": 1} if name == "popularity" else {})
    hist = fit(model, train, valid, run_cfg)
    row: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 1), "best_epoch": hist.best_epoch}
    for subset, mask in (("all", None), ("warm", ~cold), ("cold", cold)):
        ev = test if mask is None else ch.select(test, mask)
        if len(ev):
            m = evaluate(model, ev, seed=cfg.seed + 1, batch_size=256)
            row[subset] = m
    return row, model


def table(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """level -> channel -> subset -> model -> metric -> {mean, std, n}."""
    out: dict[str, Any] = {}
    keys = {(r["level"], r["channel"], s) for r in runs for s in ("all", "warm", "cold") if s in r}
    for level, channel, subset in sorted(keys):
        by_model: dict[str, list[dict[str, float]]] = {}
        for r in runs:
            if (r["level"], r["channel"]) == (level, channel) and subset in r:
                by_model.setdefault(r["model"], []).append(r[subset])
        summary = summarise(by_model)
        for model, rows in by_model.items():
            summary[model]["users"] = {"mean": rows[0]["users"], "std": 0.0, "n": float(len(rows))}
        out.setdefault(level, {}).setdefault(channel, {})[subset] = summary
    return out


def merge(base: Path, later: list[Path], out: Path) -> None:
    """One results file from several runs: a ``later`` file's run replaces ``base``'s run of the same level, model
    and seed (a re-run after a fix) and adds the others (more seeds); the summary is recomputed, the attention
    comes from the later files and the meta lists every command."""
    docs = [json.loads(p.read_text()) for p in (base, *later)]
    rerun = {m for d in docs[1:] for m in d["meta"]["models"]}
    later_runs = [r for d in docs[1:] for r in d["runs"]]
    replaced = {(r["level"], r["model"], r["seed"]) for r in later_runs}
    runs = [r for r in docs[0]["runs"] if (r["level"], r["model"], r["seed"]) not in replaced] + later_runs
    first_seed = min(r["seed"] for r in runs)
    attention: dict[str, Any] = dict(docs[0]["attention"])
    for d in docs[
        1:
    ]:  # the attention analysis is of the first seed's C2Rec: a later file's only if it re-ran it
        if any(r["seed"] == first_seed for r in d["runs"]):
            attention.update({k: v for k, v in d["attention"].items() if k != "stats"})
    meta = dict(docs[0]["meta"])
    meta["seeds"] = sorted({r["seed"] for r in runs})
    meta["models"] = {**meta["models"], **{m: LABELS[m] for m in rerun}}
    meta["commands"] = docs[0]["meta"].get("commands", [meta["command"]]) + [
        d["meta"]["command"] for d in docs[1:]
    ]
    meta["train_configs"] = docs[0]["meta"].get("train_configs", [meta["train_config"]]) + [
        d["meta"]["train_config"] for d in docs[1:]
    ]
    meta["wall_seconds"] = sum(d["meta"]["wall_seconds"] for d in docs)
    out.write_text(
        json.dumps({"meta": meta, "summary": table(runs), "attention": attention, "runs": runs}, indent=1)
    )
    if any("/" in k for k in attention):
        plot_attention(attention, out.with_name(f"{out.stem}_attention.png"), out.stem)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "merge":  # omniseq bench c2rec merge OUT BASE LATER...
        out, base, *later = (Path(a) for a in argv[1:])
        merge(base, later, out)
        return 0
    p = argparse.ArgumentParser(prog="omniseq bench c2rec", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("hm", "sim"), default="hm")
    p.add_argument("--data-root", default=None)
    p.add_argument("--levels", default="article,product", help="H&M: article and/or product")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--sim-users", type=int, default=1500)
    p.add_argument("--sim-seed", type=int, default=0)
    p.add_argument("--sim-purchases-only", action="store_true")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--n-negatives", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--name", default=None, help="results name (default c2rec_<dataset>)")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.levels = args.levels.split(",")
    models = [m for m in args.models.split(",") if m]
    seeds = [int(s) for s in args.seeds.split(",")]
    cfg = TrainConfig(
        dataset=args.dataset, epochs=args.epochs, patience=args.patience, max_len=args.max_len,
        batch_size=args.batch_size, hidden=args.hidden, n_negatives=args.n_negatives, threads=args.threads,
        progress=False, device="cpu",
    )  # fmt: skip
    spec = InputSpec(max_len=cfg.max_len, max_basket=cfg.max_basket)
    name = args.name or f"c2rec_{args.dataset}"
    out_path = args.results_dir / f"{name}.json"
    runs: list[dict[str, Any]] = []
    attention: dict[str, Any] = {}
    started = time.perf_counter()
    for level, data in load_levels(args).items():
        sp = ch.split(data)
        stats = split_stats(sp)
        print(f"[{level}] {stats}", flush=True)
        attention.setdefault("stats", {})[level] = stats
        for seed in seeds:
            for model in models:
                for channel in MODELS[model][3]:
                    row, fitted = run_one(sp, model, channel, cfg.model_copy(update={"seed": seed}), spec)
                    runs.append({"level": level, "channel": channel, "model": model, "seed": seed, **row})
                    m = row["all"]
                    print(f"[{level} seed {seed}] {model:20s} {channel:6s} full_ndcg@10 {m['full_ndcg@10']:.4f} "
                          f"sampled_hr@10 {m['sampled_hr@10']:.4f} ({row['seconds']}s)", flush=True)  # fmt: skip
                    if model == "c2rec" and seed == seeds[0] and isinstance(fitted, ch.ChannelView):
                        attention[f"{level}/{channel}"] = attention_summary(sp, fitted, channel, spec)
                    _write(out_path, args, cfg, seeds, models, runs, attention, started)
    plot_attention(attention, out_path.with_name(f"{name}_attention.png"), name)
    print(f"wrote {out_path}")
    return 0


def split_stats(sp: ch.ChannelSplit) -> dict[str, Any]:
    held = sp.holdouts
    return {
        "users": len(sp.data.users),
        "items": sp.data.n_items - 2,
        "test_users": {c: sum(c in h for h in held) for c in ch.CHANNELS},
        "both_channels": sum(len(h) == 2 for h in held),
    }


def _write(
    path: Path, args: argparse.Namespace, cfg: TrainConfig, seeds: list[int], models: list[str],
    runs: list[dict[str, Any]], attention: dict[str, Any], started: float,
) -> None:  # fmt: skip
    meta = {
        "dataset": args.dataset,
        "levels": args.levels if args.dataset == "hm" else ["effect_on", "effect_off"],
        "sim": {"users": args.sim_users, "seed": args.sim_seed, "purchases_only": args.sim_purchases_only}
        if args.dataset == "sim"
        else None,
        "seeds": seeds,
        "models": {m: LABELS[m] for m in models},
        "train_config": json.loads(cfg.model_dump_json()),
        "split": "per-channel leave-last-out: each channel's last unit = test, the one before = validation; "
        "a basket's target is its first item; training = all other units",
        "protocols": {
            "sampled": "target among 100 uniform negatives not seen by the user",
            "full": "all items",
        },
        "command": "omniseq bench c2rec " + " ".join(_argv(args)),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    body = {"meta": meta, "summary": table(runs), "attention": attention, "runs": runs}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1, default=str))


def _argv(args: argparse.Namespace) -> list[str]:
    keep: Callable[[str], bool] = lambda k: k not in ("results_dir", "name")  # noqa: E731
    out = []
    for k, v in vars(args).items():
        if keep(k) and v not in (None, False):
            val = ",".join(v) if isinstance(v, list) else v
            out += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(val)])
    return out


if __name__ == "__main__":
    raise SystemExit(main())
