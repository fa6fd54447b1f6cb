"""The docker-compose stack, really run (``make compose-check`` is the same check): images built, every healthcheck
healthy, a replay, a retrain in the trainer container, the API picking up the promotion and answering
``fallback: false``, then ``down -v``. Marked ``docker`` (deselected by default: it takes 15-30 minutes; run it with
``pytest -m docker tests/infra/test_compose_run.py`` as root on a machine with a Docker engine)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(3600)]


def test_compose_stack_end_to_end(tmp_path: Path) -> None:
    docker = subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout.strip()  # fmt: skip
    base = subprocess.run(["bash", str(ROOT / "scripts" / "build-base-image.sh")], capture_output=True, text=True,
                          cwd=ROOT, check=True, env={"DOCKER": docker, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}).stdout.strip()  # fmt: skip
    from scripts.compose_check import main

    out = tmp_path / "compose.json"
    code = main(["--docker", docker, "--base-image", base, "--out", str(out)])
    result = json.loads(out.read_text())
    assert code == 0 and result["ok"], result.get("error")
    assert result["recommendation"]["fallback"] is False and result["recommendation"]["items"]
    assert [p for p in result["exposed_ports"] if "->" in p] == [
        p for p in result["exposed_ports"] if "_api_" in p
    ]
