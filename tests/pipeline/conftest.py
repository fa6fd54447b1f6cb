from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def flink_jars() -> list[str]:
    """The Kafka connector and Parquet jars as file URIs (OMNISEQ_TEST_FLINK_JARS=dir overrides ensure_jars)."""
    override = os.environ.get("OMNISEQ_TEST_FLINK_JARS")
    if override:
        return [p.resolve().as_uri() for p in sorted(Path(override).glob("*.jar"))]
    from pipeline.config import PipelineSettings
    from pipeline.runner import resolve_jars

    return resolve_jars(PipelineSettings())
