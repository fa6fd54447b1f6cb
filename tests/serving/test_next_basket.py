"""``POST /next-basket`` against a real redis-server and a LENS model exported and registered like a real run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import torch
from fastapi.testclient import TestClient

from feature_repo.views import BASKET_CODE
from models.lens import LENS
from models.lens_data import BasketHistory, LensVocab, collate, make_instance
from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore
from omniseq.features.sequence import HybridSequence, Token
from serving.app import create_app
from tests.serving.conftest import RedisProcess, settings_for
from tests.serving.lens_fixtures import promote_tiny_lens, tiny_lens

pytestmark = pytest.mark.integration
VIEW = "user_hybrid_seq_v2"
DAY = 86_400_000
T0 = 1_700_000_000_000


@dataclass
class Served:
    client: TestClient
    registry: ModelRegistry
    model: LENS
    vocab: LensVocab
    version: str


def _alice() -> HybridSequence:
    toks = [
        Token(BASKET_CODE, T0, "", ("p1", "p2", "p3"), "s1", "b1"),
        Token(0, T0 + 1000, "p9", key="e1"),  # an online view: not part of the basket history
        Token(BASKET_CODE, T0 + 3 * DAY, "", ("p2", "p4"), "s1", "b2"),
    ]
    return HybridSequence("alice", 90, toks)


@pytest.fixture
def served(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[Served]:
    registry = ModelRegistry(tmp_path / "registry")
    model, vocab = tiny_lens()
    version = promote_tiny_lens(registry)
    client = redis.Redis(port=redis_proc.port)
    RedisOnlineStore(client, project="omniseq").write(VIEW, [("alice", _alice().to_features(), T0 + 3 * DAY)])
    client.close()
    app = create_app(settings_for(redis_proc.port, registry.root))
    with TestClient(app) as http:
        yield Served(http, registry, model, vocab, version)


def test_next_basket_matches_the_offline_model(served: Served) -> None:
    r = served.client.post("/next-basket", json={"user_id": "alice", "k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    history = BasketHistory("alice", [["p1", "p2", "p3"], ["p2", "p4"]], [T0, T0 + 3 * DAY])
    batch = collate([make_instance(history, served.vocab, 2, None, None, 10, 20)], 1)
    with torch.no_grad():
        items, probs, _, days = served.model(batch["baskets"], batch["feats"], batch["users"])
    want = [
        (served.vocab.items[i], p)
        for i, p in zip(items[0].tolist(), probs[0].tolist(), strict=True)
        if i >= 3
    ]
    assert [x["item_id"] for x in body["items"]] == [i for i, _ in want][:4]
    assert [x["probability"] for x in body["items"]] == pytest.approx([p for _, p in want][:4], abs=1e-5)
    d = body["days_to_next_purchase"]
    assert d["predicted"] == pytest.approx(float(days[0]), abs=1e-5)
    assert d["low"] == pytest.approx(max(0.0, d["predicted"] - 2.0)) and d["high"] == pytest.approx(
        d["predicted"] + 3
    )
    assert body["history_baskets"] == 2 and body["known_user"] is True
    assert body["model_version"] == served.version and body["feature_versions"] == {"sequence": VIEW}


def test_unknown_user_is_a_cold_start(served: Served) -> None:
    body = served.client.post("/next-basket", json={"user_id": "nobody"}).json()
    assert body["history_baskets"] == 0 and body["known_user"] is False and len(body["items"]) <= 10


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"user_id": "alice", "k": 0}, 422),
        ({"user_id": "alice", "k": "3"}, 422),
        ({"user_id": ""}, 422),
        ({"k": 3}, 422),
        ({"user_id": "alice", "extra": 1}, 422),
        ({"user_id": "alice", "model": "no-such-version"}, 404),
    ],
)
def test_bad_input_is_a_4xx(served: Served, payload: dict[str, object], status: int) -> None:
    r = served.client.post("/next-basket", json=payload)
    assert r.status_code == status and r.json()["detail"]


def test_no_champion_is_503(redis_proc: RedisProcess, tmp_path: Path) -> None:
    app = create_app(settings_for(redis_proc.port, tmp_path / "empty-registry"))
    with TestClient(app) as http:
        r = http.post("/next-basket", json={"user_id": "alice"})
    assert r.status_code == 503 and r.json()["detail"]
