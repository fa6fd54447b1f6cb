"""In-store journeys (seed ``gpt_instore_journeys.txt``): GPT vs LSTM vs Markov on store A, and transfer to store B.

Simulates store A and store B journeys (shopping lists from Ta-Feng baskets when ``../shared/data`` has them),
encodes them (DBSCAN pauses, receipts, six-character codes), trains on store A and generates from the first 7 points
of held-out journeys. Reports JS divergence (base 2, lower is better) of zone visit and purchase distributions,
validity and the pause-mapping quality; then fine-tunes the store-A GPT on 8/64/512/2048 store-B journeys versus
training from scratch on them. Writes ``bench/results/journeys.json`` and heatmap PNGs; prints progress.

    omniseq bench journeys [--train-a 2000] [--test 300] [--seeds 0 1 2] [--sizes 8 64 512 2048] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.journey_eval import compare, journey_stats
from models.journey_gpt import JourneyModelConfig, JourneyNet, build_journey_model
from models.journey_plots import heatmap_png, region_grid, zone_grid
from models.journey_tokens import JourneyTokenizer, train_tokenizer
from models.journey_train import MarkovChain, TrainSettings, generate, prompt_of, train_model
from omniseq.data.journey_corpus import basket_source, simulate_corpus
from omniseq.data.journey_encoding import EncodingConfig, mapping_quality
from omniseq.data.sim.store_layout import StoreLayout

RESULTS = Path(__file__).resolve().parent / "results"


def _log(msg: str) -> None:
    print(f"[journeys {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def evaluate_model(
    layout: StoreLayout, model: JourneyNet, tok: JourneyTokenizer, test: Sequence[Sequence[str]], seed: int
) -> tuple[dict[str, float], list[list[str]]]:
    prompts = [prompt_of(w) for w in test]
    cont = generate(model, [tok.encode(p) for p in prompts], seed=seed)
    gen = [p + tok.decode(c) for p, c in zip(prompts, cont, strict=True)]
    return compare(layout, journey_stats(layout, test, 7), journey_stats(layout, gen, 7)), gen


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for name in dict.fromkeys(r["model"] for r in rows):
        runs = [r for r in rows if r["model"] == name]
        entry: dict[str, Any] = {"model": name, "seeds": [r["seed"] for r in runs]}
        for key in (
            "js_trajectory",
            "js_purchase",
            "invalid_step_share",
            "mean_points",
            "purchases_per_journey",
        ):
            vals = [r["metrics"][key] for r in runs]
            entry[key] = round(float(np.mean(vals)), 6)
            entry[f"{key}_std"] = round(float(np.std(vals)), 6)
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="omniseq bench journeys")
    p.add_argument("--train-a", type=int, default=2000)
    p.add_argument("--test", type=int, default=300)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 512, 2048])
    p.add_argument(
        "--source", default="auto", help="basket source: auto (Ta-Feng if present), simulator, ..."
    )
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--bpe-vocab", type=int, default=1000)
    p.add_argument("--epochs", type=float, default=3.0, help="store-A training epochs (also scratch on B)")
    p.add_argument("--finetune-epochs", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=400)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--name", default="journeys")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, not a result)")
    p.add_argument("--no-transfer", action="store_true", help="only the store-A table")
    p.add_argument("--merge", nargs="+", default=None, metavar="NAME",
                   help="fold the runs of results NAME.json (same settings, other seeds) into --name's table")  # fmt: skip
    a = p.parse_args(argv)
    if a.merge:
        return merge(RESULTS / f"{a.name}.json", [RESULTS / f"{m}.json" for m in a.merge])
    if a.quick:
        a.train_a, a.test, a.seeds, a.sizes, a.max_steps = 120, 40, [0], [8, 32], 20
    torch.set_num_threads(a.threads)
    started = time.perf_counter()
    source = basket_source(a.source)
    enc = EncodingConfig()
    out: dict[str, Any] = {"name": a.name, "args": vars(a), "basket_source": source, "encoding": asdict(enc),
                           "machine": {"python": platform.python_version(), "torch": torch.__version__,
                                       "threads": a.threads}}  # fmt: skip
    path = RESULTS / f"{a.name}.json"

    def save() -> None:
        out["seconds"] = round(time.perf_counter() - started, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2))

    n_b = a.test if a.no_transfer else max(a.sizes) + a.test
    _log(f"simulating store A ({a.train_a + a.test}) and B ({n_b}) from {source} baskets")
    ca = simulate_corpus("A", a.train_a + a.test, source=source)
    cb = simulate_corpus("B", n_b, source=source, skip=a.train_a + a.test)
    train_a, test_a = ca.words[: a.train_a], ca.words[a.train_a :]
    train_b, test_b = cb.words[a.test :], cb.words[: a.test]
    out["pause_mapping"] = {"A": mapping_quality(ca.layout, ca.journeys[a.train_a :], enc),
                            "B": mapping_quality(cb.layout, cb.journeys[: a.test], enc)}  # fmt: skip
    _log(f"pause mapping vs ground truth: {out['pause_mapping']}")
    toks = {kind: train_tokenizer(kind, train_a, a.bpe_vocab) for kind in ("bpe", "code")}
    out["tokens_per_journey"] = {
        k: float(np.mean([len(t.encode(w)) for w in train_a])) for k, t in toks.items()
    }
    st = TrainSettings(epochs=a.epochs, max_steps=a.max_steps, batch=a.batch)
    rows: list[dict[str, Any]] = []
    pretrained: tuple[JourneyNet, JourneyModelConfig] | None = None
    for i, seed in enumerate(a.seeds):
        for name, arch, kind in (
            ("gpt-bpe", "gpt", "bpe"),
            ("lstm-bpe", "lstm", "bpe"),
            ("gpt-code", "gpt", "code"),
        ):
            if name == "gpt-code" and (i > 0 or a.no_transfer):
                continue  # tokenizer ablation: first seed of the main run only (CPU budget)
            torch.manual_seed(seed)
            tok = toks[kind]
            cfg = JourneyModelConfig(arch, tok.vocab_size, a.d, a.layers, a.heads, max_len=256)
            model = build_journey_model(cfg)
            fit = train_model(model, [tok.encode(w) for w in train_a], replace(st, seed=seed), _log)
            metrics, gen = evaluate_model(ca.layout, model, tok, test_a, seed)
            rows.append({"model": name, "seed": seed, "train": fit, "metrics": metrics,
                         "params": sum(p.numel() for p in model.parameters())})  # fmt: skip
            _log(f"{name} seed {seed}: {metrics}")
            if name == "gpt-bpe" and i == 0:
                pretrained = (model, cfg)
                _heatmaps(ca.layout, test_a, gen, RESULTS / f"{a.name}_heatmap_A.png")
            out["runs"], out["table"] = rows, _summary(rows)
            save()
        mc = MarkovChain().fit(train_a)
        gen = [prompt_of(w) + mc.generate(prompt_of(w), seed + k) for k, w in enumerate(test_a)]
        metrics = compare(ca.layout, journey_stats(ca.layout, test_a, 7), journey_stats(ca.layout, gen, 7))
        rows.append({"model": "markov", "seed": seed, "metrics": metrics})
        out["runs"], out["table"] = rows, _summary(rows)
        save()
        if (
            i == 0 and not a.no_transfer
        ):  # the transfer curve right after the first seed, so a bounded run still has it
            assert pretrained is not None
            out["transfer"] = _transfer(a, cb.layout, toks["bpe"], pretrained, train_b, test_b, st, save, out)
            save()
    _log(f"done in {out['seconds']} s -> {path}")
    return 0


def merge(target: Path, others: list[Path]) -> int:
    """Add other runs' rows (same data and model settings, other seeds) to ``target`` and recompute its table."""
    out = json.loads(target.read_text())
    keys = ("train_a", "test", "d", "layers", "heads", "max_steps", "batch", "epochs", "bpe_vocab", "source")
    for path in others:
        other = json.loads(path.read_text())
        if any(other["args"][k] != out["args"][k] for k in keys):
            raise SystemExit(f"{path}: different settings, not merged")
        seen = {(r["model"], r["seed"]) for r in out["runs"]}
        out["runs"] += [r for r in other["runs"] if (r["model"], r["seed"]) not in seen]
        out.setdefault("merged", []).append({"file": path.name, "seconds": other["seconds"]})
    out["runs"].sort(key=lambda r: (r["seed"], r["model"]))
    out["table"] = _summary(out["runs"])
    out["args"]["seeds"] = sorted({r["seed"] for r in out["runs"]})
    target.write_text(json.dumps(out, indent=2))
    _log(f"merged {[p.name for p in others]} into {target.name}: seeds {out['args']['seeds']}")
    return 0


