"""A local Flink *session* cluster (one JobManager + one TaskManager) run from the apache-flink wheel's scripts.

Used to prove (and to try by hand) that the jobs built with :mod:`omniseq.infra.flink` are also
submittable to a session cluster, as in docker-compose: point ``OMNISEQ_FLINK_TARGET`` at :attr:`target`.
Configuration and logs live under ``<run_dir>/flink-session``.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import pyflink

from omniseq.infra.kafka import java_executable
from omniseq.infra.process import InfraError, ManagedProcess, check_ports_free, free_port
from omniseq.settings import StackSettings


def flink_home() -> Path:
    """The FLINK_HOME inside the installed apache-flink wheel (``pyflink/``: bin, lib, conf)."""
    home = Path(pyflink.__file__).parent
    if not (home / "bin" / "jobmanager.sh").is_file():
        raise InfraError(f"the apache-flink wheel at {home} has no bin/jobmanager.sh")
    return home


class FlinkSessionCluster:
    """``start()`` / ``stop()`` a standalone session cluster on 127.0.0.1 with its REST API on ``rest_port``."""

    def __init__(
        self,
        settings: StackSettings | None = None,
        rest_port: int | None = None,
        slots: int = 2,
        config: Mapping[str, object] | None = None,
    ):
        self.settings = settings or StackSettings()
        self.rest_port = rest_port or free_port()
        self.slots = slots
        self.config = dict(config or {})  # Flink settings over the defaults below (e.g. TaskManager memory)
        self.dir = Path(self.settings.run_dir).resolve() / "flink-session"
        self.processes: list[ManagedProcess] = []

    @property
    def target(self) -> str:
        """The value for ``OMNISEQ_FLINK_TARGET`` / ``StackSettings.flink_target``."""
        return f"127.0.0.1:{self.rest_port}"

    def write_config(self) -> Path:
        conf = self.dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        for name in ("log4j-console.properties", "log4j.properties"):
            shutil.copy(flink_home() / "conf" / name, conf / name)
        values = {
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.rpc.port": free_port(),
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": self.rest_port,
            "jobmanager.memory.process.size": "768m",
            "taskmanager.memory.process.size": "1024m",
            "taskmanager.numberOfTaskSlots": self.slots,
            "io.tmp.dirs": str(self.dir / "tmp"),
            "web.upload.dir": str(self.dir / "upload"),
            **self.config,
        }
        (conf / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in values.items()))
        return conf

    def overview(self) -> dict[str, object] | None:
        """The REST ``/overview`` document, or None when the JobManager does not answer."""
        try:
            with urllib.request.urlopen(f"http://{self.target}/overview", timeout=2) as resp:
                result: dict[str, object] = json.load(resp)
                return result
        except (OSError, ValueError):
            return None

    def _has_slots(self) -> bool:
        view = self.overview()
        return bool(view and int(str(view.get("slots-total", 0))) >= self.slots)

    def start(self, timeout: float = 120.0) -> FlinkSessionCluster:
        """Start JobManager and TaskManager; ready when the TaskManager's slots are registered."""
        java = java_executable()
        check_ports_free("127.0.0.1", {"Flink REST": self.rest_port})
        conf = self.write_config()
        env = dict(os.environ, FLINK_HOME=str(flink_home()), FLINK_CONF_DIR=str(conf))
        env.update(FLINK_LOG_DIR=str(self.dir / "log"), JAVA_HOME=str(Path(java).resolve().parents[1]))
        try:
            self._start_role("jobmanager", env).wait_ready(
                lambda: self.overview() is not None, timeout=timeout
            )
            self._start_role("taskmanager", env).wait_ready(self._has_slots, timeout=timeout, interval=0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_role(self, role: str, env: dict[str, str]) -> ManagedProcess:
        cmd = ["bash", str(flink_home() / "bin" / f"{role}.sh"), "start-foreground"]
        proc = ManagedProcess(f"Flink {role}", cmd, self.dir / f"{role}.out", env=env)
        proc.start(cwd=self.dir)
        self.processes.append(proc)
        return proc

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def stop(self, timeout: float = 20.0) -> None:
        for proc in reversed(self.processes):
            proc.stop(timeout=timeout)

    def __enter__(self) -> FlinkSessionCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
