"""The pure per-record logic of the feature job, free of Flink so it is unit-testable and shared by the
reference computation.

* :func:`validate_message` -- a Kafka value to an :class:`OnlineEvent` or a dead-letter reason.
* :class:`UserState` helpers -- one user's keyed state: the newest ``max_len`` hybrid tokens (the same ordering and
  duplicate rules as :class:`omniseq.features.sequence.HybridSequence`, which stays the reference), the ids seen
  within the dedup horizon, and the in-store aggregates.

State is a plain list (cheap to pickle into Flink's keyed state)::

    [tokens, seen, visits, n_items, last_store_id, last_store_ts, last_store_order]

A token is the tuple ``(ts_ms, 0 basket | 1 online, key, type_code, item_id, basket_items, store_id)``; the first
three fields are :meth:`Token.order`.
"""

from __future__ import annotations

import bisect
from typing import Any, Final

from omniseq.features.sequence import BASKET_CODE, EVENT_TYPE_CODES
from omniseq.schema import OnlineEvent, SchemaError, StoreTransaction, decode_event

TokenTuple = tuple[int, int, str, int, str, tuple[str, ...], str]
UserState = list[Any]

TOKENS, SEEN, VISITS, N_ITEMS, LAST_STORE, LAST_STORE_TS, LAST_STORE_ORDER = range(7)
INSTORE_FEATURES: Final[tuple[str, ...]] = (
    "store_visits",
    "store_items",
    "mean_basket_size",
    "last_store_id",
    "last_store_ts",
)
WINDOW_FEATURES: Final[tuple[str, ...]] = (
    "n_view",
    "n_click",
    "n_add_to_cart",
    "n_purchase",
    "n_events",
    "last_online_ts",
)


def validate_message(payload: bytes | str | None) -> OnlineEvent | str:
    """Decode a Kafka value with :func:`omniseq.schema.decode_event`; a malformed one gives the reason instead."""
    if payload is None:
        return "invalid online_event: empty message (null value)"
    try:
        return decode_event(payload)
    except SchemaError as exc:
        return str(exc)


def new_state() -> UserState:
    return [[], {}, 0, 0, "", 0, (0, 0, "")]


def event_token(e: OnlineEvent) -> TokenTuple:
    return (e.ts_ms, 1, e.event_id, EVENT_TYPE_CODES[e.event_type], e.item_id, (), "")


def basket_token(t: StoreTransaction) -> TokenTuple:
    return (t.ts_ms, 0, t.txn_id, BASKET_CODE, "", tuple(t.items), t.store_id)


def is_duplicate(state: UserState, key: str, ts_ms: int, ttl_ms: int) -> bool:
    """True if ``key`` was seen within the dedup horizon; otherwise remember it (and forget expired ids)."""
    seen: dict[str, int] = state[SEEN]
    if key in seen:
        return True
    seen[key] = ts_ms
    if len(seen) > 64 and len(seen) % 64 == 0:  # amortised pruning by event time
        horizon = max(seen.values()) - ttl_ms
        for k in [k for k, t in seen.items() if t < horizon]:
            del seen[k]
    return False


def add_token(state: UserState, tok: TokenTuple, max_len: int) -> bool:
    """Insert in time order keeping the newest ``max_len`` (the rule of ``HybridSequence.add``)."""
    tokens: list[TokenTuple] = state[TOKENS]
    order = tok[:3]
    if not tokens or tokens[-1][:3] < order:  # the common case: in order
        pos = len(tokens)
    else:
        pos = bisect.bisect_left(tokens, order, key=lambda t: t[:3])
        if pos < len(tokens) and tokens[pos][:3] == order:
            return False
    if len(tokens) >= max_len and pos == 0:
        return False
    tokens.insert(pos, tok)
    if len(tokens) > max_len:
        del tokens[0]
    return True


def add_basket_agg(state: UserState, txn_id: str, n_items: int, ts_ms: int, store_id: str) -> None:
    """Count one (new, deduplicated) basket into the in-store aggregates."""
    state[VISITS] += 1
    state[N_ITEMS] += n_items
    order = (ts_ms, 0, txn_id)
    if state[VISITS] == 1 or order > state[LAST_STORE_ORDER]:
        state[LAST_STORE] = store_id
        state[LAST_STORE_TS] = ts_ms
        state[LAST_STORE_ORDER] = order


def seq_features(tokens: list[TokenTuple], max_len: int) -> dict[str, Any]:
    """The features of ``omniseq.features.sequence`` for the newest ``max_len`` tokens."""
    toks = tokens[-max_len:]
    basket_items: list[str] = []
    offsets = [0]
    stores: list[str] = []
    for t in toks:
        if t[3] == BASKET_CODE:
            basket_items.extend(t[5])
            offsets.append(len(basket_items))
            stores.append(t[6])
    return {
        "tok_items": [t[4] for t in toks],
        "tok_types": [t[3] for t in toks],
        "tok_ts": [t[0] for t in toks],
        "basket_items": basket_items,
        "basket_offsets": offsets,
        "basket_stores": stores,
        "seq_len": len(toks),
        "last_ts": toks[-1][0] if toks else 0,
    }


def instore_features(state: UserState) -> dict[str, Any]:
    visits = state[VISITS]
    return {
        "store_visits": visits,
        "store_items": state[N_ITEMS],
        "mean_basket_size": state[N_ITEMS] / visits if visits else 0.0,
        "last_store_id": state[LAST_STORE],
        "last_store_ts": state[LAST_STORE_TS],
    }
