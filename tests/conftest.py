"""Shared pytest fixtures. Real-process fixtures (Kafka, Redis, Flink) live in tests/stack_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stack_fixtures import flink_env, kafka_broker, redis_server, stack_settings  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public datasets (never copied into the repo). CI has ../shared beside the clone."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"expected the shared datasets at {SHARED_DATA}")
    return SHARED_DATA
