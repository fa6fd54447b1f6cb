from __future__ import annotations

import os

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from tests.pipeline.local_job import job_jars


@pytest.fixture(scope="session")
def flink_jars() -> list[str]:
    """The Kafka connector and Parquet jars as file URIs (OMNISEQ_TEST_FLINK_JARS=dir overrides ensure_jars)."""
    return job_jars()


@pytest.fixture()
def pipeline_stack(request: pytest.FixtureRequest) -> dict[str, object]:
    """Kafka and Redis for the integration tests: the infra fixtures, or already-running processes named by
    OMNISEQ_TEST_KAFKA_PORT / OMNISEQ_TEST_REDIS_PORT (handy while developing)."""
    kafka_port, redis_port = (
        os.environ.get("OMNISEQ_TEST_KAFKA_PORT"),
        os.environ.get("OMNISEQ_TEST_REDIS_PORT"),
    )
    if kafka_port and redis_port:
        return {"kafka_port": int(kafka_port), "redis_port": int(redis_port)}
    stack = request.getfixturevalue("stack_settings")
    request.getfixturevalue("kafka_broker")
    request.getfixturevalue("redis_server")
    return {
        "kafka_port": stack.kafka_port,
        "redis_port": stack.redis_port,
        "kafka_host": stack.kafka_host,
        "redis_host": stack.redis_host,
    }


def create_topics(bootstrap: str, clickstream: str, dlq: str, clickstream_partitions: int = 2) -> None:
    """The job's input topic (``clickstream_partitions`` partitions) and its one-partition dead-letter topic, made
    before anything is produced, so no test depends on the broker's auto-creation defaults."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(clickstream, clickstream_partitions, 1), NewTopic(dlq, 1, 1)])
    finally:
        admin.close()
