"""The serving benchmark's load generator, in its own process, against a small keep-alive HTTP server."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.loadgen import clean_env, run_load, summary_ms


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn serves it

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(200, b"ok")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(200 if b'"u0"' in body else 404, b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def _args() -> argparse.Namespace:
    return argparse.Namespace(k=5, warmup=0.2, duration=0.6)


def test_load_counts_requests_and_statuses(server: int, tmp_path: Path) -> None:
    res = run_load(server, "/healthz", 2, ["u0"], _args(), tmp_path)
    assert res["concurrency"] == 2 and res["path"] == "/healthz"
    assert res["requests"] > 0 and res["errors"] == 0
    assert res["statuses"] == {"200": res["requests"]}
    assert 0 < res["p50_ms"] <= res["p99_ms"] <= res["max_ms"]


def test_non_2xx_answers_are_errors(server: int, tmp_path: Path) -> None:
    res = run_load(server, "/recommend", 1, ["u0", "u1"], _args(), tmp_path)
    assert res["errors"] == res["statuses"].get("404", 0) > 0
    assert res["errors"] + res["statuses"].get("200", 0) == res["requests"]


def test_summary_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    s = summary_ms([0.001, 0.002, 0.003, 0.004])
    assert (s["p50_ms"], s["max_ms"], s["mean_ms"]) == (3.0, 4.0, 2.5)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/x")  # what importing feast leaves behind
    env = clean_env(OTHER="1")
    assert env["OTHER"] == "1" and "PROMETHEUS_MULTIPROC_DIR" not in env
