"""The results tables: mean and spread over seeds, % over SASRec, the best per column, JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.report import COLUMNS, markdown, summarise, write_results

METRICS = tuple(key for key, _ in COLUMNS)


def _row(v: float, seed: int) -> dict[str, float]:
    return {**dict.fromkeys(METRICS, v), "seed": seed}


def test_summary_mean_and_sample_std() -> None:
    s = summarise({"sasrec": [_row(0.1, 0), _row(0.2, 1), _row(0.3, 2)]})
    cell = s["sasrec"]["full_ndcg@10"]
    assert cell["mean"] == pytest.approx(0.2) and cell["std"] == pytest.approx(0.1) and cell["n"] == 3


def test_markdown_percent_over_sasrec_and_best_in_bold(tmp_path: Path) -> None:
    runs = {"sasrec": [_row(0.2, 0), _row(0.2, 1)], "sasrec_attne": [_row(0.25, 0), _row(0.25, 1)]}
    js, md = write_results(tmp_path / "eval_x", runs, {"dataset": "x"}, "x: test metrics", ["note one"])
    text = md.read_text()
    assert "| SASRec | 0.2000 ± 0.0000 |" in text
    assert "**0.2500 ± 0.0000 (+25.00%)**" in text
    assert "mean ± std over seeds" in text and "- note one" in text
    assert json.loads(js.read_text())["runs"] == runs


def test_single_seed_shows_no_spread() -> None:
    text = markdown(summarise({"sasrec": [_row(0.0418, 0)]}), "one seed", [])
    assert "| SASRec | **0.0418** | " in text and "±" not in text.split("\n\n")[1]
    assert "a single seed: no spread" in text
