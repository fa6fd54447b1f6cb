"""Render the README's measured-results section from ``bench/results/`` (figures are never typed by hand).

Usage: ``.venv/bin/python scripts/render_readme.py`` rewrites the blocks between the ``<name>:begin`` and
``<name>:end`` markers of README.md (:data:`BLOCKS`); ``--check`` exits 1 when the README is out of date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_lens import render_lens  # noqa: E402

from bench._serve_report import label as serve_label  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _operator(name: str) -> str:
    """A job vertex's name shortened to its first and last operator (``[n]`` ids dropped)."""
    parts = [re.sub(r"\[\d+\]", "", p).strip("( ") for p in name.split(" -> ")]
    return parts[0] if len(parts) == 1 else f"{parts[0]} … {parts[-1]}"


def _where_time_goes(d: dict[str, Any], top: int = 3) -> str:
    """Flink CPU per event (and the baseline's) and the busiest operator chains per event."""
    cpu = d.get("cpu_us_per_event") or {}
    flink = sum(v for k, v in cpu.items() if k.startswith("flink"))
    base_cpu = (d.get("baseline") or {}).get("cpu_us_per_event") or {}
    base = sum(v for k, v in base_cpu.items() if k.startswith("flink"))
    known = {k: v for k, v in (d.get("busy_us_per_event") or {}).items() if v is not None and v == v}
    busy = sorted(known.items(), key=lambda kv: -kv[1])[:top]
    ops = ", ".join(f"{_operator(k)} {v:.0f}" for k, v in busy)
    out = f"Flink CPU {flink:.0f} µs/event (baseline {base:.0f})" if cpu else ""
    return out + (f"; busiest operators, busy µs/event: {ops}" if ops else "")


def _pipeline(d: dict[str, Any], name: str = "pipeline") -> list[str]:
    label = {
        "pipeline": "pipeline, local mini-cluster (the product default)",
        "pipeline_p2": "pipeline, Flink session cluster, parallelism 2 (`--session-cluster 2`)",
        "pipeline_no_offline": "pipeline, offline sinks off (`--no-offline`)",
    }.get(name, name)
    base = d.get("baseline")
    vs = (
        f" = ×{d['ratio_to_baseline']} of the HOP-window baseline's {base['sustained_events_per_s']:,} (same run)"
        if base and "ratio_to_baseline" in d
        else ""
    )
    where = _where_time_goes(d)
    return [
        f"| {label} (`bench/results/{name}.json`) | sustained {d['sustained_events_per_s']:,} events/s{vs}; "
        f"freshness at {d['rate_achieved_events_per_s']:,} events/s p50 {d['freshness_p50_ms']:.0f} ms / p99 {d['freshness_p99_ms']:.0f} ms; "
        f"events lost {d['events_lost']}{'; ' + where if where else ''} (load avg {d['load_average_1m_start']}) | "
        "≥ 50,000 events/s and ≥ 0.8× the baseline, p99 ≤ 1 s, 0 lost |"
    ]


