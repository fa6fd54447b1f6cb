"""The benchmark figures: drawn from JSON with and without time series, and from the committed results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.plots import RESULTS, _rates, plot_pipeline, render

PNG = b"\x89PNG\r\n\x1a\n"


def test_rates_from_cumulative_samples() -> None:
    xs, ys = _rates([[0.0, 0], [0.5, 100], [1.0, 200], [2.0, 1200], [2.2, 1300], [3.0, 1500]])
    assert xs == [0.5, 1.5, 2.5]
    assert ys == pytest.approx([200.0, 1000.0, 300.0])


def test_pipeline_figure_with_and_without_time_series(tmp_path: Path) -> None:
    summary = {"produce_events_per_s": 9000, "sustained_events_per_s": 1500, "rate_achieved_events_per_s": 700,
               "freshness_p50_ms": 400.0, "freshness_p99_ms": 900.0, "freshness_max_ms": 950.0,
               "config": {"events": 1000, "users": 10, "parallelism": 2, "offline": True}}  # fmt: skip
    series = {**summary, "throughput_timeline": [[i * 0.2, i * 300] for i in range(50)],
              "freshness_timeline": [[i * 0.1, 300 + i] for i in range(40)]}  # fmt: skip
    small, big = plot_pipeline(summary, tmp_path / "a.png"), plot_pipeline(series, tmp_path / "b.png")
    assert small.read_bytes()[:8] == PNG and big.read_bytes()[:8] == PNG
    assert small.read_bytes() != big.read_bytes()


def test_figures_of_the_committed_results(tmp_path: Path) -> None:
    for name in ("pipeline", "serve"):
        (tmp_path / f"{name}.json").write_text((RESULTS / f"{name}.json").read_text())
    written = render(tmp_path)
    assert sorted(p.name for p in written) == ["pipeline.png", "serve.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)
    assert json.loads((tmp_path / "serve.json").read_text())["recommend"]  # the input is left as it was
