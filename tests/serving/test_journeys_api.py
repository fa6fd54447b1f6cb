"""``POST /journeys/simulate``: served from the ``journeys`` family's champion; bounded n; bad input is a 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from models.journey_bundle import register, write_artifacts
from models.journey_gpt import JourneyModelConfig, build_journey_model
from models.journey_tokens import train_tokenizer
from models.registry import ModelRegistry
from omniseq.data.journey_encoding import BUY
from omniseq.data.store_layout import encode_cell
from omniseq.data.store_plans import store
from serving.app import create_app
from tests.serving.conftest import RedisProcess, settings_for

pytestmark = pytest.mark.integration


def _register(root: Path, tmp: Path) -> str:
    """A tiny (untrained) generator per store with real prompts and a catalogue, registered and promoted."""
    torch.manual_seed(0)
    prompts, words = {}, []
    for sid in ("A", "B"):
        lay = store(sid)
        face = lay.zones[0].faces[1]
        prompts[sid] = [[encode_cell((face[0], face[1])), BUY] + [encode_cell(lay.entrance)] * 6]
        words += prompts[sid]
    tok = train_tokenizer("code", words)
    cfg = JourneyModelConfig("gpt", tok.vocab_size, d=16, layers=1, heads=2, max_len=24)
    models = {"A": build_journey_model(cfg), "B": build_journey_model(cfg)}
    cat = {z.name: [f"{z.name}-1"] for z in store("A").zones}
    files = write_artifacts(tmp / "art", models, tok, prompts, cat)
    registry = ModelRegistry(root)
    version = register(registry, tmp / "art", files, cfg, {"note": "test"})
    registry.promote(version)
    return version


@pytest.fixture
def client(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    version = _register(tmp_path / "registry", tmp_path)
    app = create_app(settings_for(redis_proc.port, tmp_path / "registry"))
    with TestClient(app) as c:
        yield c, version


def test_simulate_returns_n_seeded_journeys(client: tuple[TestClient, str]) -> None:
    c, version = client
    r = c.post("/journeys/simulate", json={"store_id": "B", "n": 3, "seed": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == version and body["store_id"] == "B" and len(body["journeys"]) == 3
    first = body["journeys"][0]
    assert len(first["codes"]) >= 8 and first["purchases"][0]["category"] == store("B").zones[0].name
    assert c.post("/journeys/simulate", json={"store_id": "B", "n": 3, "seed": 7}).json() == body


@pytest.mark.parametrize(
    "payload",
    [
        {"store_id": "C", "n": 1},
        {"store_id": "A", "n": 0},
        {"store_id": "A", "n": 51},
        {"store_id": "A", "n": "3"},
        {"store_id": "A", "seed": -1},
        {"n": 2},
        {"store_id": "A", "extra": 1},
    ],
)
def test_bad_input_is_422(client: tuple[TestClient, str], payload: dict[str, object]) -> None:
    r = client[0].post("/journeys/simulate", json=payload)
    assert r.status_code == 422 and r.json()["detail"]


def test_no_champion_is_503(redis_proc: RedisProcess, tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(redis_proc.port, tmp_path / "empty"))) as c:
        r = c.post("/journeys/simulate", json={"store_id": "A", "n": 1})
    assert r.status_code == 503
