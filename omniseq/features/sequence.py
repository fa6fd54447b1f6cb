"""The hybrid behaviour sequence as features: one encoding shared by the pipeline (writer), the feature registry,
training (offline reads) and serving (online reads).

Feast has no nested lists, so a user's last ``max_len`` behaviours are stored as parallel flat lists (one entry
per *token*; a token is one online event or one whole in-store basket) plus a CSR encoding of basket contents:

=================  ===============  ==============================================================================
feature            Feast type       meaning
=================  ===============  ==============================================================================
``tok_items``      Array(String)    per token: the raw item id of an online event, ``""`` for a basket token
``tok_types``      Array(Int64)     per token: 0 view, 1 click, 2 add_to_cart, 3 purchase, 4 in-store basket
``tok_ts``         Array(Int64)     per token: epoch milliseconds (non-decreasing)
``basket_items``   Array(String)    the raw item ids of every basket token, concatenated in token order
``basket_offsets`` Array(Int64)     CSR offsets into ``basket_items``: basket j is items[off[j]:off[j+1]];
                                    length = number of basket tokens + 1 (``[0]`` when there is none)
``basket_stores``  Array(String)    per basket token: the store id
``seq_len``        Int64            number of tokens
``last_ts``        Int64            timestamp of the newest token (the row's event time); 0 when empty
=================  ===============  ==============================================================================

Raw item ids are stored, never model indices: a model carries its own vocabulary, so retraining never invalidates
stored features. A row stamped ``last_ts = T`` only ever holds behaviours with ``ts <= T`` (point-in-time safe).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feature_repo.views import BASKET_CODE, EVENT_TYPE_CODES
from omniseq.schema import Behaviour, StoreTransaction, sort_key


@dataclass(frozen=True, slots=True)
class Token:
    """One position of the hybrid sequence: an online event (``item_id``) or an in-store basket (``basket``)."""

    type_code: int
    ts_ms: int
    item_id: str = ""
    basket: tuple[str, ...] = ()
    store_id: str = ""
    key: str = ""  # event_id / txn_id: orders equal timestamps deterministically and deduplicates

    @property
    def is_basket(self) -> bool:
        return self.type_code == BASKET_CODE

    @staticmethod
    def of(b: Behaviour) -> Token:
        if isinstance(b, StoreTransaction):
            return Token(BASKET_CODE, b.ts_ms, "", tuple(b.items), b.store_id, b.txn_id)
        return Token(EVENT_TYPE_CODES[b.event_type], b.ts_ms, b.item_id, (), "", b.event_id)

    def order(self) -> tuple[int, int, str]:
        # same rule as omniseq.schema.sort_key: by time, baskets before online events at equal time, then id
        return (self.ts_ms, 0 if self.is_basket else 1, self.key)


@dataclass(slots=True)
class HybridSequence:
    """A user's most recent ``max_len`` behaviours in time order (the reference implementation of the feature)."""

    user_id: str
    max_len: int
    tokens: list[Token] = field(default_factory=list)

    def add(self, b: Behaviour | Token) -> bool:
        """Insert in time order (late arrivals go to their place), keep the newest ``max_len``.

        Returns False (and changes nothing) for a duplicate (same key) or a token older than everything kept
        in a full sequence."""
        tok = b if isinstance(b, Token) else Token.of(b)
        orders = [t.order() for t in self.tokens]
        pos = bisect.bisect_left(orders, tok.order())
        if pos < len(orders) and orders[pos] == tok.order():
            return False
        if len(self.tokens) >= self.max_len and pos == 0:
            return False
        self.tokens.insert(pos, tok)
        if len(self.tokens) > self.max_len:
            del self.tokens[0]
        return True

    @classmethod
    def from_behaviours(cls, user_id: str, behaviours: Iterable[Behaviour], max_len: int) -> HybridSequence:
        seq = cls(user_id, max_len)
        for b in sorted(behaviours, key=sort_key):
            seq.add(b)
        return seq

    @property
    def last_ts(self) -> int:
        return self.tokens[-1].ts_ms if self.tokens else 0

    def to_features(self) -> dict[str, Any]:
        basket_items: list[str] = []
        offsets = [0]
        stores: list[str] = []
        for t in self.tokens:
            if t.is_basket:
                basket_items.extend(t.basket)
                offsets.append(len(basket_items))
                stores.append(t.store_id)
        return {
            "tok_items": [t.item_id for t in self.tokens],
            "tok_types": [t.type_code for t in self.tokens],
            "tok_ts": [t.ts_ms for t in self.tokens],
            "basket_items": basket_items,
            "basket_offsets": offsets,
            "basket_stores": stores,
            "seq_len": len(self.tokens),
            "last_ts": self.last_ts,
        }

    @classmethod
    def from_features(
        cls, user_id: str, feats: Mapping[str, Any], max_len: int | None = None
    ) -> HybridSequence:
        """Decode a feature row (online or offline). Raises ValueError on an inconsistent row."""
        items = list(feats.get("tok_items") or [])
        types = list(feats.get("tok_types") or [])
        ts = list(feats.get("tok_ts") or [])
        if not len(items) == len(types) == len(ts):
            raise ValueError(f"user {user_id}: tok_items/tok_types/tok_ts lengths differ")
        b_items = list(feats.get("basket_items") or [])
        offsets = list(feats.get("basket_offsets") or [0])
        stores = list(feats.get("basket_stores") or [])
        n_baskets = sum(1 for c in types if c == BASKET_CODE)
        if len(offsets) != n_baskets + 1 or len(stores) != n_baskets or offsets[-1] != len(b_items):
            raise ValueError(f"user {user_id}: basket_offsets/basket_stores do not match the basket tokens")
        tokens: list[Token] = []
        j = 0
        for item, code, t in zip(items, types, ts, strict=True):
            if code == BASKET_CODE:
                basket = tuple(b_items[offsets[j] : offsets[j + 1]])
                tokens.append(Token(BASKET_CODE, int(t), "", basket, stores[j]))
                j += 1
            else:
                tokens.append(Token(int(code), int(t), item))
        return cls(user_id, max_len or max(len(tokens), 1), tokens)
