from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import PipelineSettings
from pipeline.job import operator_config
from pipeline.sinks import Counters, prometheus_text, read_counters


def test_counters_sum_over_subtasks(tmp_path: Path) -> None:
    for i, n in enumerate((3, 4)):
        c = Counters(tmp_path / f"op-{i}.json")
        c.inc("dead_lettered", n)
        c.dump(force=True)
    counts = read_counters(tmp_path)
    assert counts == {"dead_lettered": 7}
    assert "omniseq_pipeline_dead_lettered_total 7" in prometheus_text(counts)


def test_unknown_online_uri_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="redis://"):
        operator_config(PipelineSettings(run_dir=tmp_path), "file:///tmp/x")
