"""The local stack: Redis + Kafka (KRaft) as child processes, Flink jars checked; what ``omniseq up`` runs.

Pid files go to ``<run_dir>/pids/<name>.pid``. Everything is stopped on :meth:`LocalStack.stop`, on leaving the
``with`` block (also by an exception), on SIGINT/SIGTERM (handlers turn them into ``KeyboardInterrupt`` /
``SystemExit`` so the ``with`` block unwinds) and at interpreter exit (atexit). ``detach()`` leaves the processes
running; :func:`stop_from_pid_files` (``omniseq down``) stops them later.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from omniseq.infra.flink_cluster import FlinkSessionCluster
from omniseq.infra.jars import REPO_ROOT, Jars, ensure_jars
from omniseq.infra.kafka import KafkaBroker
from omniseq.infra.process import (
    InfraError,
    cmdline,
    free_port,
    pid_alive,
    read_pids,
    remove_pid,
    terminate_pid,
    write_pid,
)
from omniseq.infra.redis import RedisServer
from omniseq.settings import StackSettings

# what a pid file's process must look like before 'omniseq down' signals it (pids get reused)
MARKERS = {
    "kafka": "kafka.Kafka",
    "redis": "redis-server",
    "flink-jobmanager": "StandaloneSessionClusterEntrypoint",
    "flink-taskmanager": "TaskManagerRunner",
}


def isolated_settings(run_dir: Path, **overrides: Any) -> StackSettings:
    """StackSettings for a throwaway stack beside any other (tests, benchmarks): free ports on 127.0.0.1,
    ``run_dir`` as the run folder, the shared jar cache (``OMNISEQ_CACHE_DIR`` or the repository's ``.cache``),
    two partitions, the local Flink mini-cluster, Redis without password or persistence; ``overrides`` win."""
    values: dict[str, Any] = {
        "run_dir": run_dir,
        "cache_dir": Path(os.environ.get("OMNISEQ_CACHE_DIR", REPO_ROOT / ".cache")).resolve(),
        "kafka_host": "127.0.0.1",
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "redis_host": "127.0.0.1",
        "redis_port": free_port(),
        "api_port": free_port(),
        "kafka_partitions": 2,
        "flink_target": "local",
        "redis_password": None,
        "redis_persistence": False,
    }
    values.update(overrides)
    return StackSettings(**values)


class LocalStack:
    """Start Redis and Kafka (in that order), stop them in reverse order."""

    def __init__(
        self,
        settings: StackSettings | None = None,
        kafka: bool = True,
        redis: bool = True,
        flink_session: bool = False,
    ):
        self.settings = settings or StackSettings()
        self.flink_session = FlinkSessionCluster(self.settings) if flink_session else None
        self.run_dir = Path(self.settings.run_dir).resolve()
        self.jars: Jars | None = None
        self.redis = RedisServer(self.settings) if redis else None
        self.kafka = KafkaBroker(self.settings) if kafka else None
        self._started: list[tuple[str, Any]] = []
        self._detached = False
        self._old_handlers: dict[int, Any] = {}

    def start(self, handle_signals: bool = True) -> LocalStack:
        """Resolve/check jars, start the services, write pid files; on any failure stop what was started."""
        if handle_signals:
            self._install_signal_handlers()
        atexit.register(self.stop)
        try:
            self.jars = ensure_jars(self.settings)
            self.jars.check()
            if self.kafka is not None:
                self.kafka.jars = self.jars
            for name, service in (("redis", self.redis), ("kafka", self.kafka)):
                if service is None:
                    continue
                service.start()
                self._started.append((name, service))
                assert service.pid is not None
                write_pid(self.run_dir, name, service.pid)
            if self.flink_session is not None:
                self._start_flink_session(self.flink_session)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_flink_session(self, cluster: FlinkSessionCluster) -> None:
        cluster.start()
        self._started.append(("flink-session", cluster))
        for role, pid in zip(("flink-jobmanager", "flink-taskmanager"), cluster.pids(), strict=True):
            write_pid(self.run_dir, role, pid)

    def pids(self) -> dict[str, int]:
        pids = {
            name: service.pid for name, service in self._started if name != "flink-session" and service.pid
        }
        if self.flink_session is not None:
            pids.update(
                zip(("flink-jobmanager", "flink-taskmanager"), self.flink_session.pids(), strict=False)
            )
        return pids

    def check_alive(self) -> None:
        """Raise :class:`InfraError` when a started service has exited."""
        for name, service in self._started:
            procs = service.processes if name == "flink-session" else [service.process]
            for proc in procs:
                if proc is not None and not proc.alive():
                    raise proc.failure(f"({name}) exited unexpectedly")

    def wait(self, poll: float = 1.0) -> None:
        """Block until Ctrl-C / SIGTERM (or a service dies)."""
        while True:
            self.check_alive()
            time.sleep(poll)

    def detach(self) -> dict[str, int]:
        """Leave the processes running (pid files stay) and forget them; returns their pids."""
        self._detached = True
        pids = self.pids()
        self._started.clear()
        atexit.unregister(self.stop)
        self._restore_signal_handlers()
        return pids

    def stop(self) -> None:
        """Stop every started service (reverse order) and remove its pid file; safe to call twice."""
        while self._started:
            name, service = self._started.pop()
            try:
                service.stop()
            finally:
                for pid_name in (
                    ("flink-jobmanager", "flink-taskmanager") if name == "flink-session" else (name,)
                ):
                    remove_pid(self.run_dir, pid_name)
        atexit.unregister(self.stop)
        self._restore_signal_handlers()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, _raise_on_signal)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._detached:
            self.stop()


def _raise_on_signal(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def stop_from_pid_files(run_dir: Path, timeout: float = 30.0) -> dict[str, str]:
    """Stop the processes named by ``<run_dir>/pids/*.pid`` (Kafka before Redis); ``{name: what happened}``."""
    pids = read_pids(Path(run_dir))
    order = sorted(pids, key=lambda n: (n == "redis", n != "kafka", n))
    result: dict[str, str] = {}
    for name in order:
        pid = pids[name]
        marker = MARKERS.get(name)
        if not pid_alive(pid):
            result[name] = f"pid {pid} not running"
        elif marker and marker not in cmdline(pid):
            result[name] = f"pid {pid} is not {marker} any more; left alone"
        else:
            killed = terminate_pid(pid, timeout=timeout)
            result[name] = f"pid {pid} {'killed' if killed else 'stopped'}"
        remove_pid(Path(run_dir), name)
    return result


def describe(stack: LocalStack) -> str:
    """A short human summary of a running stack."""
    s = stack.settings
    lines = [f"run folder: {stack.run_dir}"]
    if stack.kafka is not None:
        lines.append(f"kafka:  {s.kafka_bootstrap}  topics {s.clickstream_topic}, {s.dlq_topic}")
    if stack.redis is not None:
        lines.append(f"redis:  {s.redis_host}:{s.redis_port}")
    if stack.jars is not None:
        lines.append(f"flink:  {len(stack.jars.flink)} jars for pipeline.jars; target {s.flink_target}")
    if stack.flink_session is not None:
        lines.append(f"flink session cluster: OMNISEQ_FLINK_TARGET={stack.flink_session.target}")
    lines.append("pids:   " + ", ".join(f"{n}={p}" for n, p in stack.pids().items()))
    return "\n".join(lines)


def print_error(exc: InfraError) -> None:
    print(f"error: {exc}", file=sys.stderr)
