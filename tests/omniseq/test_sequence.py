from __future__ import annotations

import pytest

from feature_repo.views import BASKET_CODE
from omniseq.features.sequence import HybridSequence, Token
from omniseq.schema import OnlineEvent, StoreTransaction

TS = 1_700_000_000_000


def _history() -> list[OnlineEvent | StoreTransaction]:
    return [
        OnlineEvent("e1", "u", "i1", "view", TS, "s"),
        StoreTransaction("t1", "u", ("a", "b"), TS + 1000, "st1"),
        OnlineEvent("e2", "u", "i2", "purchase", TS + 2000, "s"),
        StoreTransaction("t2", "u", ("c",), TS + 3000, "st2"),
    ]


def test_features_round_trip_and_layout() -> None:
    seq = HybridSequence.from_behaviours("u", _history(), max_len=10)
    f = seq.to_features()
    assert f["tok_items"] == ["i1", "", "i2", ""]
    assert f["tok_types"] == [0, BASKET_CODE, 3, BASKET_CODE]
    assert f["basket_items"] == ["a", "b", "c"]
    assert f["basket_offsets"] == [0, 2, 3]
    assert f["basket_stores"] == ["st1", "st2"]
    assert f["seq_len"] == 4 and f["last_ts"] == TS + 3000
    assert HybridSequence.from_features("u", f).to_features() == f


def test_truncation_keeps_newest_and_late_arrivals_are_placed_in_time() -> None:
    h = _history()
    seq = HybridSequence("u", max_len=3)
    for b in [h[0], h[2], h[3], h[1]]:  # the first basket arrives late
        seq.add(b)
    assert [t.ts_ms for t in seq.tokens] == [TS + 1000, TS + 2000, TS + 3000]
    assert seq.add(h[2]) is False  # duplicate
    assert seq.add(h[0]) is False  # older than everything kept in a full sequence


def test_inconsistent_rows_are_rejected() -> None:
    f = HybridSequence.from_behaviours("u", _history(), max_len=10).to_features()
    f["basket_offsets"] = [0, 2]
    with pytest.raises(ValueError, match="basket_offsets"):
        HybridSequence.from_features("u", f)
    g = HybridSequence.from_behaviours("u", _history(), max_len=10).to_features()
    g["tok_ts"] = g["tok_ts"][:-1]
    with pytest.raises(ValueError, match="lengths"):
        HybridSequence.from_features("u", g)


def test_token_of_behaviour() -> None:
    tok = Token.of(StoreTransaction("t", "u", ("x", "y"), TS, "s9"))
    assert tok.is_basket and tok.basket == ("x", "y") and tok.store_id == "s9"
