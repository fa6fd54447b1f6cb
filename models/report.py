"""Result tables like the seed's Table I: mean +- std over seeds, % over SASRec, as JSON and Markdown."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.zoo import label_of

COLUMNS: tuple[tuple[str, str], ...] = (
    ("sampled_hr@10", "HR@10 (sampled, 100 neg.)"),
    ("sampled_ndcg@10", "NDCG@10 (sampled, 100 neg.)"),
    ("full_hr@10", "HR@10 (full ranking)"),
    ("full_ndcg@10", "NDCG@10 (full ranking)"),
)
BASELINE = "sasrec"


def summarise(runs: Mapping[str, Sequence[Mapping[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """model -> metric -> {mean, std, n} over the runs (seeds) of that model."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for model, rows in runs.items():
        out[model] = {}
        for key, _ in COLUMNS:
            vals = [float(r[key]) for r in rows if key in r]
            if vals:
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                out[model][key] = {"mean": statistics.fmean(vals), "std": sd, "n": float(len(vals))}
    return out


def _cell(summary: Mapping[str, Any], model: str, key: str, best: Mapping[str, str]) -> str:
    s = summary[model].get(key)
    if s is None:
        return "-"
    text = f"{s['mean']:.4f} ± {s['std']:.4f}" if s["n"] > 1 else f"{s['mean']:.4f}"  # one seed: no spread
    base = summary.get(BASELINE, {}).get(key)
    if base and model != BASELINE and base["mean"] > 0:
        text += f" ({100.0 * (s['mean'] / base['mean'] - 1.0):+.2f}%)"
    return f"**{text}**" if best.get(key) == model else text


def table_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    best = {
        key: max(summary, key=lambda m: summary[m].get(key, {}).get("mean", float("-inf")))
        for key, _ in COLUMNS
    }
    return [[label_of(m), *(_cell(summary, m, key, best) for key, _ in COLUMNS)] for m in summary]


def markdown(summary: Mapping[str, Any], title: str, notes: Sequence[str]) -> str:
    head = ["model", *(label for _, label in COLUMNS)]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    single = any(s["n"] < 2 for metrics in summary.values() for s in metrics.values())
    spread = "a single seed: no spread" if single else "mean ± std over seeds"
    lines += ["", f"{spread}; (+x%) relative to SASRec; best per column in bold.", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_results(
    path_stem: Path,
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    meta: Mapping[str, Any],
    title: str,
    notes: Sequence[str],
) -> tuple[Path, Path]:
    summary = summarise(runs)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    js, md = path_stem.with_suffix(".json"), path_stem.with_suffix(".md")
    js.write_text(json.dumps({"meta": dict(meta), "summary": summary, "runs": runs}, indent=1, default=str))
    md.write_text(markdown(summary, title, notes))
    return js, md
