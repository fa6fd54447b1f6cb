"""KafkaBroker: produce/consume through the session fixture, topic creation, and fail-fast start-up errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from omniseq.infra import kafka as kafka_mod
from omniseq.infra.jars import Jars
from omniseq.infra.kafka import KafkaBroker, new_cluster_id
from omniseq.infra.process import InfraError
from omniseq.infra.stack import isolated_settings


def test_cluster_id_format() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_config_is_filled_from_settings(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, kafka_partitions=3)
    text = KafkaBroker(settings).write_config().read_text()
    assert (
        f"listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port},CONTROLLER://127.0.0.1:{settings.kafka_controller_port}"
        in text
    )
    assert "num.partitions=3" in text
    assert f"log.dirs={(tmp_path / 'kafka' / 'data').resolve()}" in text
    assert "$" not in text.replace("$-placeholders", "")


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(kafka_mod.shutil, "which", lambda name: None)
    with pytest.raises(InfraError, match="'java' is not on PATH"):
        KafkaBroker(isolated_settings(tmp_path)).start()


def test_missing_jar_is_a_clear_error(tmp_path: Path) -> None:
    jars = Jars(kafka_classpath=[tmp_path / "kafka_2.13-4.1.1.jar"], flink=[])
    with pytest.raises(InfraError, match="jar\\(s\\) missing: .*kafka_2.13-4.1.1.jar"):
        KafkaBroker(isolated_settings(tmp_path), jars=jars).start()


def test_same_ports_rejected(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, kafka_port=45678, kafka_controller_port=45678)
    with pytest.raises(InfraError, match="must differ"):
        KafkaBroker(settings).start()


def test_port_taken_fails_fast(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with socket.socket() as sock:
        sock.bind((settings.kafka_host, settings.kafka_controller_port))
        sock.listen()
        with pytest.raises(InfraError, match="Kafka controller port .* is already in use"):
            KafkaBroker(settings).start()


@pytest.mark.integration
def test_broker_topics_and_round_trip(kafka_broker: KafkaBroker) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    s = kafka_broker.settings
    admin = kafka_broker.admin()
    topics = {t["name"]: t for t in admin.describe_topics([s.clickstream_topic, s.dlq_topic])}  # type: ignore[attr-defined]
    admin.close()  # type: ignore[attr-defined]
    assert len(topics[s.clickstream_topic]["partitions"]) == s.kafka_partitions
    assert s.dlq_topic in topics

    kafka_broker.create_topics(["infra-extra"], partitions=1)
    kafka_broker.create_topics(["infra-extra"], partitions=1)  # idempotent
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    for i in range(5):
        producer.send("infra-extra", key=b"k", value=f"m{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, consumer_timeout_ms=10000)
    consumer.assign([TopicPartition("infra-extra", 0)])
    consumer.seek_to_beginning()
    values = [m.value for _, m in zip(range(5), consumer, strict=False)]
    consumer.close()
    assert values == [f"m{i}".encode() for i in range(5)]
