"""Unit tests of the process helpers (ports, pid files, stopping); they start only `sleep`/python children."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from omniseq.infra.process import (
    InfraError,
    ManagedProcess,
    check_ports_free,
    free_port,
    pid_alive,
    port_in_use,
    read_pids,
    remove_pid,
    terminate_pid,
    write_pid,
)


def test_port_in_use_and_check_ports_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        with pytest.raises(InfraError, match=f"Kafka port 127.0.0.1:{port} is already in use"):
            check_ports_free("127.0.0.1", {"Kafka": port})
    assert not port_in_use("127.0.0.1", free_port())
    with pytest.raises(InfraError, match="not a valid TCP port"):
        check_ports_free("127.0.0.1", {"Redis": 70000})


def test_pid_files_round_trip(tmp_path: Path) -> None:
    write_pid(tmp_path, "kafka", 123)
    write_pid(tmp_path, "redis", 456)
    (tmp_path / "pids" / "junk.pid").write_text("not a pid")
    assert read_pids(tmp_path) == {"kafka": 123, "redis": 456}
    remove_pid(tmp_path, "kafka")
    remove_pid(tmp_path, "kafka")  # twice is fine
    assert read_pids(tmp_path) == {"redis": 456}
    assert read_pids(tmp_path / "nowhere") == {}


def test_managed_process_stop_escalates_to_kill(tmp_path: Path) -> None:
    # a child that ignores SIGTERM must still be gone after stop()
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = ManagedProcess("stubborn", [sys.executable, "-c", code], tmp_path / "p.log")
    proc.start()
    proc.wait_ready(lambda: "up" in (tmp_path / "p.log").read_text(), timeout=20)
    pid = proc.pid
    assert pid is not None and pid_alive(pid)
    proc.stop(timeout=0.5)
    assert not pid_alive(pid)


def test_wait_ready_reports_exit_with_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "failing",
        [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"],
        tmp_path / "f.log",
    )
    proc.start()
    with pytest.raises(
        InfraError, match=r"(?s)failing exited during start-up \(exit code 3\).*boom: bad config"
    ):
        proc.wait_ready(lambda: False, timeout=20)


def test_wait_ready_times_out_and_stops(tmp_path: Path) -> None:
    proc = ManagedProcess("slow", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log")
    proc.start()
    with pytest.raises(InfraError, match="slow was not ready after"):
        proc.wait_ready(lambda: False, timeout=0.5)
    assert proc.pid is not None and not pid_alive(proc.pid)


def test_missing_executable_is_a_clear_error(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", ["/nonexistent/binary"], tmp_path / "g.log")
    with pytest.raises(InfraError, match="ghost: cannot run '/nonexistent/binary'"):
        proc.start()


def test_terminate_pid_of_gone_process_is_harmless() -> None:
    assert terminate_pid(2**22 + 12345, timeout=0.1) is False