def _serve(d: dict[str, Any]) -> list[str]:
    rows = d["recommend"]
    if "items" not in rows[0]:  # a result file from before the configurations existed
        return ["| serving (`bench/results/serve.json`) | re-run `omniseq bench serve` | |"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(serve_label(r), []).append(r)
    setup = d["setup"]
    out = []
    for name, levels in groups.items():
        large = levels[0]["items"] >= 1_000_000
        parts = "; ".join(
            f"c={r['concurrency']}: {r['throughput_rps']:.0f} req/s, p50 {r['p50_ms']:.2f} / p99 {r['p99_ms']:.2f} ms, "
            f"CPU {r['server_cpu_ms_per_request']:.2f} ms/req, errors {r['errors']}"
            + (f", answer cache hits {r['server_stage_mean_ms']['answer_cache_hit_ratio']:.0%}" if "answer_cache_hit_ratio" in r["server_stage_mean_ms"] else "")
            + (f", user cache hits {r['server_stage_mean_ms']['cache_hit_ratio']:.0%}" if r["cache"] and "cache_hit_ratio" in r["server_stage_mean_ms"] else "")
            for r in levels
        )  # fmt: skip
        goal = "p99 ≤ 10 ms" if large else "≥ 700 req/s at p99 ≤ 5 ms"
        out.append(f"| serving: {name} | {parts} | {goal} |")
    ret = d.get("retrieval_large") or {}
    if "recall@10" in ret:
        idx = ret["index"]
        out.append(
            f"| serving: {setup['catalogues'][-1]:,}-item retrieval (in-process, {ret['users']:,} users) | recall@10 of ANN vs exact "
            f"{ret['recall@10']:.3f} (IVF nlist {idx['nlist']}, nprobe {idx['nprobe']}, {idx['candidates_rescored']} "
            f"candidates re-scored); top-10 ANN p50 {ret['ann_top10_ms']['p50_ms']:.2f} ms vs exact "
            f"{ret['exact_top10_ms']['p50_ms']:.2f} ms{_index_cost(ret)} | recall@10 ≥ 0.98 |"
        )
    out.append(
        f"| serving: setup | repeat rate {setup['repeat_rate']:.0%} (share of requests with no new behaviour "
        f"since the user's last one); load avg before/after {setup['loadavg_before'][0]} / "
        f"{setup['loadavg_after'][0]} on {setup['cpu_count']} cores shared with other work; "
        f"`/healthz` baseline {d['baseline_healthz']['throughput_rps']:.0f} req/s; "
        f"latency distribution: `bench/results/serve.png` | |"
    )
    return out


def _index_cost(ret: dict[str, Any]) -> str:
    """The served index's CPU per query, build time and size (runs from before these were measured: nothing)."""
    idx = ret["index"]
    at = ret["recall_by_nprobe"].get(str(idx["nprobe"]), {})
    if "cpu_ms" not in at or idx.get("build_s") is None:
        return ""
    return f"; ANN CPU {at['cpu_ms']:.2f} ms/query; index built in {idx['build_s']:.0f} s, {idx['file_mb']:.0f} MB"


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


def _figures() -> list[str]:
    """The benchmark PNGs drawn by ``bench/plots.py`` beside their JSON (``omniseq bench plots`` redraws them)."""
    captions = {
        "pipeline": "pipeline throughput and freshness over time",
        "pipeline_p2": "pipeline on a Flink session cluster (parallelism 2): throughput and freshness",
        "serve": "serving latency distribution",
    }
    shown = [(n, c) for n, c in captions.items() if (RESULTS / f"{n}.png").is_file()]
    return [line for n, c in shown for line in ("", f"![{c}](bench/results/{n}.png)")]


def _compose(d: dict[str, Any]) -> list[str]:
    if not d.get("ok"):
        return [
            f"| docker compose (`bench/results/compose.json`, `make compose-check`) | FAILED: {d.get('error', '?')[:160]} | passes |"
        ]
    sizes = ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in d["image_bytes"].items())
    builds = ", ".join(f"{k} {v:.0f} s" for k, v in d.get("build_s", {}).items()) or "cached"
    rec = d["recommendation"]
    return [
        f"| docker compose (`bench/results/compose.json`, `make compose-check`) | build {builds}; up to every "
        f"healthcheck healthy {d['up_to_healthy_s']:.0f} s; replay of {d['replay_users']} simulator users "
        f"{d['replay_s']:.0f} s; retrain in the trainer + promotion {d['features_to_promotion_s']:.0f} s, picked up "
        f"by the API in {d['promotion_to_api_s']:.1f} s; first `fallback: false` answer "
        f"({rec['model_version']}) {d['first_recommendation_s']:.0f} s after the replay; images: {sizes} | passes |"
    ]


def _soak(d: dict[str, Any]) -> list[str]:
    s = d["summary"]
    return [
        f"| soak (`bench/results/soak.json`, PNG beside it) | {s['minutes']} min at {s['rate_rps']:g} req/s "
        f"({s['requests']:,} requests): errors {s['errors']}; p99 first/last/worst minute "
        f"{s['p99_ms_first_minute']:.1f} / {s['p99_ms_last_minute']:.1f} / {s['p99_ms_max_minute']:.1f} ms; server "
        f"RSS {s['rss_mb_start']:.0f} → {s['rss_mb_end']:.0f} MiB; machine load average "
        f"{s.get('load_average_1m_start', '?')} on {s.get('cpu_count', '?')} cores | 0 errors, flat p99, flat memory |"
    ]


