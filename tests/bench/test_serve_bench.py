"""``omniseq bench serve``: its plan of configurations, the per-worker metric arithmetic, merging a run into a
result file, and the store-channel level run for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench._serve_metrics import _parse_metrics, stage_means
from bench._serve_report import updated
from bench.serve import ServerConfig, _parse, main, plan

METRICS = """process_start_time_seconds 1.7e9
omniseq_recommend_stage_seconds_sum{stage="model"} 2.0
omniseq_recommend_stage_seconds_count{stage="model"} 1000.0
omniseq_user_cache_total{result="hit"} 30.0
omniseq_user_cache_total{result="miss"} 10.0
omniseq_answer_cache_total{result="hit"} 90.0
omniseq_answer_cache_total{result="miss"} 10.0
"""


def test_plan_covers_workers_cache_catalogues_and_explain() -> None:
    p = plan(_parse([]))
    configs = [cfg for cfg, _ in p]
    assert {(c.items, c.workers, c.cache, c.answer_cache) for c in configs} >= {
        (50_000, 1, False, False), (50_000, 1, True, True), (50_000, 2, False, False), (50_000, 2, True, False),
        (50_000, 2, True, True), (1_000_000, 2, True, True), (1_000_000, 2, False, False)
    }  # fmt: skip
    assert any(explain for _, levels in p for explain, _ in levels)
    assert all(cfg.items == 50_000 for cfg, _ in plan(_parse(["--large-items", "0"])))
    assert ServerConfig(1, 1, True, answer_cache=True) in [
        cfg for cfg, _ in plan(_parse(["--items", "1", "--large-items", "0"]))
    ]


def test_stage_means_add_up_every_worker() -> None:
    start, parsed = _parse_metrics(METRICS)
    assert start == "1.7e9" and parsed["model"] == (2.0, 1000.0) and parsed["<cache>"] == (30.0, 10.0)
    assert parsed["<answers>"] == (90.0, 10.0)
    before = {"a": parsed, "b": {"model": (1.0, 500.0)}}
    after = {"a": {"model": (3.0, 1500.0), "<cache>": (60.0, 20.0), "<answers>": (170.0, 20.0)},
             "b": {"model": (2.0, 1000.0)}}  # fmt: skip
    means = stage_means(before, after)
    assert means["model"] == 2.0  # ms: (1 s + 1 s) over (500 + 500) requests
    assert means["cache_hit_ratio"] == 0.75
    assert means["answer_cache_hit_ratio"] == 0.889  # 80 new hits, 10 new misses


def test_plan_has_the_store_channel_and_can_run_it_alone() -> None:
    assert ServerConfig(50_000, 2, True, "store", answer_cache=True) in [cfg for cfg, _ in plan(_parse([]))]
    alone = plan(_parse(["--channels", "store"]))
    assert [cfg.channel for cfg, _ in alone] == ["store"]
    with pytest.raises(SystemExit):
        _parse(["--channels", "stores"])


def test_update_replaces_only_the_levels_of_the_run_channels() -> None:
    old = {"command": "all", "recommend": [{"channel": "online", "p99_ms": 1.0}, {"channel": "store", "p99_ms": 9.0},
                                           {"p99_ms": 2.0}]}  # fmt: skip
    new = {
        "command": "store only",
        "setup": {"wall_s": 1},
        "recommend": [{"channel": "store", "p99_ms": 3.0}],
    }
    got = updated(old, new, {"store"})
    assert [r["p99_ms"] for r in got["recommend"]] == [
        1.0,
        2.0,
        3.0,
    ]  # rows without a channel are online ones
    assert got["command"] == "all" and got["updates"][0]["command"] == "store only"


@pytest.mark.integration
@pytest.mark.slow
def test_store_channel_level_end_to_end(tmp_path: Path) -> None:
    """A real server with a C2Rec champion answers POST /recommend with channel store under load, and --update
    merges the level into an existing result file."""
    out = tmp_path / "serve.json"
    online = {"channel": "online", "items": 3000, "workers": 1, "cache": False, "explain": False, "concurrency": 1,
              "throughput_rps": 100.0, "p99_ms": 1.0, "latency_quantiles_ms": {"0.5": 0.5, "0.99": 1.0}}  # fmt: skip
    out.write_text(json.dumps({"command": "earlier", "goal": {"p99_ms": 5.0}, "recommend": [online]}))
    args = ["--channels", "store", "--update", "--items", "3000", "--users", "40", "--concurrency", "1",
            "--duration", "1.5", "--warmup", "0.5", "--prime-s", "0.5", "--cluster-size", "100", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    rows = json.loads(out.read_text())["recommend"]
    store = [r for r in rows if r.get("channel") == "store"]
    assert rows[0] == online and len(store) == 1 and (tmp_path / "serve.png").is_file()
    assert (
        store[0]["errors"] == 0
        and store[0]["requests"] > 0
        and store[0]["statuses"] == {"200": store[0]["requests"]}
    )
