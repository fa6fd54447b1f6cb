"""Session-scoped pytest fixtures that start the real stack processes (import them in ``tests/conftest.py``).

- ``stack_settings``: :class:`StackSettings` with free random ports and a fresh temporary run folder.
- ``redis_server``: a started :class:`RedisServer` (use ``redis_server.client()``).
- ``kafka_broker``: a started :class:`KafkaBroker` with the settings' topics created (``kafka_broker.bootstrap``).
- ``flink_env``: a factory ``flink_env(streaming=True, parallelism=None)`` returning a fresh table environment
  (local mini-cluster) with the Kafka connector and Parquet jars on ``pipeline.jars``.

Each fixture stops its process in a ``finally`` block, so a failing test leaves nothing running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from omniseq.infra.jars import REPO_ROOT
from omniseq.infra.process import free_port
from omniseq.settings import StackSettings


def make_test_settings(run_dir: Path, **overrides: Any) -> StackSettings:
    """StackSettings for tests: free ports, ``run_dir`` as the run folder, the shared jar cache
    (``OMNISEQ_CACHE_DIR`` or the repository's ``.cache``)."""
    values: dict[str, Any] = {
        "run_dir": run_dir,
        "cache_dir": Path(os.environ.get("OMNISEQ_CACHE_DIR", REPO_ROOT / ".cache")).resolve(),
        "kafka_host": "127.0.0.1",
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "redis_host": "127.0.0.1",
        "redis_port": free_port(),
        "api_port": free_port(),
        "kafka_partitions": 2,
        "flink_target": "local",
        "redis_password": None,
        "redis_persistence": False,
    }
    values.update(overrides)
    return StackSettings(**values)


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    """StackSettings with free random ports and a temporary run folder (shared by the session's fixtures)."""
    return make_test_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def redis_server(stack_settings: StackSettings) -> Iterator[Any]:
    """A real redis-server for the test session."""
    from omniseq.infra.redis import RedisServer

    server = RedisServer(stack_settings)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_broker(stack_settings: StackSettings) -> Iterator[Any]:
    """A real Kafka (KRaft) broker for the test session, with the clickstream and DLQ topics created."""
    from omniseq.infra.kafka import KafkaBroker

    broker = KafkaBroker(stack_settings)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def flink_env(stack_settings: StackSettings) -> Callable[..., Any]:
    """A factory for table environments on the local mini-cluster with the resolved Flink jars."""
    from omniseq.infra import flink
    from omniseq.infra.jars import ensure_jars

    jars = ensure_jars(stack_settings)

    def make(streaming: bool = True, parallelism: int | None = None) -> Any:
        return flink.table_env(stack_settings, streaming=streaming, parallelism=parallelism, jars=jars)

    return make
