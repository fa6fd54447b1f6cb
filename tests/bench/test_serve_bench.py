"""Pure parts of ``omniseq bench serve``: its plan of configurations and the per-worker metric arithmetic."""

from __future__ import annotations

from bench.serve import ServerConfig, _parse, _parse_metrics, plan, stage_means

METRICS = """process_start_time_seconds 1.7e9
omniseq_recommend_stage_seconds_sum{stage="model"} 2.0
omniseq_recommend_stage_seconds_count{stage="model"} 1000.0
omniseq_user_cache_total{result="hit"} 30.0
omniseq_user_cache_total{result="miss"} 10.0
"""


def test_plan_covers_workers_cache_catalogues_and_explain() -> None:
    p = plan(_parse([]))
    configs = [cfg for cfg, _ in p]
    assert {(c.items, c.workers, c.cache) for c in configs} >= {
        (50_000, 1, False), (50_000, 2, False), (50_000, 2, True), (1_000_000, 2, True), (1_000_000, 2, False)
    }  # fmt: skip
    assert any(explain for _, levels in p for explain, _ in levels)
    assert all(cfg.items == 50_000 for cfg, _ in plan(_parse(["--large-items", "0"])))
    assert ServerConfig(1, 1, True) in [
        cfg for cfg, _ in plan(_parse(["--items", "1", "--large-items", "0"]))
    ]


def test_stage_means_add_up_every_worker() -> None:
    start, parsed = _parse_metrics(METRICS)
    assert start == "1.7e9" and parsed["model"] == (2.0, 1000.0) and parsed["<cache>"] == (30.0, 10.0)
    before = {"a": parsed, "b": {"model": (1.0, 500.0)}}
    after = {"a": {"model": (3.0, 1500.0), "<cache>": (60.0, 20.0)}, "b": {"model": (2.0, 1000.0)}}
    means = stage_means(before, after)
    assert means["model"] == 2.0  # ms: (1 s + 1 s) over (500 + 500) requests
    assert means["cache_hit_ratio"] == 0.75
