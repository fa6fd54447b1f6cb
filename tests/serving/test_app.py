"""The HTTP contract of the server against a real redis-server and a real exported TorchScript model."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from models.inputs import encode_sequence
from models.registry import ModelRegistry
from serving.app import create_app
from serving.dependencies import get_services
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

pytestmark = pytest.mark.integration


@dataclass
class Served:
    client: TestClient
    registry: ModelRegistry
    champion: str
    tmp: Path


@pytest.fixture
def served(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[Served]:
    registry = ModelRegistry(tmp_path / "registry")
    popularity = {f"item{i}": float(i) for i in range(60)}  # item59 is the most popular
    champion = export_version(registry, tmp_path, name="tiny", popularity=popularity)
    registry.promote(champion)
    write_users(redis_proc.port)
    app = create_app(settings_for(redis_proc.port, registry.root, max_body_bytes=2048))
    with TestClient(app) as client:
        yield Served(client, registry, champion, tmp_path)


def offline_scores(registry: ModelRegistry, version: str) -> torch.Tensor:
    """What training-side code computes for alice: the encoder + the exported module (no serving code)."""
    mv = registry.get(version)
    vocab = mv.vocab()
    index = {item: i for i, item in enumerate(vocab)}
    from models.inputs import InputSpec

    spec = InputSpec.from_dict(mv.manifest["input_spec"])
    tokens, baskets = encode_sequence(make_sequence("alice", HISTORY, basket=BASKET), index, spec)
    with torch.inference_mode():
        return torch.jit.load(str(mv.model_path))(tokens[None], baskets[None])[0]


def test_recommend_contract_matches_offline_scoring(served: Served) -> None:
    r = served.client.post("/recommend", json={"user_id": "alice", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == "alice" and body["fallback"] is False and body["fallback_reason"] is None
    assert body["model_version"] == served.champion
    assert body["feature_versions"] == {"sequence": SEQ_VIEW}
    scores = offline_scores(served.registry, served.champion)
    values, indices = torch.topk(scores, 5)
    vocab = served.registry.get(served.champion).vocab()
    assert [it["item_id"] for it in body["items"]] == [vocab[i] for i in indices.tolist()]
    assert [it["score"] for it in body["items"]] == pytest.approx(values.tolist(), abs=1e-4)


def test_default_k_and_exclusions(served: Served) -> None:
    top = served.client.post("/recommend", json={"user_id": "alice"}).json()["items"]
    assert len(top) == 10
    excluded = [top[0]["item_id"], top[2]["item_id"], "never-seen-item"]
    r = served.client.post("/recommend", json={"user_id": "alice", "k": 10, "exclude_items": excluded})
    items = [it["item_id"] for it in r.json()["items"]]
    assert len(items) == 10 and not set(items) & set(excluded)
    assert items[:2] == [top[1]["item_id"], top[3]["item_id"]]
    scores = [it["score"] for it in r.json()["items"]]
    assert scores == sorted(scores, reverse=True)


def test_k_larger_than_catalogue_returns_every_item_once(served: Served) -> None:
    r = served.client.post("/recommend", json={"user_id": "alice", "k": 100})
    items = [it["item_id"] for it in r.json()["items"]]
    assert len(items) == 60 == len(set(items))  # 60 items, no "<pad>"/"<basket>"
    assert all(math.isfinite(it["score"]) for it in r.json()["items"])


@pytest.mark.parametrize(("user", "reason"), [("nobody", "no_history"), ("unknown-items", "no_known_items")])
def test_popularity_fallback(served: Served, user: str, reason: str) -> None:
    r = served.client.post("/recommend", json={"user_id": user, "k": 3, "exclude_items": ["item58"]})
    assert r.status_code == 200
    body = r.json()
    assert body["fallback"] is True and body["fallback_reason"] == reason
    assert [it["item_id"] for it in body["items"]] == ["item59", "item57", "item56"]
    assert [it["score"] for it in body["items"]] == [59.0, 57.0, 56.0]


def test_model_selection_and_unknown_model(served: Served) -> None:
    other = export_version(served.registry, served.tmp, name="other", seed=7)
    for name in (other, "other"):
        r = served.client.post("/recommend", json={"user_id": "alice", "model": name})
        assert r.status_code == 200 and r.json()["model_version"] == other
    r = served.client.post("/recommend", json={"user_id": "alice", "model": "no-such-model"})
    assert r.status_code == 404
    assert "unknown model 'no-such-model'" in r.json()["detail"]
    broken = export_version(served.registry, served.tmp, name="broken", corrupt=True)
    r = served.client.post("/recommend", json={"user_id": "alice", "model": broken})
    assert r.status_code == 422 and "cannot be served" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"user_id": "alice", "k": 5', 422, "not valid JSON"),
        (b"[]", 422, "body"),
        (json.dumps({"k": 5}).encode(), 422, "field 'user_id' is missing"),
        (json.dumps({"user_id": 5}).encode(), 422, "field 'user_id'"),
        (json.dumps({"user_id": "alice", "k": "5"}).encode(), 422, "field 'k'"),
        (json.dumps({"user_id": "alice", "k": 0}).encode(), 422, "greater than or equal to 1"),
        (json.dumps({"user_id": "alice", "k": 101}).encode(), 422, "less than or equal to 100"),
        (json.dumps({"user_id": "alice", "exclude_items": "item1"}).encode(), 422, "exclude_items"),
        (json.dumps({"user_id": "alice", "colour": "red"}).encode(), 422, "field 'colour' is not allowed"),
        (json.dumps({"user_id": "", "k": 5}).encode(), 422, "user_id"),
        (json.dumps({"user_id": "a", "exclude_items": ["x" * 100] * 40}).encode(), 413, "too large"),
    ],
)
def test_bad_input_is_a_4xx_with_a_message(served: Served, body: bytes, status: int, message: str) -> None:
    r = served.client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_chunked_oversized_body_is_413(served: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"user_id": "alice", "exclude_items": ['
        for _ in range(300):
            yield b'"item1",'
        yield b'"item2"]}'

    r = served.client.post("/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit is 2048 bytes" in r.json()["detail"]


def test_health_ready_metrics_docs(served: Served) -> None:
    assert served.client.get("/healthz").json() == {"status": "ok"}
    ready = served.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"] == served.champion
    served.client.post("/recommend", json={"user_id": "alice"})
    served.client.post("/recommend", json={"user_id": "nobody"})
    served.client.post("/recommend", json={"user_id": "alice", "k": 0})
    text = served.client.get("/metrics").text
    assert 'omniseq_http_requests_total{route="/recommend",status="200"} 2.0' in text
    assert 'omniseq_http_requests_total{route="/recommend",status="422"} 1.0' in text
    assert 'omniseq_recommend_fallback_total{reason="no_history"} 1.0' in text
    assert (
        f'omniseq_model_info{{family="next_item",model_name="tiny",version="{served.champion}"}} 1.0' in text
    )
    assert "omniseq_feature_read_seconds_count 2.0" in text
    assert 'omniseq_recommend_stage_seconds_count{stage="model"} 1.0' in text
    assert served.client.get("/docs").status_code == 200
    assert "/recommend" in served.client.get("/openapi.json").json()["paths"]


def test_services_can_be_overridden(served: Served) -> None:
    """Without services (e.g. before the lifespan finished) requests get a clear 503, not a crash."""

    def not_ready() -> None:
        from serving.dependencies import ServicesNotReadyError

        raise ServicesNotReadyError("the server is starting")

    app = served.client.app
    app.dependency_overrides[get_services] = not_ready  # type: ignore[attr-defined]
    try:
        r = served.client.post("/recommend", json={"user_id": "alice"})
        assert r.status_code == 503 and "starting" in r.json()["detail"]
        assert served.client.get("/readyz").status_code == 503
    finally:
        app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_exclude_seen_setting(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path))
    write_users(redis_proc.port)
    app = create_app(settings_for(redis_proc.port, registry.root, exclude_seen=True))
    with TestClient(app) as client:
        items = [
            it["item_id"]
            for it in client.post("/recommend", json={"user_id": "alice", "k": 100}).json()["items"]
        ]
    seen = set(HISTORY) | set(BASKET)
    assert len(items) == 60 - len(seen) and not seen & set(items)
