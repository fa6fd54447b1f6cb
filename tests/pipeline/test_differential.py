"""Differential test: random hybrid histories (duplicates, late in-store drops, equal timestamps, malformed
messages) through the real job (Kafka -> Flink's Java operators -> Redis) against the pure-Python reference,
byte for byte: every user's Redis hash must equal the reference's features encoded by
:class:`omniseq.features.online.RedisOnlineStore` (Feast's layout), field by field."""

from __future__ import annotations

import contextlib
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from feature_repo.views import view as view_spec
from omniseq.features.online import RedisOnlineStore, redis_key
from omniseq.schema import EVENT_TYPES, Behaviour, OnlineEvent, StoreTransaction, sort_key
from pipeline.config import MINUTE_MS, PipelineSettings, WindowSpec
from pipeline.producer import DropScheduler, Replayer, kafka_producer
from pipeline.runner import start
from tests.pipeline.conftest import create_topics
from tests.pipeline.reference import expected_online
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_700_000_000_000
ETYPES: list[Any] = list(EVENT_TYPES)


def _random_history(seed: int, n: int = 400) -> list[Behaviour]:
    """Few users, many equal timestamps (events and baskets at the same millisecond), baskets of random sizes."""
    rng = random.Random(seed)
    out: list[Behaviour] = []
    ts = T0
    for i in range(n):
        ts += rng.choice([0, 0, 1, 1_000, 30_000])  # equal timestamps are common
        u = f"d{seed}-u{rng.randrange(6)}"
        if rng.random() < 0.15:
            items = tuple(f"p{j}" for j in rng.sample(range(40), rng.randint(1, 6)))
            out.append(StoreTransaction(f"d{seed}-t{i}", u, items, ts, f"s{rng.randrange(3)}"))
        else:
            out.append(OnlineEvent(f"d{seed}-e{i}", u, f"i{rng.randrange(30)}", rng.choice(ETYPES), ts, "s"))
    return sorted(out, key=sort_key)


def _expected_hashes(expected: dict[str, dict[str, dict[str, Any]]]) -> dict[bytes, dict[bytes, bytes]]:

    codec = RedisOnlineStore(None)  # type: ignore[arg-type]  # encoding only
    out: dict[bytes, dict[bytes, bytes]] = {}
    for view, users in expected.items():
        for user, feats in users.items():
            ts = feats[view_spec(view).event_time_feature]
            out.setdefault(redis_key(user), {}).update(codec.encode_row(view, feats, int(ts)))
    return out


def test_random_histories_equal_the_reference_byte_for_byte(
    tmp_path: Path, pipeline_stack: dict[str, Any], flink_jars: list[str]
) -> None:

    uid = uuid.uuid4().hex[:8]
    cfg = PipelineSettings(
        run_dir=tmp_path, **pipeline_stack, clickstream_topic=f"diff-{uid}", dlq_topic=f"diff-dlq-{uid}",
        kafka_group_id=f"diff-{uid}", seq_views={"user_hybrid_seq_v1": 7, "user_hybrid_seq_v2": 20},
        windows=[WindowSpec(view="user_online_agg_10m_v1", size_ms=10 * MINUTE_MS, slide_ms=MINUTE_MS)],
        checkpoint_interval_ms=1000, instore_monitor_ms=300, redis_flush_ms=50,
    )  # fmt: skip
    create_topics(cfg.kafka_bootstrap, cfg.clickstream_topic, cfg.dlq_topic)
    history = [b for seed in (1, 2, 3) for b in _random_history(seed)]
    history.sort(key=sort_key)
    sentinel = OnlineEvent("sentinel", "zz-diff", "x", "view", history[-1].ts_ms + 3 * 60 * MINUTE_MS, "s")
    producer = kafka_producer(cfg.kafka_bootstrap)
    replay = Replayer(
        producer, cfg.clickstream_topic, DropScheduler(cfg.dir("landing"), 5 * MINUTE_MS, 20 * MINUTE_MS)
    )
    replay.run([*history, sentinel], malformed_every=13, duplicate_every=7, progress=False)
    producer.close()
    expected = _expected_hashes(
        expected_online([*history, sentinel], cfg, watermark_ms=sentinel.ts_ms - cfg.out_of_orderness_ms)
    )
    client = redis.Redis.from_url(cfg.redis_url)

    def stored() -> dict[bytes, dict[bytes, bytes]]:
        return {key: client.hgetall(key) for key in expected}  # type: ignore[misc]

    job = start(cfg, cfg.redis_url, flink_jars, resume=False)
    try:
        with contextlib.suppress(
            AssertionError
        ):  # on a timeout the comparison below names the first difference
            wait_until(lambda: stored() == expected, 180, "Redis to equal the reference", interval_s=0.5)
    finally:
        job.stop(None)
    got = stored()
    assert replay.stats.malformed > 0 and replay.stats.duplicates > 0
    for key, fields in expected.items():
        assert got[key] == fields, key
