"""The runner's control flow with a stand-in job (the real job is covered by the integration tests): SIGTERM
stops with a savepoint like Ctrl-C, a failed job makes ``main`` exit non-zero, and the REST settings."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from cli.main import main as cli
from pipeline import runner
from pipeline.config import PipelineSettings


class _Client:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> Any:
        self.cancelled = True
        return self

    def result(self) -> None:
        return None


class _Job:
    def __init__(self, states: list[str]) -> None:
        self.states, self.client, self.stopped_to = states, _Client(), None
        self.validator = self

    def stop(self, savepoint_dir: Path | None = None) -> str:
        self.stopped_to = savepoint_dir  # type: ignore[assignment]
        return "sp"

    def state(self) -> str:
        return self.states[0] if len(self.states) == 1 else self.states.pop(0)

    def restarts(self) -> int:
        return 0

    def check(self, cfg: PipelineSettings) -> tuple[str, int]:
        return runner.RunningJob.check(self, cfg)  # type: ignore[arg-type]


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(runner, "resolve_jars", lambda cfg, extra=None: [])
    old = signal.getsignal(signal.SIGTERM)
    yield tmp_path
    signal.signal(signal.SIGTERM, old)


def test_sigterm_stops_with_a_savepoint(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = _Job(["RUNNING"])
    monkeypatch.setattr(runner, "start", lambda *a, **k: job)

    def watch(*a: Any, **k: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(runner, "watch", watch)
    assert runner.main([]) == 0
    assert job.stopped_to == PipelineSettings().pipeline_dir / "savepoints"


def test_a_failed_job_exits_non_zero_without_savepoint(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = _Job(["RUNNING", "FAILED"])
    monkeypatch.setattr(runner, "start", lambda *a, **k: job)
    assert runner.main(["--duration-s", "30"]) == 1
    assert job.stopped_to is None
    assert '"FAILED"' in (PipelineSettings().pipeline_dir / "job_status.json").read_text()


def test_restart_storm_is_a_failure(env: Path) -> None:
    job = _Job(["RESTARTING"])
    job.restarts = lambda: 3  # type: ignore[method-assign]
    with pytest.raises(runner.JobFailed, match="restarted 3 times"):
        runner.watch(job, PipelineSettings(max_restarts=2), duration_s=5, poll_s=0.01)  # type: ignore[arg-type]


def test_local_rest_is_loopback_with_cancel_and_upload_off(tmp_path: Path) -> None:
    conf = runner.flink_config(PipelineSettings(run_dir=tmp_path), [], None, 8081)
    assert conf["rest.bind-address"] == "127.0.0.1"
    assert conf["web.cancel.enable"] == "false" and conf["web.submit.enable"] == "false"


def test_metrics_show_the_job_state_and_restarts(env: Path, capsys: pytest.CaptureFixture[str]) -> None:

    runner.write_status(PipelineSettings(), "RESTARTING", 2)
    assert cli(["pipeline", "--metrics", "prometheus"]) == 0
    out = capsys.readouterr().out
    assert 'omniseq_pipeline_job_state{state="RESTARTING"} 1' in out
    assert "omniseq_pipeline_job_restarts_total 2" in out
