"""Start the feature job: configure the Flink environment (checkpoints, jars, loopback-only REST), resume from
the newest retained checkpoint, validate in-store drops while it runs, watch its state, stop it with a savepoint.

``main()`` runs on the local mini-cluster (``flink_target = "local"``) or submits to a session cluster
(``flink_target = "host:port"`` of its REST endpoint). It exits 0 after a stop with a savepoint (Ctrl-C, SIGTERM
or ``--duration-s``), and non-zero when the job fails, is cancelled from elsewhere or restarts more than
``max_restarts`` times; ``<pipeline_dir>/job_status.json`` and the ``job_restarts`` counter show where it stands.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from pyflink.java_gateway import get_gateway

from omniseq.infra import flink
from omniseq.infra.jars import ensure_jars
from omniseq.infra.process import free_port
from pipeline.config import PipelineSettings
from pipeline.job import build_job
from pipeline.landing import LandingValidator

log = logging.getLogger(__name__)


def resolve_jars(cfg: PipelineSettings, extra: list[str] | None = None) -> list[str]:
    """The Kafka connector and Parquet format jars (and what Parquet needs) as file URIs."""
    if extra:
        return [Path(j).resolve().as_uri() for j in extra]
    return ensure_jars(cfg).flink_urls


def latest_checkpoint(root: Path) -> Path | None:
    """The newest completed checkpoint or savepoint (a folder with ``_metadata``) under ``root``."""
    done = [p.parent for p in root.glob("**/_metadata")] if root.exists() else []
    return max(done, key=lambda p: p.stat().st_mtime) if done else None


def flink_config(
    cfg: PipelineSettings, jars: list[str], restore: Path | None, rest_port: int | None = None
) -> dict[str, str]:
    """Flink's configuration of the job (:func:`omniseq.infra.flink.flink_config` plus checkpointing and the
    REST settings); the local mini-cluster listens on ``rest_bind_address`` only."""
    job = {
        "pipeline.name": cfg.job_name,
        "execution.checkpointing.interval": f"{cfg.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": cfg.checkpoint_dir.resolve().as_uri(),
        "execution.checkpointing.savepoint-dir": (cfg.pipeline_dir / "savepoints").resolve().as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "2",
        "execution.buffer-timeout.interval": f"{cfg.buffer_timeout_ms} ms",
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": f"{cfg.idle_timeout_ms} ms",
        "rest.bind-port": str(rest_port or 0),
        "rest.bind-address": cfg.rest_bind_address,
        "rest.address": cfg.rest_bind_address,
        "jobmanager.bind-host": cfg.rest_bind_address,
        "taskmanager.bind-host": cfg.rest_bind_address,
        "taskmanager.host": cfg.rest_bind_address,
        "web.cancel.enable": str(cfg.rest_cancel_enabled).lower(),
        "web.submit.enable": str(cfg.rest_upload_enabled).lower(),
        "web.upload.dir": str((cfg.pipeline_dir / "web-upload").resolve()),
        # REST metrics (restart count, busy time) at most 1 s old instead of Flink's 10 s
        "metrics.fetcher.update-interval": "1 s",
    }
    if restore is not None:
        job["execution.state-recovery.path"] = restore.resolve().as_uri()
    return flink.flink_config(cfg, jars, extra=job)


class JobFailed(RuntimeError):
    """The job failed, was cancelled from elsewhere, or restarts too often."""


class RunningJob:
    """A submitted job plus the landing-folder validator thread that feeds it."""

    def __init__(
        self, client: Any, validator: LandingValidator, thread: threading.Thread, rest_url: str | None = None
    ) -> None:
        self.client, self.validator, self._thread, self.rest_url = client, validator, thread, rest_url

    def state(self) -> str:
        """Flink's job status: RUNNING, RESTARTING, FAILED, CANCELED, FINISHED, ..."""
        return str(self.client.get_job_status().result()).rsplit(".", 1)[-1]

    def restarts(self) -> int:
        """How often the job restarted (Flink's ``numRestarts``); 0 when the REST endpoint cannot say."""
        if self.rest_url is None:
            return 0
        job_id = str(self.client.get_job_id())
        try:
            url = f"{self.rest_url}/jobs/{job_id}/metrics?get=numRestarts"
            with urllib.request.urlopen(url, timeout=5) as r:
                values = json.loads(r.read())
            return int(values[0]["value"]) if values else 0
        except (OSError, ValueError, KeyError, IndexError):
            return 0

    def check(self, cfg: PipelineSettings) -> tuple[str, int]:
        """Record the job's state and restart count; raise :class:`JobFailed` when it is not running well."""
        state, restarts = self.state(), self.restarts()
        write_status(cfg, state, restarts)
        if state in ("FAILED", "CANCELED", "CANCELLING", "FINISHED", "SUSPENDED"):
            raise JobFailed(f"job {cfg.job_name} is {state} (after {restarts} restarts)")
        if restarts > cfg.max_restarts:
            raise JobFailed(
                f"job {cfg.job_name} restarted {restarts} times (max_restarts={cfg.max_restarts})"
            )
        return state, restarts

    def stop(self, savepoint_dir: Path | None = None) -> str | None:
        """Stop with a savepoint (the next start resumes from it); returns its path."""
        self.validator.stop()
        self._thread.join(timeout=10)
        if savepoint_dir is None:
            self.client.cancel().result()
            return None
        # PyFlink's JobClient.stop_with_savepoint misses Flink 2's format argument: call the Java client directly
        fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
        j_client = self.client._j_job_client
        return str(j_client.stopWithSavepoint(False, savepoint_dir.resolve().as_uri(), fmt).get())


