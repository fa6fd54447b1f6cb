"""Fixtures of the feature-registry tests: a real Redis server, settings on a temporary run folder, one applied
Feast store per session (``feast apply`` takes seconds)."""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from omniseq.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def feature_redis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The shared ``redis_server`` fixture of omniseq.infra.testing when it exists, else a local redis-server.

    Yields an object with ``host`` and ``port``."""
    try:
        importlib.import_module("omniseq.infra.testing")
        yield request.getfixturevalue("redis_server")
        return
    except (ImportError, pytest.FixtureLookupError):
        pass
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    client.close()

    class _Server:
        host = "127.0.0.1"

    server = _Server()
    server.port = port  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def feature_settings(feature_redis: Any, tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    run_dir = tmp_path_factory.mktemp("run")
    return StackSettings(
        run_dir=run_dir,
        redis_host=feature_redis.host,
        redis_port=int(feature_redis.port),
        feature_repo=REPO_ROOT / "feature_repo",
    )


@pytest.fixture(scope="session")
def applied_store(feature_settings: StackSettings) -> Any:
    from omniseq.features.store import apply

    return apply(feature_settings)


@pytest.fixture()
def redis_client(feature_redis: Any) -> Iterator[redis.Redis]:
    client = redis.Redis(host=feature_redis.host, port=int(feature_redis.port))
    client.flushdb()
    yield client
    client.close()
