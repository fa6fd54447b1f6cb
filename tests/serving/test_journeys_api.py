"""``POST /journeys/simulate``: served from the ``journeys`` family's champion; bounded n; bad input is a 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omniseq.data.sim.store_plans import store
from serving.app import create_app
from tests.serving.conftest import RedisProcess, settings_for
from tests.serving.journeys_helpers import register_journeys

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    version = register_journeys(tmp_path / "registry", tmp_path)
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
