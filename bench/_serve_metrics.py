"""``omniseq bench serve``'s server-side measurements: per-stage time from every worker's ``/metrics`` and the
server's CPU time (all its processes)."""

from __future__ import annotations

import subprocess

import httpx
import psutil


def _parse_metrics(text: str) -> tuple[str, dict[str, tuple[float, float]]]:
    """(the worker's process start time, {stage: (sum seconds, count)}, ``<cache>`` and ``<answers>``: the user and
    answer caches' (hits, misses))."""
    out: dict[str, list[float]] = {}
    start = ""
    for line in text.splitlines():
        if line.startswith("process_start_time_seconds "):
            start = line.split(" ", 1)[1]
        for suffix, slot in (("_sum", 0), ("_count", 1)):
            prefix = f'omniseq_recommend_stage_seconds{suffix}{{stage="'
            if line.startswith(prefix):
                stage = line[len(prefix) : line.index('"', len(prefix))]
                out.setdefault(stage, [0.0, 0.0])[slot] = float(line.rsplit(" ", 1)[1])
        for metric, key in (
            ("omniseq_user_cache_total", "<cache>"),
            ("omniseq_answer_cache_total", "<answers>"),
        ):
            for result, slot in (("hit", 0), ("miss", 1)):
                if line.startswith(f'{metric}{{result="{result}"}}'):
                    out.setdefault(key, [0.0, 0.0])[slot] = float(line.rsplit(" ", 1)[1])
    return start, {k: (v[0], v[1]) for k, v in out.items()}


def scrape(port: int, workers: int) -> dict[str, dict[str, tuple[float, float]]]:
    """Every worker's recommend stages and cache counters from /metrics, by worker (fresh connections until each
    worker answered once; workers are told apart by their process start time)."""
    seen: dict[str, dict[str, tuple[float, float]]] = {}
    for _ in range(50 * workers):
        start, parsed = _parse_metrics(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        seen[start] = parsed
        if len(seen) >= workers:
            break
    return seen


def stage_means(
    before: dict[str, dict[str, tuple[float, float]]], after: dict[str, dict[str, tuple[float, float]]]
) -> dict[str, float]:
    """Mean ms per stage over all workers between two scrapes, and the user and answer caches' hit ratios (the user
    cache is asked only when the answer cache missed)."""
    sums: dict[str, list[float]] = {}
    for worker, stages in after.items():
        for stage, (s1, c1) in stages.items():
            s0, c0 = before.get(worker, {}).get(stage, (0.0, 0.0))
            acc = sums.setdefault(stage, [0.0, 0.0])
            acc[0] += s1 - s0
            acc[1] += c1 - c0
    means = {}
    for stage, (s, c) in sums.items():
        if stage in ("<cache>", "<answers>"):
            if s + c > 0:
                means["cache_hit_ratio" if stage == "<cache>" else "answer_cache_hit_ratio"] = round(
                    s / (s + c), 3
                )
        elif c > 0:
            means[stage] = round(s / c * 1000, 4)
    return means


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) of the server and all its worker processes so far."""
    total = 0.0
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total
