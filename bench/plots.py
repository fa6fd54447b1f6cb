"""PNG figures of the benchmarks, drawn from their JSON files (``bench/results/<name>.json`` -> ``<name>.png``).

- :func:`plot_pipeline`: the pipeline's throughput and freshness over time. Uses the time series
  ``throughput_timeline`` (``[[seconds since the job started, events processed], ...]``) and
  ``freshness_timeline`` (``[[seconds since the freshness phase started, ms from send to Redis], ...]``) when the
  JSON has them; a JSON without them gets its summary figures (rates, freshness percentiles) instead.
- :func:`plot_serve`: the serving latency distribution (quantile against ms) of every configuration at one
  concurrency.

``omniseq bench plots`` (or ``python -m bench.plots``) redraws every figure from the JSON files present; the
benchmarks call the same functions after writing their JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench._serve_report import plot as plot_latency

RESULTS = Path(__file__).resolve().parent / "results"


def _rates(timeline: Sequence[Sequence[float]], step_s: float = 1.0) -> tuple[list[float], list[float]]:
    """Events/s between samples at least ``step_s`` apart, from cumulative ``[t, processed]`` samples."""
    xs: list[float] = []
    ys: list[float] = []
    last_t, last_n = timeline[0]
    for t, n in timeline[1:]:
        if t - last_t >= step_s:
            xs.append((t + last_t) / 2)
            ys.append((n - last_n) / (t - last_t))
            last_t, last_n = t, n
    return xs, ys


def plot_pipeline(result: dict[str, Any], out: Path, title: str = "pipeline") -> Path:
    fig = Figure(figsize=(11, 3.8))
    left, right = fig.subplots(1, 2)
    sustained = result.get("sustained_events_per_s")
    timeline = result.get("throughput_timeline")
    if timeline and len(timeline) > 2:
        xs, ys = _rates(timeline, step_s=5.0)  # the job's counters are flushed in bursts: 5 s bins
        left.plot(xs, ys, lw=1.2, drawstyle="steps-mid", label="processed events/s (5 s bins)")
        if sustained:
            left.axhline(sustained, color="C3", ls="--", lw=1, label=f"sustained {sustained:,.0f}/s")
        left.set_xlabel("seconds since the job started")
        left.legend(loc="lower right", fontsize=8)
    else:
        names = ["produce", "sustained (drain)", "freshness phase"]
        keys = ["produce_events_per_s", "sustained_events_per_s", "rate_achieved_events_per_s"]
        left.bar(names, [float(result.get(k) or 0) for k in keys], color=["C7", "C0", "C2"])
        left.set_xlabel("(no time series in this JSON: summary rates)")
    left.set_ylabel("events / s")
    left.set_title("throughput")
    fresh = result.get("freshness_timeline")
    if fresh:
        right.scatter([f[0] for f in fresh], [f[1] for f in fresh], s=6, alpha=0.6, label="probe events")
        right.set_xlabel("seconds since the freshness phase started")
        for key, color in (("freshness_p50_ms", "C2"), ("freshness_p99_ms", "C3")):
            if result.get(key) is not None:
                right.axhline(
                    result[key], color=color, ls="--", lw=1, label=f"{key[10:13]} {result[key]:,.0f} ms"
                )
        right.legend(loc="upper right", fontsize=8)
    else:
        keys = ["freshness_p50_ms", "freshness_p99_ms", "freshness_max_ms"]
        right.bar(["p50", "p99", "max"], [float(result.get(k) or 0) for k in keys], color=["C2", "C3", "C7"])
        right.set_xlabel("(no time series in this JSON: percentiles)")
    right.set_ylabel("ms from send() to Redis")
    right.set_title(f"freshness at {result.get('rate_achieved_events_per_s', '?')} events/s")
    right.set_ylim(bottom=0)
    cfg = result.get("config", {})
    load = f"load avg {result.get('load_average_1m_start', '?')} -> {result.get('load_average_1m_end', '?')}"
    where = f" ({cfg['flink_target']})" if "flink_target" in cfg else ""
    fig.suptitle(f"{title}{where}: {cfg.get('events', '?')} events, {cfg.get('users', '?')} users, parallelism "
                 f"{cfg.get('parallelism', '?')}, offline sinks {cfg.get('offline', '?')}; {load}", fontsize=10)  # fmt: skip
    return _save(fig, out)


def plot_serve(result: dict[str, Any], out: Path) -> Path:
    """The serving latency distribution of every configuration (:func:`bench._serve_report.plot`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_latency(result, out)
    return out


def _save(fig: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


PLOTTERS = {
    "pipeline": plot_pipeline,
    "pipeline_p2": plot_pipeline,
    "pipeline_no_offline": plot_pipeline,
    "serve": plot_serve,
}


def render(results: Path = RESULTS) -> list[Path]:
    """Every figure whose JSON exists in ``results``."""
    written = []
    for name, plot in PLOTTERS.items():
        path = results / f"{name}.json"
        if path.is_file():
            written.append(plot(json.loads(path.read_text()), path.with_suffix(".png")))
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="omniseq bench plots", description="Redraw the benchmark PNGs from JSON."
    )
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    for path in render(args.results):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
