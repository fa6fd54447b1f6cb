"""The online store goes away and comes back: /readyz fails, /recommend answers a clear 503 (or a flagged fallback
when configured), and both recover by themselves once Redis is back on the same port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from models.registry import ModelRegistry
from serving.app import create_app
from tests.serving.conftest import RedisProcess, ServerThread, export_version, settings_for, write_users
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fallback", [False, True])
def test_store_down_and_recovery(redis_proc: RedisProcess, tmp_path: Path, fallback: bool) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path))
    write_users(redis_proc.port)
    app = create_app(
        settings_for(redis_proc.port, registry.root, store_down_fallback=fallback, store_retry_s=0.1)
    )
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/readyz").status_code == 200
        assert client.post("/recommend", json={"user_id": "alice"}).json()["fallback"] is False

        redis_proc.stop()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["store"] == "unreachable" and "online store unreachable" in ready.json()["detail"]
        for _ in range(3):  # the first hits Redis, the next ones fail fast
            r = client.post("/recommend", json={"user_id": "alice", "k": 3})
            if fallback:
                assert r.status_code == 200
                assert r.json()["fallback"] is True and r.json()["fallback_reason"] == "store_unavailable"
                assert len(r.json()["items"]) == 3
            else:
                assert r.status_code == 503
                assert "online feature store unreachable" in r.json()["detail"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready

        redis_proc.start()  # same port, empty store
        write_users(redis_proc.port)
        wait_until(lambda: client.get("/readyz").status_code == 200, 10, "/readyz ready again")

        def recovered() -> bool:
            r = client.post("/recommend", json={"user_id": "alice"})
            return r.status_code == 200 and r.json()["fallback"] is False

        wait_until(recovered, 10, "/recommend answering from the store again")
        metrics = client.get("/metrics").text
    assert "omniseq_feature_store_errors_total" in metrics
    errors = [ln for ln in metrics.splitlines() if ln.startswith("omniseq_feature_store_errors_total ")]
    assert errors and float(errors[0].split()[1]) >= 1
