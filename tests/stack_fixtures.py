"""Session-scoped pytest fixtures that start the real stack processes (``tests/conftest.py`` imports them).

- ``stack_settings``: :class:`StackSettings` with free random ports and a fresh temporary run folder
  (:func:`omniseq.infra.stack.isolated_settings`).
- ``redis_server``: a started :class:`RedisServer` (use ``redis_server.client()``).
- ``kafka_broker``: a started :class:`KafkaBroker` with the settings' topics created (``kafka_broker.bootstrap``).
- ``flink_env``: a factory ``flink_env(streaming=True, parallelism=None)`` returning a fresh table environment
  (local mini-cluster) with the Kafka connector and Parquet jars on ``pipeline.jars``.

Each fixture stops its process in a ``finally`` block, so a failing test leaves nothing running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from omniseq.infra import flink
from omniseq.infra.jars import ensure_jars
from omniseq.infra.kafka import KafkaBroker
from omniseq.infra.redis import RedisServer
from omniseq.infra.stack import isolated_settings
from omniseq.settings import StackSettings


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    """StackSettings with free random ports and a temporary run folder (shared by the session's fixtures)."""
    return isolated_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def redis_server(stack_settings: StackSettings) -> Iterator[RedisServer]:
    """A real redis-server for the test session."""
    server = RedisServer(stack_settings)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_broker(stack_settings: StackSettings) -> Iterator[KafkaBroker]:
    """A real Kafka (KRaft) broker for the test session, with the clickstream and DLQ topics created."""
    broker = KafkaBroker(stack_settings)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def flink_env(stack_settings: StackSettings) -> Callable[..., Any]:
    """A factory for table environments on the local mini-cluster with the resolved Flink jars."""
    jars = ensure_jars(stack_settings)

    def make(streaming: bool = True, parallelism: int | None = None) -> Any:
        return flink.table_env(stack_settings, streaming=streaming, parallelism=parallelism, jars=jars)

    return make
