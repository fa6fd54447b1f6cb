"""Several uvicorn worker processes sharing one port: a promoted champion reaches every worker, with no failed
request while they switch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.loadgen import clean_env
from models.registry import ModelRegistry
from tests.serving.conftest import RedisProcess, export_sasrec_version, free_port, write_users
from tests.serving.test_hot_swap import Load
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 2
LOGGING = {  # app loggers at INFO with the worker's pid, so the test sees which worker loaded which champion
    "version": 1,
    "formatters": {"pid": {"format": "%(process)d %(name)s %(message)s"}},
    "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "pid", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["err"]},
}


def swapped_pids(log: Path, version: str) -> set[str]:
    pattern = re.compile(rf"^(\d+) serving\.model_manager champion is now {re.escape(version)} ")
    return {m.group(1) for line in log.read_text().splitlines() if (m := pattern.match(line))}


def test_every_worker_switches_to_a_promoted_model_without_failed_requests(
    redis_proc: RedisProcess, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    v1 = export_sasrec_version(registry, tmp_path, seed=1)
    v2 = export_sasrec_version(registry, tmp_path, seed=2)
    registry.promote(v1)
    write_users(redis_proc.port)
    (tmp_path / "log.json").write_text(json.dumps(LOGGING))
    port, log = free_port(), tmp_path / "server.log"
    env = clean_env(OMNISEQ_REDIS_PORT=str(redis_proc.port), OMNISEQ_REGISTRY_DIR=str(registry.root),
                    OMNISEQ_CHAMPION_POLL_S="0.1")  # fmt: skip
    cmd = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory", "--port", str(port),
           "--workers", str(WORKERS), "--log-config", str(tmp_path / "log.json"), "--no-access-log"]  # fmt: skip
    with log.open("w") as err:
        server = subprocess.Popen(cmd, env=env, stderr=err, stdout=err)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: len(swapped_pids(log, v1)) == WORKERS, 120, f"{WORKERS} workers serving {v1}")
        wait_until(lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200, 30, "readyz")
        with Load(url, n=6) as load:
            load.wait_for_version(v1)
            registry.promote(v2)
            wait_until(lambda: swapped_pids(log, v2) == swapped_pids(log, v1), 60, f"every worker on {v2}")
            load.wait_for_version(v2)
            load.wait_for_answers(20)  # more requests after every worker switched
            with load.lock:
                n_before = len(load.versions)
        fresh = [httpx.post(f"{url}/recommend", json={"user_id": "alice"}, timeout=10) for _ in range(40)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(swapped_pids(log, v1)) == WORKERS
    assert not load.errors and set(load.statuses) == {200}, (load.errors[:3], load.statuses)
    assert n_before > 20 and set(load.versions) == {v1, v2}
    assert {r.status_code for r in fresh} == {200}
    assert {r.json()["model_version"] for r in fresh} == {v2}  # new connections, whichever worker: all on v2
