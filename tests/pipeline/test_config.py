from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.config import PipelineSettings, WindowSpec
from pipeline.job import render_sql


def test_env_overrides_and_unknown_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNISEQ_REDIS_FLUSH_MS", "250")
    monkeypatch.setenv("OMNISEQ_WINDOWS", '[{"view": "w", "size_ms": 120000, "slide_ms": 60000}]')
    cfg = PipelineSettings()
    assert cfg.redis_flush_ms == 250 and [w.view for w in cfg.windows] == ["w"]
    with pytest.raises(ValidationError):
        PipelineSettings(no_such_knob=1)  # type: ignore[call-arg]


def test_bad_values_are_rejected() -> None:
    with pytest.raises(ValidationError, match="multiple of slide_ms"):
        WindowSpec(view="w", size_ms=90_000, slide_ms=60_000)
    with pytest.raises(ValidationError, match="positive length"):
        PipelineSettings(seq_views={"v": 0})
    with pytest.raises(ValidationError):
        WindowSpec(view="w", size_ms=60_000, slide_ms=60_000, extra=1)  # type: ignore[call-arg]


def test_folders_derive_from_run_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = PipelineSettings(run_dir=tmp_path)
    assert cfg.accepted_dir.is_relative_to(tmp_path) and cfg.checkpoint_dir.is_relative_to(tmp_path)
    views = PipelineSettings(seq_views={"user_hybrid_seq_v1": 7, "user_hybrid_seq_v2": 30, "x_v1": 12})
    assert views.max_seq_len == 30


def test_sql_placeholders_are_checked() -> None:

    sql = render_sql("kafka_source", topic="t", bootstrap="h:1", group_id="g", startup_mode="earliest-offset")
    assert "'topic' = 't'" in sql and "${" not in sql
    with pytest.raises(ValueError, match="no value for placeholder 'group_id'"):
        render_sql("kafka_source", topic="t", bootstrap="h:1", startup_mode="earliest-offset")
    with pytest.raises(ValueError, match="must not contain a quote"):
        render_sql("kafka_source", topic="t'x", bootstrap="h:1", group_id="g", startup_mode="e")
