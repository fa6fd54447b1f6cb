"""The storefront's JSON (timeline, random customer, page config) against a real redis-server and a real model, and
the tab discovery from OpenAPI documents of APIs with and without other families' endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore, redis_key, user_id_of_key
from omniseq.features.sequence import HybridSequence
from serving.app import create_app
from serving.storefront import page_tabs, sequence_view
from tests.serving.conftest import (
    BASKET,
    HISTORY,
    SEQ_VIEW,
    RedisProcess,
    export_version,
    make_sequence,
    settings_for,
    write_users,
)


def test_user_id_of_key_inverts_redis_key() -> None:
    for uid in ("alice", "u-0001", "x" * 300, "ünï"):
        assert user_id_of_key(redis_key(uid)) == uid
    assert user_id_of_key(redis_key("alice", project="other")) is None
    assert user_id_of_key(b"some-other-key") is None
    assert user_id_of_key(redis_key("alice")[:-3]) is None


def test_sequence_view_choice() -> None:
    assert sequence_view("user_hybrid_seq_v1", None) == "user_hybrid_seq_v1"
    assert sequence_view(None, None) == "user_hybrid_seq_v2"
    assert sequence_view("user_hybrid_seq_v1", "user_hybrid_seq_v2") == "user_hybrid_seq_v2"
    with pytest.raises(ValueError, match="unknown sequence view"):
        sequence_view(None, "user_instore_agg_v1")


class _BasketRequest(BaseModel):
    user_id: str
    k: int = 5


class _CompletionRequest(BaseModel):
    user_id: str
    items: list[str]  # required: the page cannot fill it, so no tab


class _ChannelRequest(BaseModel):
    user_id: str
    k: int = 10
    explain: bool = False
    channel: Literal["hybrid", "online", "in_store"] = "hybrid"


def _recommend(req: _ChannelRequest) -> dict[str, str]:
    return {}


def _next_basket(req: _BasketRequest) -> dict[str, str]:
    return {}


def _complete_basket(req: _CompletionRequest) -> dict[str, str]:
    return {}


def _doc() -> dict[str, Any]:
    """An API whose /recommend has channel and explain fields, plus two other families' endpoints."""
    app = FastAPI()
    app.add_api_route("/recommend", _recommend, methods=["POST"], summary="Top-k items")
    app.add_api_route("/next-basket", _next_basket, methods=["POST"], summary="The next basket")
    app.add_api_route("/complete-basket", _complete_basket, methods=["POST"], summary="Basket completion")
    return app.openapi()


def test_tabs_follow_the_endpoints_that_exist() -> None:
    tabs, explain = page_tabs(create_app().openapi())
    assert explain is True  # the real /recommend explains
    assert (tabs[0].path, tabs[0].body) == ("/recommend", {"k": 10, "explain": True})
    assert {"/basket/complete", "/next-basket"} <= {t.path for t in tabs}  # the other families' endpoints

    tabs, explain = page_tabs(_doc())
    assert explain is True
    assert [(t.path, t.body) for t in tabs] == [
        ("/recommend", {"k": 10, "explain": True}),
        ("/recommend", {"k": 10, "explain": True, "channel": "online"}),
        ("/recommend", {"k": 10, "explain": True, "channel": "in_store"}),
        ("/next-basket", {"k": 10}),
    ]
    assert tabs[-1].label == "The next basket"
    assert len({t.key for t in tabs}) == len(tabs)


@pytest.fixture
def client(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[TestClient]:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path))
    write_users(redis_proc.port)
    store = RedisOnlineStore(redis.Redis(port=redis_proc.port))
    store.write(SEQ_VIEW, [("newbie", HybridSequence("newbie", 50).to_features(), 1_700_000_000_000)])
    with TestClient(create_app(settings_for(redis_proc.port, registry.root, store_retry_s=0.05))) as c:
        yield c
    store.client.close()


@pytest.mark.integration
def test_timeline_is_the_feature_row_newest_first(client: TestClient) -> None:
    r = client.get("/users/alice/timeline")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["feature_view"] == SEQ_VIEW and body["has_history"] is True
    seq = make_sequence("alice", HISTORY, basket=BASKET)
    assert [e["ts_ms"] for e in body["events"]] == sorted((t.ts_ms for t in seq.tokens), reverse=True)
    assert [e["item_id"] for e in body["events"] if e["channel"] == "online"] == HISTORY[::-1]
    (basket,) = [e for e in body["events"] if e["channel"] == "store"]
    assert basket == {"channel": "store", "event_type": "basket", "ts_ms": seq.tokens[0].ts_ms,
                      "item_id": None, "store_id": "store-1", "items": list(BASKET)}  # fmt: skip
    assert (body["online_events"], body["store_baskets"]) == (len(HISTORY), 1)
    assert body["newest_ts_ms"] == seq.last_ts
    assert body["freshness_s"] == pytest.approx((body["server_time_ms"] - seq.last_ts) / 1000, abs=1e-3)
    assert body["model_version"] == client.get("/readyz").json()["model_version"]
    assert client.get("/users/alice/timeline").json()["fingerprint"] == body["fingerprint"]


@pytest.mark.integration
def test_unknown_customer_no_history_and_bad_view(client: TestClient) -> None:
    r = client.get("/users/nobody/timeline")
    assert r.status_code == 404 and "unknown" in r.json()["detail"]
    r = client.get("/users/newbie/timeline")
    assert r.status_code == 200
    assert r.json()["has_history"] is False and r.json()["events"] == [] and r.json()["newest_ts_ms"] is None
    r = client.get("/users/alice/timeline", params={"view": "user_instore_agg_v1"})
    assert r.status_code == 422 and "view" in r.json()["detail"]


@pytest.mark.integration
def test_random_customer(client: TestClient) -> None:
    for _ in range(3):
        r = client.get("/users/random")
        assert r.status_code == 200, r.text
        assert r.json() == {"user_id": "alice", "online_events": len(HISTORY), "store_baskets": 1}
    anyone = {
        client.get("/users/random", params={"both_channels": False}).json()["user_id"] for _ in range(30)
    }
    assert anyone == {"alice", "unknown-items"}  # newbie has no history
    r = client.get("/users/random", params={"view": "user_hybrid_seq_v2"})
    assert r.status_code == 404 and "no customer with both" in r.json()["detail"]


@pytest.mark.integration
def test_page_and_config(client: TestClient) -> None:
    page = client.get("/storefront")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="timeline"' in page.text and "/storefront/config" in page.text
    config = client.get("/storefront/config").json()
    assert config["tabs"][0]["path"] == "/recommend" and config["links"]["metrics"] == "/metrics"
    assert "/storefront" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.integration
def test_store_outage_is_a_503(client: TestClient, redis_proc: RedisProcess) -> None:
    redis_proc.stop()
    for path in ("/users/alice/timeline", "/users/random"):
        r = client.get(path)
        assert r.status_code == 503 and "online feature store unreachable" in r.json()["detail"]
