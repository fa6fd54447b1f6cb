"""Child processes of the local stack: start with a log file, wait for readiness, stop cleanly, pid files.

Every process is started in its own session (``start_new_session``) so that a Ctrl-C in the terminal reaches only
``omniseq up``, which then shuts the children down in order; pid files let ``omniseq down`` find them later.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class InfraError(RuntimeError):
    """A stack process could not be started or stopped; the message says why (and shows its log tail)."""


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port`` (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Raise :class:`InfraError` naming the first configured port that is already taken."""
    for what, port in ports.items():
        if not 0 < port < 65536:
            raise InfraError(f"{what} port {port} is not a valid TCP port")
        if port_in_use(host, port):
            raise InfraError(
                f"{what} port {host}:{port} is already in use; stop whatever listens there "
                f"('omniseq down' if it is a previous stack) or choose another port via OMNISEQ_* settings"
            )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class ManagedProcess:
    """One child process writing stdout+stderr to ``log_path``."""

    def __init__(self, name: str, cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None):
        self.name = name
        self.cmd = list(cmd)
        self.log_path = log_path
        self.env = env
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self, cwd: Path | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self.popen = subprocess.Popen(
                    self.cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=cwd,
                    env=self.env,
                    start_new_session=True,
                )
            except FileNotFoundError as exc:
                raise InfraError(f"{self.name}: cannot run {self.cmd[0]!r}: {exc}") from exc

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def failure(self, why: str) -> InfraError:
        """An error for a start-up failure, carrying the tail of the process log."""
        return InfraError(f"{self.name} {why}; log {self.log_path}:\n{tail(self.log_path)}")

    def wait_ready(self, ready: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
        """Poll ``ready()`` until true; raise (after stopping the process) on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.popen.returncode if self.popen else None
                raise self.failure(f"exited during start-up (exit code {code})")
            if ready():
                return
            time.sleep(interval)
        self.stop()
        raise self.failure(f"was not ready after {timeout:.0f} s")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            terminate_pid(self.popen.pid, timeout=timeout, wait=self.popen.wait)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)


def terminate_pid(pid: int, timeout: float = 20.0, wait: Callable[..., object] | None = None) -> bool:
    """Stop a process: SIGTERM, then SIGKILL after ``timeout``. Returns True when it had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout, wait):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0, wait)
    return True


def _wait_gone(pid: int, timeout: float, wait: Callable[..., object] | None) -> bool:
    if wait is not None:
        try:
            wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


# ---- pid files -------------------------------------------------------------------------------------------------


def pid_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "pids"


def write_pid(run_dir: Path, name: str, pid: int) -> Path:
    path = pid_dir(run_dir) / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)
    return path


def read_pids(run_dir: Path) -> dict[str, int]:
    """``{name: pid}`` of every pid file under ``<run_dir>/pids`` (unreadable files are skipped)."""
    pids: dict[str, int] = {}
    folder = pid_dir(run_dir)
    if not folder.is_dir():
        return pids
    for path in sorted(folder.glob("*.pid")):
        with contextlib.suppress(ValueError, OSError):
            pids[path.stem] = int(path.read_text().strip())
    return pids


def remove_pid(run_dir: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (pid_dir(run_dir) / f"{name}.pid").unlink()


def cmdline(pid: int) -> str:
    """The command line of a running process ('' when unknown)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
