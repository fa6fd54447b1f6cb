"""PNG figures of the benchmarks, drawn from their JSON files (``bench/results/<name>.json`` -> ``<name>.png``).

- :func:`plot_pipeline`: the pipeline's throughput and freshness over time. Uses the time series
  ``throughput_timeline`` (``[[seconds since the job started, events processed], ...]``) and
  ``freshness_timeline`` (``[[seconds since the freshness phase started, ms from send to Redis], ...]``) when the
  JSON has them; a JSON without them gets its summary figures (rates, freshness percentiles) instead.
- :func:`plot_serve`: the serving latency distribution per concurrency level (``histogram_ms`` ``{"edges",
  "counts"}`` per level when present, else the measured percentiles), throughput against p99, and the in-process
  per-stage breakdown.

``omniseq bench plots`` (or ``python -m bench.plots``) redraws every figure from the JSON files present; the
benchmarks call the same functions after writing their JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PERCENTILES = (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"), ("max_ms", "max"))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
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
    fig.suptitle(f"{title}: {cfg.get('events', '?')} events, {cfg.get('users', '?')} users, parallelism "
                 f"{cfg.get('parallelism', '?')}, offline sinks {cfg.get('offline', '?')}; {load}", fontsize=10)  # fmt: skip
    return _save(fig, out)


def _distribution(ax: Any, result: dict[str, Any]) -> None:
    levels = result.get("recommend", [])
    histogram = bool(levels) and all("histogram_ms" in r for r in levels)
    if histogram:
        for r in levels:
            h = r["histogram_ms"]
            ax.stairs(h["counts"], h["edges"], label=f"concurrency {r['concurrency']}")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("requests")
    else:
        xs = list(range(len(PERCENTILES)))
        for r in levels:
            ax.plot(xs, [r[k] for k, _ in PERCENTILES], marker="o", label=f"concurrency {r['concurrency']}")
        base = result.get("baseline_healthz")
        if base:
            ax.plot(xs, [base[k] for k, _ in PERCENTILES], ls=":", color="k", label="/healthz (HTTP only)")
        ax.set_xticks(xs, [label for _, label in PERCENTILES])
        ax.set_yscale("log")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms)")
    goal = result.get("goal", {}).get("p99_ms")
    if goal:
        (ax.axvline if histogram else ax.axhline)(
            goal, color="C3", ls="--", lw=1, label=f"goal p99 {goal} ms"
        )
    ax.set_title("POST /recommend latency (client side)")
    ax.legend(fontsize=7)


def plot_serve(result: dict[str, Any], out: Path) -> Path:
    plt = _pyplot()
    fig, (dist, load, stages) = plt.subplots(1, 3, figsize=(15, 4))
    _distribution(dist, result)
    levels = result.get("recommend", [])
    conc = [r["concurrency"] for r in levels]
    load.plot(conc, [r["throughput_rps"] for r in levels], marker="o", color="C0", label="requests/s")
    load.set_xlabel("concurrent clients")
    load.set_ylabel("requests / s", color="C0")
    twin = load.twinx()
    twin.plot(conc, [r["p99_ms"] for r in levels], marker="s", color="C3", label="p99 ms")
    twin.set_ylabel("p99 latency (ms)", color="C3")
    load.set_title("throughput and p99 by load")
    breakdown = result.get("in_process_breakdown_ms", {})
    names = [n for n in breakdown if n != "total"]
    ys = range(len(names))
    stages.barh([y + 0.2 for y in ys], [breakdown[n]["p50_ms"] for n in names], 0.4, label="p50")
    stages.barh([y - 0.2 for y in ys], [breakdown[n]["p99_ms"] for n in names], 0.4, label="p99")
    stages.set_yticks(list(ys), names)
    stages.invert_yaxis()
    stages.set_xlabel("ms (in process, one request at a time)")
    total = breakdown.get("total", {})
    stages.set_title(f"stages (total p50 {total.get('p50_ms', '?')} ms, p99 {total.get('p99_ms', '?')} ms)")
    stages.legend(fontsize=8)
    setup = result.get("setup", {})
    fig.suptitle(f"serving: {setup.get('server', '')}; {setup.get('cpu_count', '?')} CPUs; "
                 f"{setup.get('items', '?')} items, {setup.get('history_tokens', '?')}-token histories", fontsize=10)  # fmt: skip
    return _save(fig, out)


def _save(fig: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    _pyplot().close(fig)
    return out


PLOTTERS = {"pipeline": plot_pipeline, "pipeline_no_offline": plot_pipeline, "serve": plot_serve}


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
