from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cli.main import COMMANDS, build_parser, main
from omniseq.settings import StackSettings


def test_env_overrides_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMNISEQ_REDIS_PORT", "7001")
    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    s = StackSettings()
    assert s.redis_port == 7001
    assert s.dir("landing") == tmp_path / "landing"
    assert s.dir("registry") == tmp_path / "models"
    assert s.redis_url == "redis://127.0.0.1:7001/0"


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        StackSettings(redis_prot=1)  # type: ignore[call-arg]
    cfg = tmp_path / "stack.yaml"
    cfg.write_text("kafka_port: 19092\nkafka_prot: 1\n")
    with pytest.raises(ValidationError, match="kafka_prot"):
        StackSettings.from_yaml(cfg)


def test_yaml_then_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "stack.yaml"
    cfg.write_text("kafka_port: 19092\n")
    assert StackSettings.from_yaml(cfg).kafka_port == 19092  # type: ignore[attr-defined]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("generate", "replay", "pipeline", "train", "evaluate", "serve", "retrain", "bench", "up"):
        assert name in out
    assert set(COMMANDS) >= {
        "generate",
        "replay",
        "pipeline",
        "train",
        "evaluate",
        "serve",
        "retrain",
        "bench",
        "up",
    }


def test_every_command_module_exists_and_parses() -> None:
    parser = build_parser(load=list(COMMANDS))
    assert parser.prog == "omniseq"
