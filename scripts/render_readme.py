"""Render the README's measured-results section from ``bench/results/`` (figures are never typed by hand).

Usage: ``.venv/bin/python scripts/render_readme.py`` rewrites the blocks between the ``<name>:begin`` and
``<name>:end`` markers of README.md (:data:`BLOCKS`); ``--check`` exits 1 when the README is out of date.
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


C2REC_COLUMNS = (
    ("all", "sampled_hr@10", "HR@10 sampled"),
    ("all", "sampled_ndcg@10", "NDCG@10 sampled"),
    ("all", "full_hr@10", "HR@10 full"),
    ("all", "full_ndcg@10", "NDCG@10 full"),
    ("warm", "sampled_hr@10", "HR@10 sampled, warm targets"),
    ("cold", "sampled_hr@10", "HR@10 sampled, cold targets"),
)


def _cell(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "-"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}" if stats["n"] > 1 else f"{stats['mean']:.4f}"


def _c2rec_table(d: dict[str, Any], level: str, channel: str) -> list[str]:
    subsets = d["summary"][level][channel]
    models = [m for m in d["meta"]["models"] if m in subsets["all"]]
    seeds = max(int(subsets["all"][m]["full_ndcg@10"]["n"]) for m in models)
    users = {s: int(next(iter(subsets[s].values()))["users"]["mean"]) for s in subsets}
    head = " / ".join(f"{s} {n}" for s, n in users.items())
    lines = [f"**{level}, {channel} channel** ({head} test users; {seeds} seed{'s' * (seeds > 1)})", ""]
    lines += [
        "| model | " + " | ".join(c[2] for c in C2REC_COLUMNS) + " |",
        "|---" * (len(C2REC_COLUMNS) + 1) + "|",
    ]
    for m in models:
        cells = [_cell(subsets.get(s, {}).get(m, {}).get(k)) for s, k, _ in C2REC_COLUMNS]
        n = int(subsets["all"][m]["full_ndcg@10"]["n"])
        label = d["meta"]["models"][m] + (f" ({n} seed{'s' * (n > 1)})" if n < seeds else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _c2rec() -> str:
    out: list[str] = []
    for name in ("c2rec_hm", "c2rec_hm_product", "c2rec_sim", "c2rec_hm_ablation"):
        d = _load(name)
        if d is None:
            out += [f"`{name}`: not run yet (`omniseq bench c2rec`)", ""]
            continue
        commands = d["meta"].get("commands") or [d["meta"]["command"]]
        out += [f"#### `bench/results/{name}.json`", "", *(f"- `{c}`" for c in commands), ""]
        for level, channels in d["summary"].items():
            for channel in channels:
                out += _c2rec_table(d, level, channel)
        for key, att in d.get("attention", {}).items():
            if "/" in key:
                groups = "; ".join(
                    f"{g} (n={v['users']}): shared {v['shared']:.2f}, store {v['store']:.2f}, online {v['online']:.2f}"
                    for g, v in att["groups"].items()
                )
                out += [f"- C2Rec attention on the target, {key}: {groups}"]
        out += [""]
    return "\n".join(out).rstrip()


BLOCKS = {"results": render, "c2rec": _c2rec}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = text
    for name, fn in BLOCKS.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin not in new or end not in new:
            raise SystemExit(f"README.md lacks the {begin} / {end} markers")
        head, rest = new.split(begin, 1)
        _, tail = rest.split(end, 1)
        new = f"{head}{begin}\n{fn()}\n{end}{tail}"
    if args.check:
        return 0 if new == text else 1
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
