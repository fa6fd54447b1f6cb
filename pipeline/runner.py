"""Start the feature job: configure the Flink environment (checkpoints, Python bundles, jars), resume from the
newest retained checkpoint, validate in-store drops while it runs, stop it with a savepoint.

``main()`` runs on the local mini-cluster (``flink_target = "local"``) or submits to a session cluster
(``flink_target = "host:port"`` of its REST endpoint).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.config import PipelineSettings
from pipeline.landing import LandingValidator

log = logging.getLogger(__name__)


def resolve_jars(cfg: PipelineSettings, extra: list[str] | None = None) -> list[str]:
    """The Kafka connector and Parquet format jars (and what Parquet needs) as file URIs."""
    if extra:
        return [Path(j).resolve().as_uri() for j in extra]
    from omniseq.infra.jars import ensure_jars

    return ensure_jars(cfg).flink_urls


def latest_checkpoint(root: Path) -> Path | None:
    """The newest completed checkpoint or savepoint (a folder with ``_metadata``) under ``root``."""
    done = [p.parent for p in root.glob("**/_metadata")] if root.exists() else []
    return max(done, key=lambda p: p.stat().st_mtime) if done else None


def flink_config(
    cfg: PipelineSettings, jars: list[str], restore: Path | None, rest_port: int | None = None
) -> dict[str, str]:
    conf = {
        "pipeline.jars": ";".join(jars),
        "pipeline.name": cfg.job_name,
        "parallelism.default": str(cfg.flink_parallelism),
        "execution.checkpointing.interval": f"{cfg.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": cfg.checkpoint_dir.resolve().as_uri(),
        "execution.checkpointing.savepoint-dir": (cfg.pipeline_dir / "savepoints").resolve().as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "2",
        "execution.buffer-timeout.interval": f"{cfg.buffer_timeout_ms} ms",
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "python.fn-execution.bundle.time": str(cfg.python_bundle_ms),
        "python.fn-execution.bundle.size": str(cfg.python_bundle_size),
        "python.state.cache-size": str(cfg.state_cache_size),
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": f"{cfg.idle_timeout_ms} ms",
        "rest.bind-port": str(rest_port or 0),
    }
    if restore is not None:
        conf["execution.state-recovery.path"] = restore.resolve().as_uri()
    if cfg.flink_target != "local":
        host, _, port = cfg.flink_target.rpartition(":")
        conf.update({"execution.target": "remote", "rest.address": host, "rest.port": port})
    return conf


def make_env(conf: dict[str, str]) -> Any:
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    config = Configuration()
    for k, v in conf.items():
        config.set_string(k, v)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    return env, StreamTableEnvironment.create(env)


class RunningJob:
    """A submitted job plus the landing-folder validator thread that feeds it."""

    def __init__(self, client: Any, validator: LandingValidator, thread: threading.Thread) -> None:
        self.client, self.validator, self._thread = client, validator, thread

    def stop(self, savepoint_dir: Path | None = None) -> str | None:
        """Stop with a savepoint (the next start resumes from it); returns its path."""
        self.validator.stop()
        self._thread.join(timeout=10)
        if savepoint_dir is None:
            self.client.cancel().result()
            return None
        # PyFlink's JobClient.stop_with_savepoint misses Flink 2's format argument: call the Java client directly
        from pyflink.java_gateway import get_gateway

        fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
        j_client = self.client._j_job_client
        return str(j_client.stopWithSavepoint(False, savepoint_dir.resolve().as_uri(), fmt).get())


def start(
    cfg: PipelineSettings, online_uri: str, jars: list[str], resume: bool = True, rest_port: int | None = None
) -> RunningJob:
    """Build and submit the job (non-blocking) and start the landing validator."""
    from pipeline.job import build_job

    for d in (cfg.pipeline_dir, cfg.checkpoint_dir, cfg.accepted_dir):
        d.mkdir(parents=True, exist_ok=True)
    restore = latest_checkpoint(cfg.pipeline_dir) if resume else None
    log.info("starting %s (restore from %s)", cfg.job_name, restore)
    env, t_env = make_env(flink_config(cfg, jars, restore, rest_port))
    stmts = build_job(t_env, cfg, online_uri)
    stmts.attach_as_datastream()
    validator = LandingValidator(
        cfg.dir("landing"), cfg.accepted_dir, cfg.dir("quarantine"), cfg.pipeline_dir
    )
    thread = threading.Thread(target=validator.run, args=(cfg.instore_monitor_ms / 1000,), daemon=True)
    thread.start()
    client = env.execute_async(cfg.job_name)
    return RunningJob(client, validator, thread)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pipeline", description="Run the omniseq feature job until interrupted.")
    p.add_argument("--online", default=None, help="online sink URI (default: the stack's Redis)")
    p.add_argument(
        "--jar", action="append", default=[], help="extra/override Flink jars (default: ensure_jars)"
    )
    p.add_argument("--fresh", action="store_true", help="ignore retained checkpoints and start from scratch")
    p.add_argument(
        "--duration-s", type=float, default=0, help="stop (with a savepoint) after this many seconds"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = PipelineSettings()
    job = start(cfg, args.online or cfg.redis_url, resolve_jars(cfg, args.jar), resume=not args.fresh)
    try:
        deadline = time.monotonic() + args.duration_s if args.duration_s else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        log.info("interrupted: stopping with a savepoint")
    print("savepoint:", job.stop(cfg.pipeline_dir / "savepoints"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
