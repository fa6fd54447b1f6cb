"""Render the README's measured-results section from ``bench/results/`` (figures are never typed by hand).

Usage: ``.venv/bin/python scripts/render_readme.py`` rewrites the block between the ``results:begin`` and
``results:end`` markers of README.md; ``--check`` exits 1 when the README is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _pipeline(d: dict[str, Any], name: str = "pipeline") -> list[str]:
    label = "pipeline" if name == "pipeline" else "pipeline, offline sinks off (`--no-offline`)"
    return [
        f"| {label} (`bench/results/{name}.json`) | sustained {d['sustained_events_per_s']:,} events/s; "
        f"freshness at {d['rate_achieved_events_per_s']:,} events/s p50 {d['freshness_p50_ms']:.0f} ms / p99 {d['freshness_p99_ms']:.0f} ms; "
        f"events lost {d['events_lost']} (load avg {d['load_average_1m_start']}) | "
        "≥ 100,000 events/s, p99 ≤ 1 s, 0 lost |"
    ]


def _serve(d: dict[str, Any]) -> list[str]:
    rows = d["recommend"]
    best = max(rows, key=lambda r: r["throughput_rps"])
    levels = "; ".join(
        f"concurrency {r['concurrency']}: {r['throughput_rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
        f"p99 {r['p99_ms']:.2f} ms, errors {r['errors']}"
        for r in rows
    )
    stages = ", ".join(f"{k} {v:.2f}" for k, v in best["server_stage_mean_ms"].items())
    return [
        f"| serving (`bench/results/serve.json`) | {levels}; server stages at the best level (mean ms): {stages}; "
        f"`/healthz` baseline {d['baseline_healthz']['throughput_rps']:.0f} req/s | p99 ≤ 5 ms at ≥ 700 req/s |"
    ]


def _features(d: dict[str, Any]) -> list[str]:
    one, hundred = d["latency"]["1"], d["latency"]["100"]
    return [
        f"| online feature read (`bench/results/features.json`) | 1 user p50 {one['omniseq_read']['p50_ms']:.3f} ms "
        f"(Feast {one['feast_get_online_features']['p50_ms']:.3f} ms, ×{d['feast_p50_over_omniseq_p50']['1']} "
        f"slower); 100 users p50 {hundred['omniseq_read']['p50_ms']:.2f} ms "
        f"(Feast {hundred['feast_get_online_features']['p50_ms']:.2f} ms) | not slower than Feast's own call |"
    ]


def _train(d: dict[str, Any]) -> list[str]:
    runs = d["runs"]
    parts = [
        f"{r['run']} {r['sequences_per_s']:,.0f} seq/s (×{r['speed_vs_reference']}, full NDCG@10 "
        f"{r['full_ndcg@10']:.4f}, sampled HR@10 {r['sampled_hr@10']:.3f}, peak RSS {r['peak_rss_mib']:,.0f} MiB)"
        for r in runs
    ]
    ev = next((r for r in runs if r["run"] == "sasrec"), runs[0])
    return [
        f"| training (`bench/results/train.json`, {runs[0]['epochs']} epochs each, Beauty, same run) | "
        f"{'; '.join(parts)}; the reference here runs at ×{d['reference_here_vs_published']} of the published "
        f"{d['published_reference_sequences_per_s']:,.0f} seq/s; evaluating 10,000 users (both protocols) "
        f"{ev['eval_10k_users_s']:.1f} s | ≥ 1.5× the reference at equal or better quality; evaluation in seconds |"
    ]


def _simulator(d: dict[str, Any]) -> list[str]:
    big = d["large"]
    return [
        f"| simulator (`bench/results/simulator.json`) | {big['behaviours']:,} behaviours at "
        f"{big['behaviours_per_s']:,.0f}/s; peak RSS {big['peak_rss_mib']} MiB, "
        f"×{d['peak_rss_ratio_large_vs_small']} of a run 10× smaller | streams: memory flat in size |"
    ]


def render() -> str:
    lines = ["| benchmark | measured | goal |", "|---|---|---|"]
    for name, fn in (("pipeline", _pipeline), ("serve", _serve), ("features", _features), ("train", _train),
                     ("simulator", _simulator)):  # fmt: skip
        data = _load(name)
        lines += fn(data) if data else [f"| {name} | not run yet (`omniseq bench {name}`) | |"]
        extra = _load("pipeline_no_offline") if name == "pipeline" else None
        lines += _pipeline(extra, "pipeline_no_offline") if extra else []
    ablations = sorted(p.stem for p in RESULTS.glob("eval_beauty_*.md"))  # same data, one setting changed
    for name in ("eval_hm", "eval_beauty", *ablations):
        md = RESULTS / f"{name}.md"
        if md.is_file():
            lines += ["", md.read_text().strip().replace("# ", "#### ", 1)]
    return "\n".join(lines)


JOURNEYS_BEGIN, JOURNEYS_END = "<!-- journeys:begin -->", "<!-- journeys:end -->"


def _journeys(d: dict[str, Any]) -> str:
    """The in-store journeys section (``omniseq bench journeys``): JS table, transfer curve, heatmap."""
    a = d["args"]
    lines = [
        f"Run: `omniseq bench journeys {' '.join(_journeys_args(a))}` ({d['seconds']:.0f} s, "
        f"{d['machine']['threads']} torch thread(s), shopping lists from {d['basket_source']} baskets); "
        f"store A: {a['train_a']} training / {a['test']} held-out journeys; GPT d={a['d']}, {a['layers']} layers, "
        f"{a['heads']} heads; at most {a['max_steps']} steps of batch {a['batch']} per model.",
        "",
        "Pause mapping (DBSCAN + layout + receipt) vs the simulator's ground truth, store A held-out: "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["pause_mapping"]["A"].items())
        + ".",
        "",
        "| model (store A) | seeds | JS trajectory ↓ | JS purchase ↓ | invalid steps | points / journey |",
        "|---|---|---|---|---|---|",
    ]
    real = d["runs"][0]["metrics"]
    for r in d["table"]:
        lines.append(
            f"| {r['model']} | {len(r['seeds'])} | {r['js_trajectory']:.4f} ± {r['js_trajectory_std']:.4f} | "
            f"{r['js_purchase']:.4f} ± {r['js_purchase_std']:.4f} | {r['invalid_step_share']:.3f} | "
            f"{r['mean_points']:.1f} |"
        )
    lines.append(f"| held-out journeys (reference) | | 0 | 0 | {real['real_invalid_step_share']:.3f} | "
                 f"{real['real_mean_points']:.1f} |")  # fmt: skip
    tr = d.get("transfer")
    if tr:
        lines += ["", "| store-B journeys | fine-tuned from A: JS traj. / purch. | from scratch: JS traj. / purch. |",
                  "|---|---|---|",
                  f"| 0 (store-A model as is) | {tr['zero_shot']['js_trajectory']:.4f} / "
                  f"{tr['zero_shot']['js_purchase']:.4f} | |"]  # fmt: skip
        for pt in tr["points"]:
            f, s = pt["finetune"], pt["scratch"]
            lines.append(f"| {pt['n']} | {f['js_trajectory']:.4f} / {f['js_purchase']:.4f} | "
                         f"{s['js_trajectory']:.4f} / {s['js_purchase']:.4f} |")  # fmt: skip
    png = RESULTS / f"{d['name']}_heatmap_A.png"
    if png.is_file():
        lines += ["", f"![store A heatmaps](bench/results/{png.name})"]
    whatif = _load("journeys_whatif")
    if whatif:
        a, b = whatif["swap"]
        lines += ["", f"Layout what-if (`omniseq journeys whatif --store {whatif['store']} --swap {a} {b} "
                  f"--n {whatif['n']}`, simulator): JS of visits as is vs moved {whatif['js_visits_as_is_vs_moved']:.4f}, "
                  f"points per journey {whatif['mean_points'][0]} -> {whatif['mean_points'][1]}.",
                  "", "![layout what-if](bench/results/journeys_whatif.png)"]  # fmt: skip
    return "\n".join(lines)


def _journeys_args(a: dict[str, Any]) -> list[str]:
    out = [f"--train-a {a['train_a']}", f"--test {a['test']}", f"--max-steps {a['max_steps']}"]
    out += [f"--batch {a['batch']}", f"--epochs {a['epochs']}", "--sizes " + " ".join(map(str, a["sizes"]))]
    return out + ["--seeds " + " ".join(map(str, a["seeds"]))]


def _replace(text: str, begin: str, end: str, body: str) -> str:
    if begin not in text or end not in text:
        raise SystemExit(f"README.md lacks the {begin} / {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md lacks the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{render()}\n{END}{tail}"
    journeys = _load("journeys")
    if JOURNEYS_BEGIN in new:
        body = _journeys(journeys) if journeys else "Not run yet: `omniseq bench journeys`."
        new = _replace(new, JOURNEYS_BEGIN, JOURNEYS_END, body)
    if args.check:
        return 0 if new == text else 1
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
