from __future__ import annotations

import random
from typing import Any

import pytest

from omniseq.features.sequence import HybridSequence
from omniseq.schema import EVENT_TYPES, OnlineEvent, StoreTransaction
from pipeline import transforms as tf
from pipeline.producer import MALFORMED_SAMPLES

T0 = 1_700_000_000_000
ETYPES: list[Any] = list(EVENT_TYPES)  # Literal-typed choices for the random generators


def _random_history(rng: random.Random, n: int) -> list[OnlineEvent | StoreTransaction]:
    out: list[OnlineEvent | StoreTransaction] = []
    for i in range(n):
        ts = T0 + rng.randrange(0, 50) * 1000  # many equal timestamps and out-of-order arrivals
        if rng.random() < 0.2:
            items = tuple(f"p{j}" for j in rng.sample(range(20), rng.randint(1, 4)))
            out.append(StoreTransaction(f"t{i}", "u", items, ts, f"s{rng.randint(0, 3)}"))
        else:
            out.append(OnlineEvent(f"e{i}", "u", f"i{rng.randint(0, 30)}", rng.choice(ETYPES), ts, "s"))
        if rng.random() < 0.1:
            out.append(out[rng.randrange(len(out))])  # a duplicate, possibly late
    return out


def _apply(state: list, b: OnlineEvent | StoreTransaction, max_len: int) -> None:
    key = b.txn_id if isinstance(b, StoreTransaction) else b.event_id
    if tf.is_duplicate(state, key, b.ts_ms, 10**9):
        return
    if isinstance(b, StoreTransaction):
        tf.add_token(state, tf.basket_token(b), max_len)
        tf.add_basket_agg(state, b.txn_id, len(b.items), b.ts_ms, b.store_id)
    else:
        tf.add_token(state, tf.event_token(b), max_len)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("max_len", [1, 7, 90])
def test_state_matches_hybrid_sequence_reference(seed: int, max_len: int) -> None:
    rng = random.Random(seed)
    history = _random_history(rng, 120)
    state = tf.new_state()
    ref = HybridSequence("u", max_len)
    for b in history:
        _apply(state, b, max_len)
        ref.add(b)
        assert tf.seq_features(state[tf.TOKENS], max_len) == ref.to_features()


def test_shorter_view_is_the_tail_of_the_longer_one() -> None:
    rng = random.Random(7)
    state = tf.new_state()
    short = HybridSequence("u", 5)
    for b in _random_history(rng, 80):
        _apply(state, b, 12)
        short.add(b)
    assert tf.seq_features(state[tf.TOKENS], 5) == short.to_features()


def test_instore_aggregates_count_each_basket_once() -> None:
    state = tf.new_state()
    a = StoreTransaction("t1", "u", ("x", "y"), T0 + 10, "s1")
    b = StoreTransaction("t2", "u", ("z",), T0 + 5, "s2")  # older, arrives later
    for t in (a, b, a):
        _apply(state, t, 10)
    f = tf.instore_features(state)
    assert (f["store_visits"], f["store_items"], f["last_store_id"], f["last_store_ts"]) == (
        2,
        3,
        "s1",
        T0 + 10,
    )
    assert f["mean_basket_size"] == pytest.approx(1.5)


def test_duplicate_filter_forgets_ids_beyond_the_horizon() -> None:
    state = tf.new_state()
    assert not tf.is_duplicate(state, "old", T0, ttl_ms=1000)
    for i in range(200):
        tf.is_duplicate(state, f"k{i}", T0 + 10_000 + i, ttl_ms=1000)
    assert "old" not in state[tf.SEEN]
    assert tf.is_duplicate(state, "k199", T0, ttl_ms=1000)


@pytest.mark.parametrize("payload", [*MALFORMED_SAMPLES, None])
def test_malformed_messages_give_a_reason(payload: bytes | None) -> None:
    result = tf.validate_message(payload)
    assert isinstance(result, str) and result.startswith("invalid online_event")


def test_valid_message_decodes() -> None:
    e = OnlineEvent("e1", "u1", "i1", "click", T0, "s1")
    from omniseq.schema import encode_event

    assert tf.validate_message(encode_event(e)) == e
