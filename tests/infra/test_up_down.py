"""`omniseq up` / `omniseq down` as real subprocesses: detach + down, and Ctrl-C in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from omniseq.infra.process import free_port, pid_alive, read_pids

pytestmark = pytest.mark.integration


def _env(run_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMNISEQ_RUN_DIR=str(run_dir),
        OMNISEQ_CACHE_DIR=str(Path(".cache").resolve()),
        OMNISEQ_KAFKA_PORT=str(free_port()),
        OMNISEQ_KAFKA_CONTROLLER_PORT=str(free_port()),
        OMNISEQ_REDIS_PORT=str(free_port()),
    )
    return env


def _omniseq(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cli.main", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def test_up_detach_then_down(tmp_path: Path) -> None:
    env = _env(tmp_path / "run")
    try:
        up = _omniseq("up", "--detach", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        pids = read_pids(tmp_path / "run")
        assert set(pids) == {"kafka", "redis"} and all(pid_alive(p) for p in pids.values())
        assert redis.Redis(port=int(env["OMNISEQ_REDIS_PORT"])).ping()
    finally:
        down = _omniseq("down", env=env)
    assert down.returncode == 0, down.stderr
    assert "kafka: pid" in down.stdout and "redis: pid" in down.stdout
    assert not any(pid_alive(p) for p in pids.values())
    assert read_pids(tmp_path / "run") == {}
    assert "nothing to stop" in _omniseq("down", env=env).stdout


def test_up_foreground_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    env = _env(tmp_path / "run")
    cmd = [sys.executable, "-m", "cli.main", "up", "--no-kafka"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        head = []
        for line in proc.stdout:  # wait until it says it is running
            head.append(line)
            if line.startswith("running"):
                break
        pids = read_pids(tmp_path / "run")
        assert set(pids) == {"redis"}, "".join(head)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "stopping" in out
    assert not pid_alive(pids["redis"])
    assert read_pids(tmp_path / "run") == {}


def test_up_reports_a_taken_port(tmp_path: Path) -> None:
    import socket

    env = _env(tmp_path / "run")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(env["OMNISEQ_REDIS_PORT"])))
        sock.listen()
        up = _omniseq("up", "--no-kafka", env=env, timeout=60)
    assert up.returncode == 1
    assert f"Redis port 127.0.0.1:{env['OMNISEQ_REDIS_PORT']} is already in use" in up.stderr
    assert read_pids(tmp_path / "run") == {}


@pytest.mark.slow
def test_up_flink_session_detach_then_down(tmp_path: Path) -> None:
    env = _env(tmp_path / "run")
    try:
        up = _omniseq("up", "--detach", "--no-kafka", "--no-redis", "--flink-session", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "OMNISEQ_FLINK_TARGET=127.0.0.1:" in up.stdout
        pids = read_pids(tmp_path / "run")
        assert set(pids) == {"flink-jobmanager", "flink-taskmanager"}
        assert all(pid_alive(p) for p in pids.values())
    finally:
        down = _omniseq("down", env=env)
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(p) for p in pids.values()), down.stdout