def _transfer(
    a: argparse.Namespace,
    layout: StoreLayout,
    tok: JourneyTokenizer,
    pretrained: tuple[JourneyNet, JourneyModelConfig],
    train_b: list[list[str]],
    test_b: list[list[str]],
    st: TrainSettings,
    save: Callable[[], None],
    out: dict[str, Any],
) -> dict[str, Any]:
    """Fine-tune the store-A GPT on n store-B journeys vs a fresh GPT trained on the same n (same tokenizer)."""
    base, cfg = pretrained
    zero, _ = evaluate_model(layout, base, tok, test_b, 0)
    points: list[dict[str, Any]] = []
    out["transfer"] = {"zero_shot": zero, "points": points, "tokenizer": "BPE trained on store A"}
    for n in a.sizes:
        enc = [tok.encode(w) for w in train_b[:n]]
        tuned = copy.deepcopy(base)
        ft = train_model(tuned, enc, replace(st, epochs=a.finetune_epochs, lr=5e-4))
        torch.manual_seed(0)
        fresh = build_journey_model(cfg)
        sc = train_model(fresh, enc, st)
        point = {"n": n, "finetune": evaluate_model(layout, tuned, tok, test_b, 0)[0], "finetune_train": ft,
                 "scratch": evaluate_model(layout, fresh, tok, test_b, 0)[0], "scratch_train": sc}  # fmt: skip
        _log(f"transfer n={n}: finetune {point['finetune']} scratch {point['scratch']}")
        points.append(point)
        save()
    return {"zero_shot": zero, "points": points, "tokenizer": "BPE trained on store A"}


def _heatmaps(layout: StoreLayout, real: list[list[str]], gen: list[list[str]], path: Path) -> None:
    r, g = journey_stats(layout, real, 7), journey_stats(layout, gen, 7)
    heatmap_png(
        layout,
        [("visits: held-out", region_grid(layout, r.visits)), ("visits: GPT", region_grid(layout, g.visits)),
         ("purchases: held-out", zone_grid(layout, r.purchases)), ("purchases: GPT", zone_grid(layout, g.purchases))],
        path, f"store {layout.store_id}: held-out vs GPT-generated journeys",
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
