"""End to end on real processes: replay (with malformed and duplicate messages, late and bad in-store drops) ->
Kafka -> the Flink job (stopped with a savepoint mid-stream and resumed) -> Redis. The online store must equal the
pure-Python reference, the DLQ must hold exactly the malformed messages, the bad drop must be quarantined."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from omniseq.features.online import RedisOnlineStore
from omniseq.schema import EVENT_TYPES, Behaviour, OnlineEvent, StoreTransaction, sort_key
from pipeline.config import MINUTE_MS, PipelineSettings, WindowSpec
from pipeline.producer import DropScheduler, Replayer, kafka_producer
from pipeline.runner import start
from pipeline.sinks import read_counters
from tests.pipeline.conftest import create_topics
from tests.pipeline.reference import expected_online
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_700_000_000_000
ETYPES: list[Any] = list(EVENT_TYPES)  # Literal-typed choices for the random generators
SENTINEL = "zz-watermark"


def _history(n_users: int = 8, n_events: int = 240) -> list[Behaviour]:
    rng = random.Random(11)
    out: list[Behaviour] = []
    for i in range(n_events):
        u = f"u{rng.randrange(n_users)}"
        ts = T0 + i * 20_000
        out.append(OnlineEvent(f"e{i}", u, f"i{rng.randrange(50)}", rng.choice(ETYPES), ts, f"s{u}"))
        if i % 15 == 7:
            items = tuple(f"p{j}" for j in rng.sample(range(30), rng.randint(1, 5)))
            out.append(StoreTransaction(f"t{i}", u, items, ts + 1, f"store{i % 4}"))
    return sorted(out, key=sort_key)


def _dead_letters(cfg: PipelineSettings, expected: int) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        cfg.dlq_topic, bootstrap_servers=cfg.kafka_bootstrap, auto_offset_reset="earliest",
        consumer_timeout_ms=3000, isolation_level="read_committed",
    )  # fmt: skip
    out: list[dict[str, Any]] = []

    def enough() -> bool:
        out.extend(json.loads(m.value) for m in consumer)
        return len(out) >= expected

    try:
        wait_until(enough, 30, f"{expected} dead letters on {cfg.dlq_topic}")
        out.extend(json.loads(m.value) for m in consumer)  # anything beyond the expected count
    finally:
        consumer.close()
    return out


def _online_state(cfg: PipelineSettings, expected: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:

    store = RedisOnlineStore.from_url(cfg.redis_url)
    got = {}
    for view, users in expected.items():
        names = sorted(users)
        got[view] = dict(zip(names, store.read(view, names, list(next(iter(users.values())))), strict=True))
    return got


def test_replay_to_redis_equals_reference_across_a_restart(
    tmp_path: Path, pipeline_stack: dict[str, Any], flink_jars: list[str]
) -> None:

    uid = uuid.uuid4().hex[:8]
    cfg = PipelineSettings(
        run_dir=tmp_path, **pipeline_stack, clickstream_topic=f"clickstream-{uid}",
        dlq_topic=f"clickstream-dlq-{uid}", kafka_group_id=f"omniseq-test-{uid}",
        seq_views={"user_hybrid_seq_v1": 6, "user_hybrid_seq_v2": 15},
        windows=[WindowSpec(view="user_online_agg_10m_v1", size_ms=10 * MINUTE_MS, slide_ms=MINUTE_MS),
                 WindowSpec(view="user_online_agg_1h_v1", size_ms=60 * MINUTE_MS, slide_ms=5 * MINUTE_MS)],
        checkpoint_interval_ms=1000, instore_monitor_ms=300, redis_flush_ms=50, landing_incomplete_grace_s=1.0,
    )  # fmt: skip
    create_topics(cfg.kafka_bootstrap, cfg.clickstream_topic, cfg.dlq_topic)
    history = _history()
    cut = len(history) // 2
    sentinel = OnlineEvent("sentinel", SENTINEL, "x", "view", history[-1].ts_ms + 3 * 60 * MINUTE_MS, "s")
    producer = kafka_producer(cfg.kafka_bootstrap)
    # drops cover 30 min of event time and land 1 h late: their baskets precede online events already streamed
    replay = Replayer(
        producer, cfg.clickstream_topic, DropScheduler(cfg.dir("landing"), 30 * MINUTE_MS, 60 * MINUTE_MS)
    )
    faults = {"malformed_every": 17, "duplicate_every": 11, "progress": False}

    replay.run(history[:cut], **faults)  # type: ignore[arg-type]
    job = start(cfg, cfg.redis_url, flink_jars, resume=True)
    metrics = cfg.pipeline_dir / "metrics"
    sent_first = replay.stats.sent
    wait_until(
        lambda: read_counters(metrics).get("messages_in", 0) >= sent_first, 120, "the first half consumed"
    )
    assert read_counters(metrics).get("messages_in", 0) == sent_first
    job.stop(cfg.pipeline_dir / "savepoints")  # mid-stream: windows and drops still open

    replay.run([*history[cut:], sentinel], **faults)  # type: ignore[arg-type]
    producer.close()
    (cfg.dir("landing") / "broken.parquet").write_bytes(b"not parquet at all")
    expected = expected_online(
        [*history, sentinel], cfg, watermark_ms=sentinel.ts_ms - cfg.out_of_orderness_ms
    )
    job = start(cfg, cfg.redis_url, flink_jars, resume=True)
    try:
        with contextlib.suppress(
            AssertionError
        ):  # on a timeout the comparison below names the view that differs
            wait_until(
                lambda: _online_state(cfg, expected) == expected, 150, "Redis to equal the reference", 0.5
            )
        reason_file = cfg.dir("quarantine") / "broken.parquet.reason.json"
        wait_until(reason_file.is_file, 120, "the broken drop quarantined")
    finally:
        job.stop(None)
    got = _online_state(cfg, expected)
    for view, users in expected.items():
        assert got[view] == users, view

    assert replay.stats.failed == 0
    letters = _dead_letters(cfg, replay.stats.malformed)
    payloads = [
        base64.b64decode(d["payload"]) if d["payload_encoding"] == "base64" else d["payload"].encode()
        for d in letters
    ]
    assert Counter(payloads) == Counter(replay.stats.malformed_payloads)
    assert all(d["reason"].startswith("invalid online_event") for d in letters)
    reason = json.loads((cfg.dir("quarantine") / "broken.parquet.reason.json").read_text())
    assert "Parquet" in reason["reason"]
