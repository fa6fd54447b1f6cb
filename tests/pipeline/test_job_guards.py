"""The job's guards on real processes (Kafka, Flink, Redis): an oversized message and a far-future event are
dead-lettered (the letter capped, the job never restarts), the local REST endpoint listens on loopback only with
jar upload off, and the runner notices a job cancelled under it."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from omniseq.features.online import RedisOnlineStore
from omniseq.schema import OnlineEvent, encode_event
from pipeline.config import PipelineSettings
from pipeline.runner import JobFailed, start, watch
from tests.pipeline.conftest import create_topics
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _status(url: str, method: str = "GET", data: bytes | None = None) -> int:
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def _letters(cfg: PipelineSettings, n: int) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        cfg.dlq_topic, bootstrap_servers=cfg.kafka_bootstrap, auto_offset_reset="earliest",
        consumer_timeout_ms=2000, fetch_max_bytes=4 << 20, max_partition_fetch_bytes=4 << 20,
    )  # fmt: skip
    out: list[dict[str, Any]] = []

    def enough() -> bool:
        out.extend(json.loads(m.value) for m in consumer)
        return len(out) >= n

    try:
        wait_until(enough, 60, f"{n} dead letters on {cfg.dlq_topic}")
    finally:
        consumer.close()
    return out


def test_oversized_and_far_future_messages_are_dead_lettered_and_rest_is_loopback(
    tmp_path: Path, pipeline_stack: dict[str, Any], flink_jars: list[str]
) -> None:

    uid = uuid.uuid4().hex[:8]
    cfg = PipelineSettings(
        run_dir=tmp_path, **pipeline_stack, clickstream_topic=f"guards-{uid}", dlq_topic=f"guards-dlq-{uid}",
        kafka_group_id=f"guards-{uid}", checkpoint_interval_ms=1000, redis_flush_ms=50, max_restarts=0,
    )  # fmt: skip
    now = int(time.time() * 1000)
    huge = json.dumps({"event_id": "big", "user_id": "u", "item_id": "x" * 900_000, "event_type": "view",
                       "ts_ms": now, "session_id": "s"}).encode()  # fmt: skip
    future = encode_event(OnlineEvent("fut", "u-future", "i", "view", 4_000_000_000_000, "s"))
    fine = encode_event(OnlineEvent("ok1", "u-ok", "i1", "click", now, "s"))
    # one partition: the dead letters are told apart by their source offsets
    create_topics(cfg.kafka_bootstrap, cfg.clickstream_topic, cfg.dlq_topic, clickstream_partitions=1)
    producer = KafkaProducer(bootstrap_servers=cfg.kafka_bootstrap, max_request_size=2 << 20)
    for value in (huge, future, fine):
        producer.send(cfg.clickstream_topic, value=value).get(timeout=30)
    producer.close()

    job = start(cfg, cfg.redis_url, flink_jars, resume=False)
    try:
        store = RedisOnlineStore.from_url(cfg.redis_url)
        wait_until(
            lambda: store.read("user_hybrid_seq_v1", ["u-ok"])[0] is not None, 90, "u-ok's sequence in Redis"
        )
        assert store.read("user_hybrid_seq_v1", ["u-ok"])[0]["tok_items"] == ["i1"]  # type: ignore[index]
        assert store.read("user_hybrid_seq_v1", ["u-future"])[0] is None
        letters = {d["source_offset"]: d for d in _letters(cfg, 2)}
        assert sorted(letters) == [0, 1]
        big = letters[0]
        assert big["payload_truncated"] is True and big["payload_bytes"] == len(huge)
        assert big["payload_sha256"] == hashlib.sha256(huge).hexdigest()
        assert len(big["payload"].encode()) <= cfg.dlq_max_payload_bytes
        assert "max_message_bytes" in big["reason"]
        assert "future" in letters[1]["reason"] and letters[1]["payload"] == future.decode()
        assert job.check(cfg) == ("RUNNING", 0)  # no restart loop

        assert job.rest_url is not None and job.rest_url.startswith("http://127.0.0.1:")
        assert _status(f"{job.rest_url}/config") == 200
        assert _status(f"{job.rest_url}/jars/upload", "POST", b"x") >= 400  # web.submit.enable=false
        port = int(job.rest_url.rsplit(":", 1)[1])
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
        assert job.state() == "RUNNING"

        job.client.cancel().result()  # cancelled under the runner: it must notice
        with pytest.raises(JobFailed, match="CANCEL"):
            watch(job, cfg, duration_s=60, poll_s=0.2)
        status = json.loads((cfg.pipeline_dir / "job_status.json").read_text())
        assert status["state"] in ("CANCELED", "CANCELLING")
    finally:
        job.validator.stop()
        if job.state() == "RUNNING":
            job.client.cancel().result()
