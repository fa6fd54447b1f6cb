"""Fixtures of the feature-registry tests: settings pointing at the session's real Redis (``redis_server`` of
tests.stack_fixtures) and a temporary run folder, and one applied Feast store per session (``feast apply``
takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from omniseq.features.store import apply
from omniseq.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def feature_settings(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    return StackSettings(
        run_dir=tmp_path_factory.mktemp("features_run"),
        redis_host=redis_server.host,
        redis_port=int(redis_server.port),
        redis_password=redis_server.settings.redis_password,
        feature_repo=REPO_ROOT / "feature_repo",
    )


@pytest.fixture(scope="session")
def applied_store(feature_settings: StackSettings) -> Any:

    return apply(feature_settings)


@pytest.fixture()
def redis_client(redis_server: Any) -> Iterator[redis.Redis]:
    """A client of the session's Redis. The database is shared with other tests of the session: the feature
    tests use user ids of their own and never flush it."""
    client = redis_server.client()
    yield client
    client.close()
