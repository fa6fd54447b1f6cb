"""A single-node Apache Kafka 4.x broker in KRaft mode (combined broker + controller), run from Maven jars.

On first start the storage under ``<run_dir>/kafka/data`` is formatted with ``kafka.tools.StorageTool format
--standalone``; the broker then runs as ``java -cp <jars> kafka.Kafka server.properties`` with its log in
``<run_dir>/kafka/kafka.log``. Readiness is checked with a real kafka-python admin client; the settings' topics
(clickstream, clickstream-dlq) are created at start. Missing Java, missing jars and taken ports fail at once.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from string import Template
from types import TracebackType

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from omniseq.infra.jars import INFRA_DIR, Jars, ensure_jars
from omniseq.infra.process import InfraError, ManagedProcess, check_ports_free, tail
from omniseq.settings import StackSettings

TEMPLATE = INFRA_DIR / "kafka" / "server.properties"
LOG4J2 = INFRA_DIR / "kafka" / "log4j2.properties"
MAIN_CLASS = "kafka.Kafka"
MIN_JAVA = 17


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` or ``java`` on PATH, checked to be Java 17+; raise InfraError otherwise."""
    home = os.environ.get("JAVA_HOME")
    exe = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").is_file() else None
    exe = exe or shutil.which("java")
    if exe is None:
        raise InfraError(
            f"Java {MIN_JAVA}+ is needed for Kafka/Flink but 'java' is not on PATH (nor JAVA_HOME)"
        )
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise InfraError(f"cannot read the Java version from '{exe} -version': {out.strip()[:200]}")
    major = int(match.group(1)) if match.group(1) != "1" else int(match.group(2) or 0)
    if major < MIN_JAVA:
        raise InfraError(f"Kafka 4.x needs Java {MIN_JAVA}+, found Java {major} at {exe}")
    return exe


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 chars, not starting with '-')."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaBroker:
    """``start()`` / ``stop()`` a KRaft broker on ``settings.kafka_host:kafka_port``; also a context manager."""

    def __init__(self, settings: StackSettings | None = None, jars: Jars | None = None, heap: str = "512m"):
        self.settings = settings or StackSettings()
        self.jars = jars
        self.heap = heap
        self.dir = Path(self.settings.run_dir).resolve() / "kafka"
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "server.properties"
        self.log_path = self.dir / "kafka.log"
        self.process: ManagedProcess | None = None

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    @property
    def host(self) -> str:
        return self.settings.kafka_host

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def write_config(self) -> Path:
        s = self.settings
        text = Template(TEMPLATE.read_text()).substitute(
            host=s.kafka_host,
            port=s.kafka_port,
            controller_port=s.kafka_controller_port,
            data_dir=self.data_dir,
            partitions=s.kafka_partitions,
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(text)
        return self.config_path

    def _java_cmd(self, java: str, jars: Jars, main: str, *args: str) -> list[str]:
        classpath = os.pathsep.join(str(p) for p in jars.kafka_classpath)
        return [
            java,
            f"-Xms{self.heap}" if main == MAIN_CLASS else "-Xms64m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2}",
            f"-Dkafka.logs.dir={self.dir / 'logs'}",
            "-cp",
            classpath,
            main,
            *args,
        ]

    def format_storage(self, java: str, jars: Jars) -> None:
        """Format the KRaft storage unless already formatted (``meta.properties`` present)."""
        if (self.data_dir / "meta.properties").is_file():
            return
        id_file = self.dir / "cluster.id"
        cluster_id = id_file.read_text().strip() if id_file.is_file() else new_cluster_id()
        id_file.write_text(cluster_id + "\n")
        cmd = self._java_cmd(java, jars, "kafka.tools.StorageTool", "format", "--standalone")
        cmd += ["-t", cluster_id, "-c", str(self.config_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise InfraError(f"Kafka storage format failed:\n{(proc.stdout + proc.stderr)[-3000:]}")

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        """Format (first time), start the broker, wait until a client can talk to it, create the topics."""
        if self.process and self.process.alive():
            return self
        s = self.settings
        if s.kafka_port == s.kafka_controller_port:
            raise InfraError("kafka_port and kafka_controller_port must differ")
        check_ports_free(s.kafka_host, {"Kafka": s.kafka_port, "Kafka controller": s.kafka_controller_port})
        java = java_executable()
        jars = self.jars or ensure_jars(s)
        jars.check()
        self.write_config()
        self.format_storage(java, jars)
        cmd = self._java_cmd(java, jars, MAIN_CLASS, str(self.config_path))
        self.process = ManagedProcess("Kafka broker", cmd, self.log_path)
        self.process.start(cwd=self.dir)
        try:
            self.process.wait_ready(self.ready, timeout=timeout, interval=0.5)
            self.create_topics([s.clickstream_topic, s.dlq_topic])
        except BaseException:
            self.stop()
            raise
        return self

    def admin(self, timeout_ms: int = 5000) -> object:
        """A kafka-python ``KafkaAdminClient`` for this broker (close it after use)."""
        return KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id="omniseq-infra",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )

    def ready(self) -> bool:
        """True when a kafka-python admin client can fetch cluster metadata with at least one broker."""
        try:
            admin = self.admin(timeout_ms=2000)
        except (KafkaError, OSError, ValueError):
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))  # type: ignore[attr-defined]
        except (KafkaError, OSError, ValueError):
            return False
        finally:
            admin.close()  # type: ignore[attr-defined]

    def create_topics(self, names: Iterable[str], partitions: int | None = None) -> None:
        """Create topics (existing ones are left alone) and wait until every partition has a leader."""
        parts = partitions or self.settings.kafka_partitions
        admin = self.admin(timeout_ms=30000)
        try:
            existing = set(admin.list_topics())  # type: ignore[attr-defined]
            for name in dict.fromkeys(names):
                if name in existing:
                    continue
                spec = {name: {"num_partitions": parts, "replication_factor": 1}}
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(spec, timeout_ms=30000, wait_for_metadata=True)  # type: ignore[attr-defined]
        except KafkaError as exc:
            raise InfraError(
                f"creating Kafka topics failed: {exc}; broker log:\n{tail(self.log_path)}"
            ) from exc
        finally:
            admin.close()  # type: ignore[attr-defined]

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), then SIGKILL after ``timeout`` seconds."""
        if self.process is not None:
            self.process.stop(timeout=timeout)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m omniseq.infra.kafka create-topics [NAME ...]``: wait for the broker named by the settings
    (``OMNISEQ_KAFKA_HOST``/``OMNISEQ_KAFKA_PORT``; e.g. docker-compose's ``kafka``) and create the topics."""
    parser = argparse.ArgumentParser(prog="python -m omniseq.infra.kafka")
    parser.add_argument("action", choices=["create-topics"])
    parser.add_argument("names", nargs="*", help="topics (default: the clickstream and DLQ topics)")
    parser.add_argument("--partitions", type=int, default=None, help="default: OMNISEQ_KAFKA_PARTITIONS")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the broker")
    args = parser.parse_args(argv)
    broker = KafkaBroker(StackSettings())
    deadline = time.monotonic() + args.timeout
    while not broker.ready():
        if time.monotonic() > deadline:
            print(
                f"error: no Kafka broker answered at {broker.bootstrap} within {args.timeout:.0f} s",
                file=sys.stderr,
            )
            return 1
        time.sleep(1.0)
    names = args.names or [broker.settings.clickstream_topic, broker.settings.dlq_topic]
    try:
        broker.create_topics(names, args.partitions)
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"topics ready on {broker.bootstrap}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
