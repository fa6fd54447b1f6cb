"""``omniseq journeys train|generate|whatif``: in-store journey generation (seed ``gpt_instore_journeys.txt``).

* ``train``: simulate stores A and B, train the GPT on A, fine-tune a copy on B, export both, register them as the
  ``journeys`` model family (and promote it unless ``--no-promote``).
* ``generate --store B --n 1000``: generate journeys with the family's champion, write them as JSON lines and drop
  their purchases (one receipt per journey) as an in-store Parquet drop in the pipeline's landing folder.
* ``whatif --store A --swap drinks snacks``: simulate the store as it is and with two categories' shelf places
  exchanged (same shoppers), and draw visit and purchase heatmaps of both (PNG + JSON).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from models.journey_bundle import FAMILY, JourneyBundle, load_bundle, register, write_artifacts
from models.journey_eval import compare, journey_stats, js_divergence
from models.journey_gpt import JourneyModelConfig, build_journey_model
from models.journey_plots import heatmap_png, region_grid, zone_grid
from models.journey_sample import sample_journeys
from models.journey_tokens import train_tokenizer
from models.journey_train import TrainSettings, generate, prompt_of, train_model
from models.registry import ModelRegistry
from omniseq.data.journey_corpus import basket_source, catalog, simulate_corpus
from omniseq.data.sim.store_plans import store, swap_zones
from omniseq.settings import StackSettings
from pipeline.config import PipelineSettings
from pipeline.producer import write_drop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    tr = sub.add_parser(
        "train", help="simulate, train on store A, fine-tune on B, register family 'journeys'"
    )
    tr.add_argument("--n-a", type=int, default=1000, help="store-A training journeys")
    tr.add_argument("--n-b", type=int, default=256, help="store-B fine-tuning journeys")
    tr.add_argument("--steps", type=int, default=200, help="at most this many training steps per model")
    tr.add_argument(
        "--source", default="auto", help="basket source (auto: Ta-Feng if present, else simulator)"
    )
    tr.add_argument("--d", type=int, default=64)
    tr.add_argument("--layers", type=int, default=2)
    tr.add_argument("--heads", type=int, default=2)
    tr.add_argument("--no-promote", action="store_true")
    ge = sub.add_parser("generate", help="generate journeys; drop their purchases into the landing folder")
    ge.add_argument("--store", required=True, choices=("A", "B"))
    ge.add_argument("--n", type=int, default=1000)
    ge.add_argument("--out", type=Path, default=None, help="JSON-lines folder (default: <run_dir>/journeys)")
    ge.add_argument(
        "--landing", type=Path, default=None, help="in-store landing folder (default: pipeline's)"
    )
    ge.add_argument("--no-drop", action="store_true", help="write the journeys only, no Parquet drop")
    ge.add_argument("--version", default=None, help="a registered journeys version (default: the champion)")
    wi = sub.add_parser("whatif", help="move a zone (swap two categories) and compare heatmaps")
    wi.add_argument("--store", default="A", choices=("A", "B"))
    wi.add_argument("--swap", nargs=2, required=True, metavar=("CATEGORY", "CATEGORY"))
    wi.add_argument("--n", type=int, default=300)
    wi.add_argument("--source", default="simulator")
    wi.add_argument("--png", type=Path, default=Path("bench/results/journeys_whatif.png"))
    for p in (tr, ge, wi):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--registry", type=Path, default=None, help="registry folder (default: StackSettings)")
        p.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    try:
        return int({"train": _train, "generate": _generate, "whatif": _whatif}[args.action](args))
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}")
        return 2


def _registry(args: argparse.Namespace) -> ModelRegistry:
    return ModelRegistry(args.registry or StackSettings().dir("registry"))


def _train(args: argparse.Namespace) -> int:
    source = basket_source(args.source)
    print(f"simulating {args.n_a} store-A and {args.n_b} store-B journeys ({source} baskets) ...")
    ca = simulate_corpus("A", args.n_a, seed=args.seed, source=source)
    cb = simulate_corpus("B", args.n_b, seed=args.seed, source=source, skip=args.n_a)
    tok = train_tokenizer("bpe", ca.words, 1000)
    cfg = JourneyModelConfig("gpt", tok.vocab_size, args.d, args.layers, args.heads, max_len=256)
    torch_seed(args.seed)
    st = TrainSettings(epochs=6, max_steps=args.steps, seed=args.seed)
    model_a = build_journey_model(cfg)
    fit_a = train_model(model_a, [tok.encode(w) for w in ca.words], st, print)
    model_b = copy.deepcopy(model_a)
    fit_b = train_model(model_b, [tok.encode(w) for w in cb.words], replace(st, epochs=3, lr=5e-4), print)
    metrics: dict[str, Any] = {"train_A": fit_a, "train_B": fit_b, "source": source}
    for sid, model, corpus in (("A", model_a, ca), ("B", model_b, cb)):
        held = corpus.words[
            -min(100, len(corpus.words)) :
        ]  # in-sample check only: the bench measures held-out
        starts = [prompt_of(w) for w in held]
        gen = [
            p + tok.decode(c)
            for p, c in zip(starts, generate(model, [tok.encode(p) for p in starts]), strict=True)
        ]
        metrics[f"in_sample_{sid}"] = compare(corpus.layout, journey_stats(corpus.layout, held, 7),
                                              journey_stats(corpus.layout, gen, 7))  # fmt: skip
    prompts = {"A": [prompt_of(w) for w in ca.words[:500]], "B": [prompt_of(w) for w in cb.words[:500]]}
    with tempfile.TemporaryDirectory(prefix="omniseq-journeys-") as tmp:
        files = write_artifacts(
            Path(tmp), {"A": model_a, "B": model_b}, tok, prompts, catalog(ca.journeys + cb.journeys)
        )
        registry = _registry(args)
        version = register(registry, Path(tmp), files, cfg, metrics)
    print(f"registered {version} (family journeys): {json.dumps(metrics, default=str)[:400]}")
    if not args.no_promote:
        registry.promote(version)
        print(f"champion of family journeys -> {version}")
    return 0


def torch_seed(seed: int) -> None:
    torch.manual_seed(seed)


def _load(args: argparse.Namespace) -> JourneyBundle:
    registry = _registry(args)
    mv = registry.get(args.version) if args.version else registry.champion(FAMILY)
    if mv is None:
        raise LookupError("no journeys model: run 'omniseq journeys train' first")
    return load_bundle(
        mv.path, mv.version, str(mv.manifest["model_name"]), mv.manifest["input_spec"]["stores"]
    )


def _generate(args: argparse.Namespace) -> int:
    if not 1 <= args.n <= 100_000:
        raise ValueError("--n must be in 1..100000")
    bundle = _load(args)
    if args.store not in bundle.modules:
        raise LookupError(f"the journeys model has no store {args.store!r} (has {sorted(bundle.modules)})")
    started = time.perf_counter()
    journeys = sample_journeys(
        bundle.modules[args.store], bundle.tokenizer, bundle.layouts[args.store], bundle.prompts[args.store],
        bundle.catalog, args.n, args.seed, ts_ms=int(time.time() * 1000),
    )  # fmt: skip
    out = args.out or StackSettings().run_dir / "journeys"
    out.mkdir(parents=True, exist_ok=True)
    name = f"journeys-{args.store}-{args.seed}-{int(time.time())}"
    (out / f"{name}.jsonl").write_text("".join(json.dumps(j.to_dict()) + "\n" for j in journeys))
    receipts = [j.receipt for j in journeys if j.receipt is not None]
    print(f"{len(journeys)} journeys ({len(receipts)} with purchases) in {time.perf_counter() - started:.1f} s "
          f"-> {out / name}.jsonl")  # fmt: skip
    if not args.no_drop and receipts:
        landing = args.landing or PipelineSettings().dir("landing")
        print(f"in-store drop -> {write_drop(receipts, landing, name)}")
    return 0


def _whatif(args: argparse.Namespace) -> int:
    base = store(args.store)
    moved = swap_zones(base, *args.swap)
    source = basket_source(args.source)
    stats = []
    for layout in (base, moved):
        corpus = simulate_corpus(args.store, args.n, seed=args.seed, source=source, layout=layout)
        stats.append(journey_stats(layout, corpus.words))
    panels = [("visits: as is", region_grid(base, stats[0].visits)), ("visits: moved", region_grid(moved, stats[1].visits)),
              ("purchases: as is", zone_grid(base, stats[0].purchases)), ("purchases: moved", zone_grid(moved, stats[1].purchases))]  # fmt: skip
    png = heatmap_png(
        base, panels, args.png, f"store {args.store}: {args.swap[0]} <-> {args.swap[1]} ({args.n} shoppers)"
    )
    report = {
        "store": args.store, "swap": args.swap, "n": args.n, "seed": args.seed, "source": source,
        "js_visits_as_is_vs_moved": round(js_divergence(stats[0].visits, stats[1].visits), 6),
        "mean_points": [round(float(sum(s.lengths) / len(s.lengths)), 2) for s in stats],
        "visits_per_region": {r: [int(s.visits[i]) for s in stats] for i, r in enumerate(base.regions)},
        "png": str(png),
    }  # fmt: skip
    png.with_suffix(".json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "visits_per_region"}))
    return 0
