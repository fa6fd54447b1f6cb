"""What the storefront page (``GET /storefront``) shows, computed on the server from the online store and the API.

- :func:`timeline`: one customer's hybrid sequence as the model reads it (the champion's sequence feature view in
  Redis), decoded into online events and in-store baskets on one time axis, newest first.
- :func:`sample_user`: a random customer of the online store, optionally one with both channels in their sequence.
- :func:`page_tabs`: the recommendation tabs the page offers, read from the app's own OpenAPI schema, so a tab
  appears exactly when its endpoint exists (other model families, per-channel requests, explanations).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from feature_repo.views import BASKET_CODE, EVENT_TYPE_CODES, SEQUENCE_FEATURES, VIEWS
from omniseq.features.online import RedisOnlineStore, redis_key, user_id_of_key
from omniseq.features.sequence import HybridSequence
from serving.recommender import StoreUnavailableError

EVENT_NAMES = {code: name for name, code in EVENT_TYPE_CODES.items()}
SEQUENCE_VIEWS = tuple(sorted(name for name, spec in VIEWS.items() if spec.kind == "sequence"))
DEFAULT_VIEW = SEQUENCE_VIEWS[-1]  # the newest version, when no champion names one


class UnknownCustomerError(LookupError):
    """The online store holds no feature row at all for this customer."""


class NoCustomerFoundError(LookupError):
    """No customer in the online store matches a random pick's condition."""


class TimelineEvent(BaseModel):
    channel: Literal["online", "store"]
    event_type: str = Field(description="view | click | add_to_cart | purchase | basket")
    ts_ms: int = Field(description="epoch milliseconds")
    item_id: str | None = Field(None, description="online events: the item")
    store_id: str | None = Field(None, description="in-store baskets: the store")
    items: list[str] = Field(default_factory=list, description="in-store baskets: the items bought")


class TimelineResponse(BaseModel):
    user_id: str
    feature_view: str = Field(description="the online feature view read (the champion's sequence view)")
    has_history: bool
    events: list[TimelineEvent] = Field(description="newest first")
    online_events: int
    store_baskets: int
    newest_ts_ms: int | None = Field(description="time of the newest behaviour")
    server_time_ms: int
    freshness_s: float | None = Field(description="age of the newest behaviour, seconds")
    model_version: str | None = Field(description="the champion serving /recommend now")
    fingerprint: str = Field(description="changes when the customer's features or the champion change")


class RandomUserResponse(BaseModel):
    user_id: str
    online_events: int
    store_baskets: int


class PageTab(BaseModel):
    key: str
    label: str
    path: str
    body: dict[str, Any] = Field(description="the request body, without user_id")


class PageConfig(BaseModel):
    tabs: list[PageTab]
    explain: bool = Field(description="POST /recommend accepts explain: true")
    poll_ms: int
    links: dict[str, str]


def _events(seq: HybridSequence) -> list[TimelineEvent]:
    out = []
    for tok in reversed(seq.tokens):
        if tok.type_code == BASKET_CODE:
            out.append(TimelineEvent(channel="store", event_type="basket", ts_ms=tok.ts_ms, item_id=None,
                                     store_id=tok.store_id, items=list(tok.basket)))  # fmt: skip
        else:
            name = EVENT_NAMES.get(tok.type_code, f"type {tok.type_code}")
            out.append(TimelineEvent(channel="online", event_type=name, ts_ms=tok.ts_ms, item_id=tok.item_id,
                                     store_id=None))  # fmt: skip
    return out


def timeline(store: RedisOnlineStore, view: str, user_id: str, model_version: str | None) -> TimelineResponse:
    """The customer's sequence row decoded; raises :class:`UnknownCustomerError` when Redis has no key for them,
    :class:`StoreUnavailableError` when Redis does not answer and ValueError for an undecodable row."""
    try:
        row = store.read(view, [user_id], list(SEQUENCE_FEATURES), with_ts=True)[0]
        if row is None and not store.client.exists(redis_key(user_id, store.project)):
            raise UnknownCustomerError(
                f"customer {user_id!r} is unknown: the online store has no features for them"
            )
    except (RedisError, OSError) as exc:
        raise StoreUnavailableError(f"online feature store unreachable: {type(exc).__name__}: {exc}") from exc
    seq = HybridSequence.from_features(user_id, row or {})
    events = _events(seq)
    now = int(time.time() * 1000)
    newest = seq.last_ts if seq.tokens else None
    stamp = f"{view}|{row and row.get('_ts_ms')}|{len(events)}|{newest}|{model_version}"
    return TimelineResponse(
        user_id=user_id,
        feature_view=view,
        has_history=bool(events),
        events=events,
        online_events=sum(e.channel == "online" for e in events),
        store_baskets=sum(e.channel == "store" for e in events),
        newest_ts_ms=newest,
        server_time_ms=now,
        freshness_s=round((now - newest) / 1000, 3) if newest is not None else None,
        model_version=model_version,
        fingerprint=hashlib.sha1(stamp.encode()).hexdigest()[:16],
    )


