from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.sinks import (
    Counters,
    JsonlWriter,
    open_online_writer,
    prometheus_text,
    read_counters,
    read_jsonl_latest,
)


def test_counters_sum_over_subtasks(tmp_path: Path) -> None:
    for i, n in enumerate((3, 4)):
        c = Counters(tmp_path / f"op-{i}.json")
        c.inc("dead_lettered", n)
        c.dump(force=True)
    counts = read_counters(tmp_path)
    assert counts == {"dead_lettered": 7}
    assert "omniseq_pipeline_dead_lettered_total 7" in prometheus_text(counts)


def test_jsonl_writer_keeps_the_last_row_per_user(tmp_path: Path) -> None:
    w = JsonlWriter(tmp_path)
    w.write("v", [("u1", {"x": 1}, 10), ("u2", {"x": 2}, 11)])
    w.write("v", [("u1", {"x": 3}, 12)])
    assert read_jsonl_latest(tmp_path, "v") == {"u1": {"x": 3}, "u2": {"x": 2}}


def test_unknown_online_uri_is_an_error() -> None:
    with pytest.raises(ValueError, match="redis:// or file://"):
        open_online_writer("http://nope")