def write_status(cfg: PipelineSettings, state: str, restarts: int) -> None:
    """``job_status.json`` (state, restarts, time) and the ``job_restarts`` counter of ``--metrics``."""
    metrics = cfg.pipeline_dir / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    for path, body in (
        (
            cfg.pipeline_dir / "job_status.json",
            {"state": state, "restarts": restarts, "at_ms": time.time_ns() // 10**6},
        ),
        (metrics / "runner-0.json", {"job_restarts": restarts}),
    ):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, path)


def start(
    cfg: PipelineSettings, online_uri: str, jars: list[str], resume: bool = True, rest_port: int | None = None
) -> RunningJob:
    """Build and submit the job (non-blocking) and start the landing validator."""
    for d in (cfg.pipeline_dir, cfg.checkpoint_dir, cfg.accepted_dir):
        d.mkdir(parents=True, exist_ok=True)
    restore = latest_checkpoint(cfg.pipeline_dir) if resume else None
    log.info("starting %s (restore from %s)", cfg.job_name, restore)
    if cfg.flink_target == "local":
        rest_port = rest_port or free_port(cfg.rest_bind_address)
        rest_url: str | None = f"http://{cfg.rest_bind_address}:{rest_port}"
    else:
        rest_url = f"http://{cfg.flink_target}"
    env, t_env = flink.stream_env(flink_config(cfg, jars, restore, rest_port))
    stmts = build_job(t_env, cfg, online_uri)
    stmts.attach_as_datastream()
    validator = LandingValidator(
        cfg.dir("landing"), cfg.accepted_dir, cfg.dir("quarantine"), cfg.pipeline_dir,
        settle_s=cfg.landing_settle_s, incomplete_grace_s=cfg.landing_incomplete_grace_s,
    )  # fmt: skip
    thread = threading.Thread(target=validator.run, args=(cfg.instore_monitor_ms / 1000,), daemon=True)
    thread.start()
    client = env.execute_async(cfg.job_name)
    return RunningJob(client, validator, thread, rest_url)


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
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops with a savepoint, like Ctrl-C
    job = start(cfg, args.online or cfg.redis_url, resolve_jars(cfg, args.jar), resume=not args.fresh)
    try:
        watch(job, cfg, args.duration_s)
    except KeyboardInterrupt:
        log.info("interrupted: stopping with a savepoint")
    except JobFailed as exc:
        log.error("%s", exc)
        job.validator.stop()
        if job.state() not in ("FAILED", "CANCELED", "FINISHED"):
            job.client.cancel().result()
        return 1
    print("savepoint:", job.stop(cfg.pipeline_dir / "savepoints"))
    write_status(cfg, "STOPPED_WITH_SAVEPOINT", job.restarts())
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def watch(job: RunningJob, cfg: PipelineSettings, duration_s: float = 0, poll_s: float = 0.5) -> None:
    """Poll the job until ``duration_s`` passed (0: forever); :class:`JobFailed` when it stops running well."""
    deadline = time.monotonic() + duration_s if duration_s else None
    while deadline is None or time.monotonic() < deadline:
        job.check(cfg)
        time.sleep(poll_s)


if __name__ == "__main__":
    raise SystemExit(main())
