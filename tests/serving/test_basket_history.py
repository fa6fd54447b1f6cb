"""History extraction for basket completion (pure logic: feature rows in, item ids out)."""

from __future__ import annotations

from typing import Any

import torch
from redis.exceptions import ConnectionError as RedisConnectionError

from feature_repo.views import BASKET_CODE, EVENT_TYPE_CODES
from omniseq.features.sequence import HybridSequence, Token
from serving.basket import BasketBundle, history_items, read_history


def _row() -> dict[str, Any]:
    t0 = 1_700_000_000_000
    tokens = [
        Token(BASKET_CODE, t0, "", ("a", "b"), "s1", "k0"),
        Token(EVENT_TYPE_CODES["view"], t0 + 1, "v", key="k1"),
        Token(EVENT_TYPE_CODES["purchase"], t0 + 2, "p", key="k2"),
        Token(BASKET_CODE, t0 + 3, "", ("c",), "s1", "k3"),
    ]
    return HybridSequence("u", 50, tokens).to_features()


def test_history_is_basket_items_and_purchases_oldest_first() -> None:
    assert history_items(_row(), "u") == ["a", "b", "p", "c"]
    assert history_items(None, "u") == []
    assert history_items({"seq_len": 0}, "u") == []


class _Store:
    def __init__(self, rows: list[dict[str, Any] | None] | None = None, fail: bool = False) -> None:
        self.rows, self.fail = rows, fail

    def read(self, view: str, users: list[str], names: list[str]) -> list[dict[str, Any] | None]:
        if self.fail:
            raise RedisConnectionError("down")
        return self.rows or [None]


def _bundle() -> BasketBundle:
    return BasketBundle("v", "parsrec", {}, None, [], {}, {}, "view", {}, 10, torch.zeros(3))


def test_read_history_statuses() -> None:
    assert read_history(_Store([_row()]), _bundle(), "u") == (["a", "b", "p", "c"], "ok")
    assert read_history(_Store([None]), _bundle(), "u") == ([], "no_history")
    assert read_history(_Store(fail=True), _bundle(), "u") == ([], "store_unavailable")
    bad = {**_row(), "basket_offsets": [0]}  # offsets that do not match the basket tokens
    assert read_history(_Store([bad]), _bundle(), "u") == ([], "bad_features")
