"""A real ``redis-server`` (Debian package) started with explicit arguments; data under ``<run_dir>/redis``.

Persistence follows ``StackSettings.redis_persistence`` (off: ``--save "" --appendonly no``; on: RDB snapshots
plus an append-only file). With ``redis_password`` set, the password goes to a 0600 config file in the run folder
(``requirepass``) rather than the command line, so that ``ps`` does not show it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any

import redis as redis_py

from omniseq.infra.process import InfraError, ManagedProcess, check_ports_free
from omniseq.settings import StackSettings

REDIS_BINARY = "redis-server"


class RedisServer:
    """``start()`` / ``stop()`` a redis-server on ``settings.redis_host:redis_port``; also a context manager."""

    def __init__(self, settings: StackSettings | None = None, binary: str = REDIS_BINARY):
        self.settings = settings or StackSettings()
        self.binary = binary
        self.dir = Path(self.settings.run_dir).resolve() / "redis"
        self.process: ManagedProcess | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def host(self) -> str:
        return self.settings.redis_host

    @property
    def port(self) -> int:
        return self.settings.redis_port

    @property
    def url(self) -> str:
        return self.settings.redis_url

    def command(self) -> list[str]:
        """The redis-server command line (without the password)."""
        exe = shutil.which(self.binary)
        if exe is None:
            raise InfraError(
                f"{self.binary!r} not found on PATH: install it ('make sysdeps' runs apt-get install redis-server)"
            )
        s = self.settings
        cmd = [exe]
        if s.redis_password:
            cmd.append(str(self._secret_conf(s.redis_password)))
        cmd += ["--port", str(s.redis_port), "--bind", s.redis_host, "--dir", str(self.dir)]
        cmd += ["--daemonize", "no", "--logfile", "", "--protected-mode", "no"]
        if s.redis_persistence:
            cmd += ["--save", "60 1000", "--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            cmd += ["--save", "", "--appendonly", "no"]
        return cmd

    def _secret_conf(self, password: str) -> Path:
        if any(c in password for c in '"\n\r\\'):
            raise InfraError("redis_password must not contain quotes, backslashes or newlines")
        path = self.dir / "secret.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'requirepass "{password}"\n')
        return path

    def start(self, timeout: float = 20.0) -> RedisServer:
        """Start redis-server and wait until it answers PING; raise :class:`InfraError` saying why if not."""
        if self.process and self.process.alive():
            return self
        cmd = self.command()
        check_ports_free(self.settings.redis_host, {"Redis": self.settings.redis_port})
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess("redis-server", cmd, self.dir / "redis.log")
        self.process.start(cwd=self.dir)
        self.process.wait_ready(self.ping, timeout=timeout, interval=0.05)
        return self

    def client(self, **kwargs: Any) -> redis_py.Redis:
        """A redis-py client for this server (password included)."""
        s = self.settings
        return redis_py.Redis(host=s.redis_host, port=s.redis_port, password=s.redis_password, **kwargs)

    def ping(self) -> bool:
        try:
            with self.client(socket_connect_timeout=0.5, socket_timeout=0.5) as c:
                return bool(c.ping())
        except redis_py.AuthenticationError as exc:
            raise InfraError(
                f"Redis on port {self.settings.redis_port} rejected the password: {exc}"
            ) from exc
        except redis_py.RedisError:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (Redis writes its snapshot when persistence is on), then SIGKILL after ``timeout``."""
        if self.process is not None:
            self.process.stop(timeout=timeout)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
