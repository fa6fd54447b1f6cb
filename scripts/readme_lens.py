"""The README's LENS section, rendered from ``bench/results/lens_tafeng.json`` and ``lens_dunnhumby.json``
(called by ``scripts/render_readme.py`` for the block between ``lens:begin`` and ``lens:end``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _fmt(v: dict[str, Any]) -> str:
    return f"{v['mean']:.4f}" if v["n"] < 2 else f"{v['mean']:.4f} ± {v['std']:.4f}"


def _tafeng(d: dict[str, Any]) -> list[str]:
    s, b = d["summary"], d["budget"]
    runs = d["runs"]
    lines = [
        f"Ta-Feng (Reality Check files): {runs[0]['users']:,} customers, {runs[0]['test_users']:,} held-out next "
        f"baskets per fold, seeds {sorted({r['seed'] for r in runs})}; `{d['command']}`.",
        "",
        "| method | recall | precision | F1 (of means) | PHR | NDCG | recall repeat | recall explore | mean size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in s.items():
        cells = [_fmt(m[k]) for k in ("recall", "precision", "f1", "phr", "ndcg", "recall_repeat", "recall_explore",
                                      "mean_pred_size")]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, p in d["paper_table2"].items():
        lines.append(
            f"| paper: {name} | {p['recall']} | {p['precision']} | {p['f1']} | – | – | – | – | ≤ 10 |"
        )
    trained = "; ".join(
        f"{r['size']} seed {r['seed']}: {r['train']['epochs_run']} epoch(s), {r['train']['batches']} batches of 128 "
        f"in {r['train']['seconds']:.0f} s{' (stopped by the time budget)' if r['train']['stopped_by_budget'] else ''}"
        for r in runs
    )
    lines += [
        "",
        "`(paper)` rows: the greedy decoded basket (variable size ≤ 10); `(rc)` rows and the baselines: a fixed "
        "top-10 list. Precision of a top-10 list counts hits per predicted item, PHR counts customers with a hit: "
        f'the paper\'s "precision" is closer to PHR. What ran: {trained}; vocabulary {b["max_items"]:,} items, '
        f"last {b['max_baskets']} baskets in, {b['prefixes_per_user']} history prefixes per customer.",
    ]
    lines += ["", *_verdict(s)]
    return lines


def _verdict(s: dict[str, Any]) -> list[str]:
    """Which baselines each LENS top-10 ranking beats on recall@10 (computed, never typed)."""
    out = []
    bases = [n for n in s if not n.startswith("LENS")]
    for name in (n for n in s if n.startswith("LENS") and n.endswith("(rc)")):
        r = s[name]["recall"]["mean"]
        above = [b for b in bases if r > s[b]["recall"]["mean"]]
        below = [b for b in bases if b not in above]
        out.append(
            f"{name} recall@10 {r:.4f}: above {', '.join(above) or 'no baseline'}; "
            f"below {', '.join(below) or 'no baseline'}."
        )
    return out


def _dunnhumby(d: dict[str, Any]) -> list[str]:
    s = d["summary"]
    r0 = d["runs"][0]
    lines = [
        f"Dunnhumby Complete Journey, days to the next purchase (last basket of {r0['households']:,} households, "
        f"seeds {[r['seed'] for r in d['runs']]}; `{d['command']}`):",
        "",
        "| predictor | MAE (days) |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in s["mae_days"].items()]
    lines += [
        "",
        f"Mean true gap {r0['mean_true_gap_days']:.2f} days; the served interval (10 %/90 % training residuals) "
        f"covered {_fmt(s['interval_coverage'])} of the test gaps. LENS trained with the time objective only "
        f"({r0['train']['epochs_run']} epoch(s), {r0['train']['batches']} batches in {r0['train']['seconds']:.0f} s).",
    ]
    return lines


def render_lens(results: Path) -> str:
    lines: list[str] = []
    for name, fn in (("lens_tafeng", _tafeng), ("lens_dunnhumby", _dunnhumby)):
        path = results / f"{name}.json"
        if lines:
            lines.append("")
        lines += (
            fn(json.loads(path.read_text()))
            if path.is_file()
            else [f"{name}: not run yet (`omniseq bench lens`)"]
        )
    return "\n".join(lines)