PARSREC_COLS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "sess_prec@1", "sess_prec@5", "sess_prec@10")
PARSREC_LABELS = {"popularity": "POPRec", "sasrec": "SASRec", "bert4rec": "BERT4Rec", "parsrec": "PARSRec"}


def _parsrec(d: dict[str, Any], name: str) -> list[str]:
    """PARSRec's Table 2 layout (basket completion protocol), the paper's values beside ours when known."""
    data, paper = d["data"], d.get("paper") or {}
    head = "| model | " + " | ".join(c.replace("sess_prec", "Sess-Prec").upper().replace("SESS-PREC", "Sess-Prec")
                                     for c in PARSREC_COLS) + " | paper HR@10 / NDCG@10 / Sess-Prec@10 |"  # fmt: skip
    lines = [f"#### {name}: basket completion, {data['name']} ({data['users']:,} users, {data['items']:,} items, "
             f"{data['actions']:,} actions)", "", head, "|---" * (len(PARSREC_COLS) + 2) + "|"]  # fmt: skip
    for model in ("popularity", "sasrec", "bert4rec", "parsrec"):
        row = d["table"].get(model)
        if row is None:
            continue
        n = len(d["runs"][model])
        cells = [f"{row[c]['mean']:.4f}" + (f" ± {row[c]['std']:.4f}" if n > 1 else "") for c in PARSREC_COLS]
        ref = paper.get(model)
        ref_cell = f"{ref['hr@10']} / {ref['ndcg@10']} / {ref['sess_prec@10']}" if ref else "–"
        lines.append(f"| {PARSREC_LABELS[model]} | " + " | ".join(cells) + f" | {ref_cell} |")
    runs = [r for rs in d["runs"].values() for r in rs]
    seeds = sorted({r["seed"] for r in runs})
    epochs = ", ".join(
        f"{PARSREC_LABELS[m]} best epoch {'/'.join(str(r['best_epoch']) for r in rs)}"
        for m, rs in d["runs"].items() if m != "popularity"
    )  # fmt: skip
    lines += ["", f"- seeds {seeds} (mean ± std when more than one); {epochs}; commands: "
              + "; ".join(f"`{c}`" for c in d.get("commands", []))]  # fmt: skip
    fig = d.get("figure")
    if fig:
        corr = ", ".join(f"{k} {v:.2f}" for k, v in fig["pearson_offdiag_sigma_vs_attention"].items())
        lines += [f"- Fig. 3: Pearson correlation of learned category attention with the simulator's Sigma "
                  f"(off-diagonal cells): {corr}", "", f"![PARSRec attention heatmaps](bench/results/{fig['png']})"]  # fmt: skip
    return lines


def render() -> str:
    lines = ["| benchmark | measured | goal |", "|---|---|---|"]
    for name, fn in (("pipeline", _pipeline), ("serve", _serve), ("features", _features), ("train", _train),
                     ("simulator", _simulator), ("compose", _compose), ("soak", _soak)):  # fmt: skip
        data = _load(name)
        lines += fn(data) if data else [f"| {name} | not run yet (`omniseq bench {name}`) | |"]
        for variant in ("pipeline_p2", "pipeline_no_offline") if name == "pipeline" else ():
            extra = _load(variant)
            lines += _pipeline(extra, variant) if extra else []
    lines += _figures()
    ablations = sorted(p.stem for p in RESULTS.glob("eval_beauty_*.md"))  # same data, one setting changed
    for name in ("eval_hm", "eval_beauty", *ablations):
        md = RESULTS / f"{name}.md"
        if md.is_file():
            lines += ["", md.read_text().strip().replace("# ", "#### ", 1)]
    for path in sorted(RESULTS.glob("parsrec*.json")):  # basket completion (PARSRec, issue 15)
        lines += ["", *_parsrec(json.loads(path.read_text()), path.stem)]
    return "\n".join(lines)


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


def _journeys_block() -> str:
    journeys = _load("journeys")
    return _journeys(journeys) if journeys else "Not run yet: `omniseq bench journeys`."


BLOCKS = {
    "results": render,
    "c2rec": _c2rec,
    "lens": lambda: render_lens(RESULTS),
    "journeys": _journeys_block,
}


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
