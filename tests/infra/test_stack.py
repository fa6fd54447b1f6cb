"""End to end: Kafka + Redis + a Flink mini-cluster from scratch, real traffic through each, nothing left behind."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from omniseq.infra import flink
from omniseq.infra.process import pid_alive, read_pids
from omniseq.infra.stack import LocalStack, isolated_settings

pytestmark = pytest.mark.integration

N_EVENTS = 40


def _produce(bootstrap: str, topic: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v).encode(),
    )
    for i in range(N_EVENTS):
        event = {
            "user_id": f"u{i % 4}",
            "item_id": f"i{i}",
            "event_type": "view",
            "ts_ms": 1_700_000_000_000 + i,
        }
        producer.send(topic, key=event["user_id"], value=event)
    producer.flush(timeout=30)
    producer.close()


def _consume(bootstrap: str, topic: str) -> list[dict[str, object]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id="infra-test",
        consumer_timeout_ms=15000,
        value_deserializer=lambda b: json.loads(b),
    )
    got: list[dict[str, object]] = []
    for message in consumer:
        got.append(message.value)
        if len(got) == N_EVENTS:
            break
    consumer.close()
    return got


def _flink_counts(stack: LocalStack) -> dict[str, int]:
    s = stack.settings
    t_env = flink.table_env(s, streaming=True, parallelism=1, jars=stack.jars)
    t_env.execute_sql(
        f"""CREATE TABLE clicks (user_id STRING, item_id STRING, event_type STRING, ts_ms BIGINT) WITH (
            'connector' = 'kafka', 'topic' = '{s.clickstream_topic}',
            'properties.bootstrap.servers' = '{s.kafka_bootstrap}', 'properties.group.id' = 'infra-flink',
            'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
            'format' = 'json')"""
    )
    result = t_env.execute_sql("SELECT user_id, item_id FROM clicks")
    with result.collect() as rows:
        users = [row[0] for row in rows]
    return {u: users.count(u) for u in set(users)}


def test_stack_from_scratch(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path / "run", redis_password="pw-test", redis_persistence=True)
    t0 = time.monotonic()
    with LocalStack(settings) as stack:
        started = time.monotonic() - t0
        pids = stack.pids()
        assert set(pids) == {"kafka", "redis"}
        assert read_pids(settings.run_dir) == pids
        assert all(pid_alive(p) for p in pids.values())

        _produce(settings.kafka_bootstrap, settings.clickstream_topic)
        consumed = _consume(settings.kafka_bootstrap, settings.clickstream_topic)
        assert sorted(e["item_id"] for e in consumed) == sorted(f"i{i}" for i in range(N_EVENTS))  # type: ignore[type-var]

        counts = _flink_counts(stack)
        assert counts == {f"u{k}": N_EVENTS // 4 for k in range(4)}

        client = stack.redis.client() if stack.redis else None
        assert client is not None
        client.hset("user:u1", mapping={"n": 3})
        assert client.hget("user:u1", "n") == b"3"
        client.close()
    print(f"stack start-up {started:.1f} s")
    assert not any(pid_alive(p) for p in pids.values()), "a stack process survived stop()"
    assert read_pids(settings.run_dir) == {}
    assert (settings.run_dir / "redis" / "appendonlydir").is_dir(), "redis_persistence=True writes an AOF"
