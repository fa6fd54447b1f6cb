"""``POST /basket/complete`` against a real redis-server and a real exported, registered PARSRec."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from models.export import load_torchscript
from models.registry import ModelRegistry
from serving.app import create_app
from tests.serving.conftest import BASKET, RedisProcess, register_basket_version, settings_for, write_users
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass
class Served:
    client: TestClient
    registry: ModelRegistry
    version: str


@pytest.fixture
def served(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[Served]:
    registry = ModelRegistry(tmp_path / "registry")
    version = register_basket_version(registry, seed=0)
    registry.promote(version)
    write_users(redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        yield Served(client, registry, version)


def test_contract_explanations_and_unknown_items(served: Served) -> None:
    r = served.client.post(
        "/basket/complete", json={"user_id": "alice", "basket": ["item3", "nope", "item4"], "k": 5}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == served.version and body["fallback"] is False
    assert body["unknown_items"] == ["nope"]
    assert body["history_status"] == "ok" and body["history_items"] == len([x for x in BASKET if x])
    assert len(body["items"]) == 5
    ids = [it["item_id"] for it in body["items"]]
    assert not {"item3", "item4"} & set(ids)  # what is in the basket is not recommended
    for it in body["items"]:
        names = {b["item_id"] for b in it["because"]}
        assert names == {"<history>", "item3", "item4"}
        assert sum(b["weight"] for b in it["because"]) == pytest.approx(1.0, abs=1e-5)
    # the served scores are the exported module's, with the store's history and alice's user row
    mv = served.registry.get(served.version)
    vocab = mv.vocab()
    idx = {x: i for i, x in enumerate(vocab)}
    users = __import__("json").loads((mv.path / "users.json").read_text())
    module = load_torchscript(mv.model_path)
    hist = torch.tensor([[idx[x] for x in BASKET if x in idx] or [0]])
    with torch.inference_mode():
        scores = module(
            torch.tensor([users.index("alice")]), hist, torch.tensor([[idx["item3"], idx["item4"]]])
        )[0][0]
    assert body["items"][0]["score"] == pytest.approx(float(scores[idx[ids[0]]]), rel=1e-5)
    # the order of the basket does not matter
    again = served.client.post(
        "/basket/complete", json={"user_id": "alice", "basket": ["item4", "item3"], "k": 5}
    ).json()
    assert [it["item_id"] for it in again["items"]] == ids


def test_user_without_history(served: Served) -> None:
    r = served.client.post("/basket/complete", json={"user_id": "stranger", "basket": ["item3"], "k": 3})
    body = r.json()
    assert r.status_code == 200 and body["fallback"] is False
    assert body["history_status"] == "no_history" and body["history_items"] == 0
    assert len(body["items"]) == 3
    empty = served.client.post(
        "/basket/complete",
        json={"user_id": "stranger", "basket": ["nope"], "k": 3, "exclude_items": ["item0"]},
    ).json()
    assert empty["fallback"] is True and empty["fallback_reason"] == "no_signal"
    assert empty["unknown_items"] == ["nope"]
    ranked = [it["item_id"] for it in empty["items"]]
    # popularity of the training baskets, exclusions honoured
    assert "item0" not in ranked and len(ranked) == 3


@pytest.mark.parametrize(
    "body",
    [
        {"basket": ["item3"]},
        {"user_id": "", "basket": ["item3"]},
        {"user_id": "alice", "basket": "item3"},
        {"user_id": "alice", "basket": ["item3"], "k": 0},
        {"user_id": "alice", "basket": ["item3"], "k": "5"},
        {"user_id": "alice", "basket": [f"i{n}" for n in range(101)]},
        {"user_id": "alice", "basket": ["item3"], "color": "red"},
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(served: Served, body: dict[str, object]) -> None:
    r = served.client.post("/basket/complete", json=body)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("invalid request")


def test_unknown_model_and_hot_swap(served: Served) -> None:
    r = served.client.post("/basket/complete", json={"user_id": "alice", "basket": [], "model": "nope"})
    assert r.status_code == 404
    newer = register_basket_version(served.registry, seed=1)
    served.registry.promote(newer)

    def served_version() -> str:
        body = served.client.post("/basket/complete", json={"user_id": "alice", "basket": ["item3"]}).json()
        return str(body["model_version"])

    wait_until(lambda: served_version() == newer, 30, f"/basket/complete answering with {newer}")
    assert served_version() == newer


def test_no_basket_champion_is_503(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "empty")
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        r = client.post("/basket/complete", json={"user_id": "alice", "basket": ["item3"]})
    assert r.status_code == 503 and "no champion" in r.json()["detail"]
