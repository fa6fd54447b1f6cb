"""The API's protections: API keys, a per-client rate limit, a body read timeout against slow clients, error
bodies without absolute paths. Against a real redis-server, a real model and (for the slow body) real uvicorn."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from models.registry import ModelRegistry
from serving.app import create_app
from serving.middleware import RateLimitMiddleware, scrub_paths
from tests.serving.conftest import RedisProcess, ServerThread, export_version, settings_for, write_users


def _registry(tmp_path: Path, redis_port: int) -> ModelRegistry:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path))
    write_users(redis_port)
    return registry


def test_scrub_paths_keeps_only_the_last_component() -> None:
    text = "model version v1: cannot load /srv/data/models/versions/v1/model.pt: bad zip at /tmp/x/"
    assert scrub_paths(text) == "model version v1: cannot load model.pt: bad zip at <dir>"
    assert (
        scrub_paths("http://host:8000/a/b and 3/4 and s3://b/k")
        == "http://host:8000/a/b and 3/4 and s3://b/k"
    )


def test_token_bucket_refills_at_the_rate() -> None:
    limiter = RateLimitMiddleware(app=None, rate_per_s=2.0, burst=2)  # type: ignore[arg-type]
    assert limiter.take("a", 0.0) == 0 and limiter.take("a", 0.0) == 0
    assert limiter.take("a", 0.0) == pytest.approx(0.5)  # empty: one token back in 0.5 s
    assert limiter.take("b", 0.0) == 0  # per client
    assert limiter.take("a", 1.0) == 0  # refilled


@pytest.mark.integration
def test_api_key_required_when_configured(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = _registry(tmp_path, redis_proc.port)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root, api_keys="k-one, k-two"))) as c:
        body = {"user_id": "alice"}
        r = c.post("/recommend", json=body)
        assert r.status_code == 401 and "missing API key" in r.json()["detail"]
        assert c.post("/recommend", json=body, headers={"X-API-Key": "k-three"}).status_code == 401
        assert c.post("/recommend", json=body, headers={"X-API-Key": "k-two"}).status_code == 200
        assert c.get("/metrics").status_code == 401 and c.get("/openapi.json").status_code == 401
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as c:  # default: open
        assert c.post("/recommend", json={"user_id": "alice"}).status_code == 200


@pytest.mark.integration
def test_rate_limit_per_client(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = _registry(tmp_path, redis_proc.port)
    settings = settings_for(redis_proc.port, registry.root, rate_limit_per_s=0.5, rate_limit_burst=2,
                            rate_limit_exempt_loopback=False)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        codes = [c.post("/recommend", json={"user_id": "alice"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.get("/healthz")
        assert r.status_code == 429 and r.headers["retry-after"] == "2" and "rate limit" in r.json()["detail"]


@pytest.mark.integration
def test_slow_body_gets_408_and_the_connection_is_closed(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = _registry(tmp_path, redis_proc.port)
    app = create_app(settings_for(redis_proc.port, registry.root, body_read_timeout_s=0.5))
    with (
        ServerThread(app) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        head = (
            "POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 200\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"user_id": "al')  # ... and nothing more
        start = time.monotonic()
        data = b""
        while chunk := sock.recv(4096):  # the server answers and closes: recv returns b"" at the end
            data += chunk
        assert time.monotonic() - start < 5
        assert data.startswith(b"HTTP/1.1 408") and b"not received within 0.5 s" in data


@pytest.mark.integration
def test_error_bodies_carry_no_absolute_paths(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = _registry(tmp_path, redis_proc.port)
    broken = export_version(registry, tmp_path, name="broken", corrupt=True)
    with TestClient(create_app(settings_for(redis_proc.port, registry.root))) as c:
        r = c.post("/recommend", json={"user_id": "alice", "model": broken})
        assert r.status_code == 422 and "model.pt" in r.json()["detail"]
        assert str(tmp_path) not in r.text and "/registry/" not in r.text