def _channels(row: Mapping[str, Any] | None) -> tuple[int, int]:
    types = (row or {}).get("tok_types") or []
    baskets = sum(1 for t in types if t == BASKET_CODE)
    return len(types) - baskets, baskets


def _candidate_keys(client: Any, sample: int, scan_limit: int) -> list[bytes]:
    """Random keys (RANDOMKEY, pipelined), then a bounded SCAN when random picks found too few."""
    with client.pipeline(transaction=False) as pipe:
        for _ in range(sample):
            pipe.randomkey()
        keys = {k for k in pipe.execute() if k}
    if len(keys) < sample // 4:
        for key in client.scan_iter(count=500):
            keys.add(key)
            if len(keys) >= scan_limit:
                break
    return list(keys)


def sample_user(
    store: RedisOnlineStore, view: str, both_channels: bool, sample: int = 256, scan_limit: int = 5000
) -> RandomUserResponse:
    """A random customer with a sequence in ``view`` (with online events and in-store baskets if asked)."""
    try:
        keys = _candidate_keys(store.client, sample, scan_limit)
        users = sorted({u for u in (user_id_of_key(k, store.project) for k in keys) if u})
        rows = store.read(view, users, ["tok_types"]) if users else []
    except (RedisError, OSError) as exc:
        raise StoreUnavailableError(f"online feature store unreachable: {type(exc).__name__}: {exc}") from exc
    found = []
    for user, row in zip(users, rows, strict=True):
        online, baskets = _channels(row)
        if online + baskets and (not both_channels or (online and baskets)):
            found.append(RandomUserResponse(user_id=user, online_events=online, store_baskets=baskets))
    if not found:
        what = "with both online events and in-store baskets" if both_channels else "with a history"
        raise NoCustomerFoundError(f"no customer {what} found in {view} (sampled {len(users)} customers)")
    return random.choice(found)


# --- tabs from the OpenAPI schema -------------------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], doc: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node.get(part, {})
        return node if isinstance(node, Mapping) else {}
    return schema


def _request_schema(op: Mapping[str, Any], doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    return _resolve(content.get("schema", {}), doc) if content else None


def _enum(prop: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    """The string values a property allows (``enum``, a ``$ref`` to one, or inside ``anyOf`` with null)."""
    prop = _resolve(prop, doc)
    if isinstance(prop.get("enum"), list):
        return [v for v in prop["enum"] if isinstance(v, str)]
    for option in prop.get("anyOf", []):
        values = _enum(option, doc)
        if values:
            return values
    return []


def _body(props: Mapping[str, Any], k: int, explain: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if "k" in props:
        body["k"] = k
    if explain and "explain" in props:
        body["explain"] = True
    return body


def page_tabs(doc: Mapping[str, Any], k: int = 10) -> tuple[list[PageTab], bool]:
    """The tabs of the page and whether ``/recommend`` explains: ``/recommend`` (plus one tab per value of its
    ``channel`` field, when it has one), then every other POST endpoint whose request needs only ``user_id``."""
    tabs: list[PageTab] = []
    explain = False
    for path, ops in sorted(doc.get("paths", {}).items()):
        op = ops.get("post") if isinstance(ops, Mapping) else None
        schema = _request_schema(op, doc) if op else None
        if not schema:
            continue
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if "user_id" not in props or not required <= {"user_id"}:
            continue
        body = _body(props, k, explain=True)
        label = str(op.get("summary") or path) if op else path
        if path == "/recommend":
            explain = "explain" in props
            tabs.insert(0, PageTab(key="recommend", label="Next item (champion)", path=path, body=body))
            channel = props.get("channel", {})
            channels = [c for c in _enum(channel, doc) if c != channel.get("default")]  # the default is tab 1
            tabs[1:1] = [
                PageTab(
                    key=f"recommend-{c}",
                    label=f"Next item: {c.replace('_', ' ')}",
                    path=path,
                    body={**body, "channel": c},
                )  # fmt: skip
                for c in channels
            ]
        else:
            key = path.strip("/").replace("/", "-") or "root"
            tabs.append(PageTab(key=key, label=label, path=path, body=body))
    return tabs, explain


def sequence_view(champion_view: str | None, requested: str | None) -> str:
    """The view to read: the requested one (must be a sequence view), else the champion's, else the newest."""
    if requested is not None:
        if requested not in SEQUENCE_VIEWS:
            raise ValueError(f"unknown sequence view {requested!r}; known: {', '.join(SEQUENCE_VIEWS)}")
        return requested
    return champion_view or DEFAULT_VIEW
