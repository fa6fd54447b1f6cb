"""Faults found by probing the running stack, against a real redis-server and real exported TorchScript models:
a champion that does not load at start-up, a broken manifest, named versions cycled on every request, an emptied
online store, a champion whose vocabulary does not cover the users' items."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from models.registry import MANIFEST_FILE, ModelRegistry
from serving.app import create_app
from tests.serving.conftest import RedisProcess, export_version, settings_for, write_users
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def utc_second() -> str:
    """Now, as the registry writes ``created_at``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _metric(client: TestClient, line_start: str) -> str:
    lines = [ln for ln in client.get("/metrics").text.splitlines() if ln.startswith(line_start)]
    assert lines, f"no metric line starts with {line_start!r}"
    return lines[0].rsplit(" ", 1)[1]


def test_start_up_serves_the_last_loadable_version_and_says_so(
    redis_proc: RedisProcess, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    good = export_version(registry, tmp_path, name="good")
    registry.promote(good)
    registry.record_decision({"promote": True, "challenger": good})
    newer = export_version(registry, tmp_path, name="newer-never-promoted")
    corrupt = export_version(registry, tmp_path, name="corrupt", corrupt=True)
    registry.promote(corrupt)  # as a registry written by hand (or a disk fault) could end up
    write_users(redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["model_version"] == good  # the earlier champion, not the newer never-promoted version
        assert any(corrupt in w and "cannot be served" in w and good in w for w in body["warnings"])
        assert _metric(client, 'omniseq_model_degraded{family="next_item"}') == "1.0"
        answer = client.post("/recommend", json={"user_id": "alice"}).json()
        assert answer["model_version"] == good and answer["fallback"] is False

        registry.promote(newer)  # a loadable champion again: served, no longer degraded
        wait_until(
            lambda: client.get("/readyz").json()["model_version"] == newer, 15, f"the server on {newer}"
        )
        assert client.get("/readyz").json()["warnings"] == []
        assert _metric(client, 'omniseq_model_degraded{family="next_item"}') == "0.0"


def test_broken_manifest_is_skipped_and_never_a_5xx(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path, name="tiny"))
    broken = export_version(registry, tmp_path, name="tiny")
    (registry.versions_dir / broken / MANIFEST_FILE).write_text('{"model_name": "tiny", ')  # truncated
    assert broken not in [mv.version for mv in registry.versions()]
    assert "not readable JSON" in registry.broken()[broken]
    write_users(redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        r = client.post("/recommend", json={"user_id": "alice", "model": broken})
        assert r.status_code == 422 and "broken" in r.json()["detail"]
        assert client.post("/recommend", json={"user_id": "alice", "model": "tiny"}).status_code == 200
        assert client.post("/recommend", json={"user_id": "alice", "model": "nope"}).status_code == 404


def test_named_versions_are_bounded_and_rate_limited(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    old = export_version(registry, tmp_path, name="old")
    created = registry.get(old).manifest["created_at"]  # 1 s resolution: "old" must be strictly older
    wait_until(lambda: utc_second() > created, 5, f"the clock to pass {created}")
    recent = [export_version(registry, tmp_path, name=f"recent{i}") for i in range(2)]
    registry.promote(recent[0])
    write_users(redis_proc.port)
    settings = settings_for(redis_proc.port, registry.root, model_recent_versions=2, model_load_interval_s=60)
    with TestClient(create_app(settings)) as client:
        r = client.post("/recommend", json={"user_id": "alice", "model": old})
        assert r.status_code == 404 and "older than the 2 most recent" in r.json()["detail"]
        assert client.post("/recommend", json={"user_id": "alice", "model": recent[0]}).status_code == 200
        assert client.post("/recommend", json={"user_id": "alice", "model": recent[1]}).status_code == 200
        # a third version (the champion is free; this one needs a load within the interval): 429, no load
        third = export_version(registry, tmp_path, name="recent2")
        r = client.post("/recommend", json={"user_id": "alice", "model": third})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert (
            client.post("/recommend", json={"user_id": "alice", "model": recent[1]}).status_code == 200
        )  # cached


def test_readyz_reports_a_cold_online_store(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path))
    write_users(redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as client:
        assert client.get("/readyz").json()["store"] == "ok"
        redis.Redis(port=redis_proc.port).flushall()  # Redis restarted without persistence
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["store"] == "cold"
        assert "omniseq features materialize" in ready.json()["detail"]


def test_no_known_items_share_is_a_metric_and_a_readyz_warning(
    redis_proc: RedisProcess, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path))
    write_users(redis_proc.port)
    settings = settings_for(redis_proc.port, registry.root, no_known_items_min_answers=4)
    with TestClient(create_app(settings)) as client:
        client.post("/recommend", json={"user_id": "alice"})
        assert client.get("/readyz").json()["warnings"] == []
        for _ in range(3):
            assert client.post("/recommend", json={"user_id": "unknown-items"}).json()["fallback_reason"] == (
                "no_known_items"
            )
        assert float(_metric(client, "omniseq_recommend_no_known_items_share")) == pytest.approx(0.75)
        warnings = client.get("/readyz").json()["warnings"]
        assert len(warnings) == 1 and "75% of 4 answers" in warnings[0] and "vocabulary" in warnings[0]
