from __future__ import annotations

import math

import pytest

from lifecycle.promotion import decide


def test_first_model_is_promoted() -> None:
    d = decide("v2", {"ndcg@10": 0.1}, None, None)
    assert d.promote and d.champion_value is None and "no champion" in d.reason


def test_margin_is_relative() -> None:
    assert decide("v2", {"ndcg@10": 0.2019}, "v1", {"ndcg@10": 0.2}, margin=0.01).promote is False
    assert decide("v2", {"ndcg@10": 0.2021}, "v1", {"ndcg@10": 0.2}, margin=0.01).promote is True


def test_equal_is_not_better_even_with_zero_margin() -> None:
    assert decide("v2", {"ndcg@10": 0.2}, "v1", {"ndcg@10": 0.2}, margin=0.0).promote is False


def test_nan_is_never_promoted() -> None:
    d = decide("v2", {"ndcg@10": math.nan}, None, None)
    assert not d.promote and "not finite" in d.reason


def test_missing_metric_is_an_error() -> None:
    with pytest.raises(KeyError, match="hr@10"):
        decide("v2", {"ndcg@10": 0.1}, None, None, metric="hr@10")


def test_record_has_both_sides() -> None:
    rec = decide("v2", {"ndcg@10": 0.3}, "v1", {"ndcg@10": 0.2}).to_record()
    assert rec["challenger_value"] == 0.3 and rec["champion_value"] == 0.2 and rec["promote"] is True
