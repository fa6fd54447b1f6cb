"""``POST /recommend`` with ``channel``: online from the next-item champion (unchanged default), store from the
cross-channel family's champion (a real exported C2Rec), bad input rejected with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from models.inputs import encode_sequence
from models.registry import ModelRegistry
from serving.app import create_app
from serving.cross_channel import make_loader
from serving.model_manager import ModelLoadError
from tests.serving.conftest import (
    BASKET,
    C2REC_SPEC,
    HISTORY,
    RedisProcess,
    export_version,
    make_sequence,
    register_c2rec,
    settings_for,
    write_users,
)

pytestmark = pytest.mark.integration


@dataclass
class Served:
    client: TestClient
    registry: ModelRegistry
    online: str
    store: str


@pytest.fixture
def served(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[Served]:
    registry = ModelRegistry(tmp_path / "registry")
    online = export_version(registry, tmp_path, name="tiny")
    registry.promote(online)
    store = register_c2rec(registry, tmp_path)
    registry.promote(store)
    write_users(redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        yield Served(client, registry, online, store)


def store_scores(registry: ModelRegistry, version: str) -> torch.Tensor:
    """Training-side scoring of alice in the store channel: the shared encoder + the exported module."""
    mv = registry.get(version)
    index = {item: i for i, item in enumerate(mv.vocab())}
    tokens, baskets = encode_sequence(make_sequence("alice", HISTORY, basket=BASKET), index, C2REC_SPEC)
    with torch.inference_mode():
        return torch.jit.load(str(mv.model_path))(tokens[None], baskets[None])[0]


def test_default_channel_is_online_and_says_who_answered(served: Served) -> None:
    plain = served.client.post("/recommend", json={"user_id": "alice", "k": 5})
    explicit = served.client.post("/recommend", json={"user_id": "alice", "k": 5, "channel": "online"})
    assert plain.status_code == 200 and explicit.status_code == 200
    body = plain.json()
    assert (
        body["channel"] == "online"
        and body["model_version"] == served.online
        and body["model_name"] == "tiny"
    )
    assert body["items"] == explicit.json()["items"]


def test_store_channel_is_served_by_the_cross_channel_champion(served: Served) -> None:
    r = served.client.post("/recommend", json={"user_id": "alice", "k": 5, "channel": "store"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["channel"] == "store" and body["model_version"] == served.store and body["model_name"] == "c2rec"
    )
    assert body["fallback"] is False
    scores = store_scores(served.registry, served.store)
    top = torch.topk(scores, 5)
    vocab = served.registry.get(served.store).vocab()
    assert [i["item_id"] for i in body["items"]] == [vocab[i] for i in top.indices.tolist()]
    online = served.client.post("/recommend", json={"user_id": "alice", "k": 5}).json()["items"]
    assert [i["item_id"] for i in online] != [i["item_id"] for i in body["items"]]


def test_store_channel_falls_back_to_store_popularity(served: Served) -> None:
    r = served.client.post("/recommend", json={"user_id": "nobody", "k": 2, "channel": "store"})
    body = r.json()
    assert body["fallback"] is True and [i["item_id"] for i in body["items"]] == ["item5", "item6"]


@pytest.mark.parametrize("channel", ["catalogue", "", 1, None, ["store"]])
def test_bad_channel_is_rejected_by_name(served: Served, channel: object) -> None:
    r = served.client.post("/recommend", json={"user_id": "alice", "channel": channel})
    assert r.status_code == 422 and "channel" in r.json()["detail"]


def test_a_model_of_the_other_family_is_unknown_in_that_channel(served: Served) -> None:
    r = served.client.post(
        "/recommend", json={"user_id": "alice", "channel": "store", "model": served.online}
    )
    assert r.status_code == 404 and served.online in r.json()["detail"]
    r = served.client.post("/recommend", json={"user_id": "alice", "channel": "store", "model": "c2rec"})
    assert r.status_code == 200 and r.json()["model_version"] == served.store


def test_channels_lists_the_answering_versions(served: Served) -> None:
    body = served.client.get("/channels").json()
    assert {c["channel"]: c["model_version"] for c in body} == {
        "online": served.online,
        "store": served.store,
    }


def test_store_channel_without_a_champion_is_unavailable(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path, name="tiny"))
    write_users(redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        r = client.post("/recommend", json={"user_id": "alice", "channel": "store"})
        assert r.status_code == 503 and "no champion" in r.json()["detail"]
        assert client.post("/recommend", json={"user_id": "alice"}).status_code == 200


def test_loader_refuses_a_version_that_does_not_serve_the_store_channel(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    version = register_c2rec(registry, tmp_path, channel="online")
    with pytest.raises(ModelLoadError, match="expected 'store'"):
        make_loader(settings_for(0, registry.root))(registry.get(version))
