"""Champion swaps under concurrent load over real HTTP (uvicorn): zero failed requests, a corrupt artifact is
rejected while the old model keeps serving."""

from __future__ import annotations

import threading
from collections import Counter
from functools import partial
from pathlib import Path

import httpx
import pytest

from models.registry import ModelRegistry
from serving.app import create_app
from tests.serving.conftest import RedisProcess, ServerThread, export_version, settings_for, write_users
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Load:
    """``n`` client threads posting /recommend until stopped; every status and model version is recorded."""

    def __init__(self, url: str, n: int = 4) -> None:
        self.url = url
        self.stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.versions: list[str] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(n)]

    def _run(self, i: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    r = client.post("/recommend", json={"user_id": "alice" if i % 2 else "nobody", "k": 5})
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.errors.append(repr(exc))
                    continue
                with self.lock:
                    self.statuses[r.status_code] += 1
                    if r.status_code == 200:
                        self.versions.append(r.json()["model_version"])

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def last_version(self) -> str | None:
        with self.lock:
            return self.versions[-1] if self.versions else None

    def wait_for_version(self, version: str, timeout: float = 20) -> None:
        wait_until(lambda: self.last_version() == version, timeout, f"the server answering with {version}")

    def wait_for_answers(self, n: int, timeout: float = 20) -> int:
        """Wait for ``n`` more 200 answers than now; returns how many there were before."""
        before = len(self.versions)
        wait_until(lambda: len(self.versions) >= before + n, timeout, f"{n} more answers")
        return before


def swapped(url: str, result: str, n: int) -> bool:
    """``omniseq_model_swaps_total`` of the next-item family with this result has reached ``n`` (``/metrics``)."""
    prefix = f'omniseq_model_swaps_total{{family="next_item",result="{result}"}} '
    lines = [ln for ln in httpx.get(f"{url}/metrics").text.splitlines() if ln.startswith(prefix)]
    return bool(lines) and float(lines[0].removeprefix(prefix)) >= n


def test_hot_swap_under_load(redis_proc: RedisProcess, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    v1 = export_version(registry, tmp_path, seed=1)
    v2 = export_version(registry, tmp_path, seed=2)
    corrupt = export_version(registry, tmp_path, corrupt=True)
    nan = export_version(registry, tmp_path, bad="nan")
    registry.promote(v1)
    write_users(redis_proc.port)
    with (
        ServerThread(create_app(settings_for(redis_proc.port, registry.root))) as server,
        Load(server.url) as load,
    ):
        load.wait_for_version(v1)
        registry.promote(v2)
        load.wait_for_version(v2)
        for failures, bad in enumerate((corrupt, nan), start=1):
            registry.promote(bad)
            wait_until(partial(swapped, server.url, "failure", failures), 20, f"the watcher rejecting {bad}")
            rejected = load.wait_for_answers(10)  # the load goes on: v2 keeps serving
            with load.lock:
                assert set(load.versions[rejected:]) == {v2}
        registry.promote(v1)
        load.wait_for_version(v1)
        wait_until(partial(swapped, server.url, "success", 3), 20, "the swap back to v1 counted")
        metrics = httpx.get(f"{server.url}/metrics").text
    assert not load.errors
    assert set(load.statuses) == {200}, load.statuses
    assert sum(load.statuses.values()) > 50
    assert set(load.versions) == {v1, v2}
    assert 'omniseq_model_swaps_total{family="next_item",result="failure"} 2.0' in metrics
    assert 'omniseq_model_swaps_total{family="next_item",result="success"} 3.0' in metrics
