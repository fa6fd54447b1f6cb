"""Keeps docker-compose.yml honest without a Docker engine.

``docker-compose config -q`` validates the file; then every service's command (omniseq subcommand and its flags,
``python -m`` module, uvicorn app factory, feast repo), build file, volume and ``OMNISEQ_*`` variable is checked
against the repository: variables must be fields of a settings class (subclasses of ``OmniseqSettings``, found by
reading the source) or be documented in ``feature_repo/feature_store.yaml``. A command naming a subcommand without
its module in ``cli/commands/``, or a uvicorn app whose module is missing, fails.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
TEST_PASSWORD = "pw-for-config-only-3f9a"
COMPOSE = ROOT / "docker-compose.yml"
IMAGE_ROOT = "/opt/omniseq"  # where docker/omniseq.Dockerfile puts the repository
SOURCE_DIRS = [
    "feature_repo",
    "omniseq",
    "pipeline",
    "models",
    "serving",
    "lifecycle",
    "cli",
    "bench",
    "scripts",
]
REQUIRED = {
    "kafka",
    "redis",
    "flink-jobmanager",
    "flink-taskmanager",
    "pipeline",
    "feast-apply",
    "api",
    "trainer",
}


@cache
def compose_config() -> dict[str, Any]:
    """The file as docker-compose resolves it (anchors, merges and ${...} interpolation applied)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed ('make sysdeps' installs Debian's docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNISEQ_")}
    env["OMNISEQ_REDIS_PASSWORD"] = TEST_PASSWORD
    proc = subprocess.run(
        [exe, "-f", str(COMPOSE), "config"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = yaml.safe_load(proc.stdout)
    return config


@cache
def settings_fields() -> frozenset[str]:
    """Field names of every class deriving (transitively) from OmniseqSettings in the repository's source."""
    classes: dict[str, tuple[list[str], set[str]]] = {}
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            try:
                tree = ast.parse(path.read_text())
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                    fields = {
                        s.target.id
                        for s in node.body
                        if isinstance(s, ast.AnnAssign)
                        and isinstance(s.target, ast.Name)
                        and "ClassVar" not in ast.unparse(s.annotation)
                    }
                    old = classes.get(node.name, ([], set()))
                    classes[node.name] = (old[0] + bases, old[1] | fields)
    derived = {"OmniseqSettings"}
    changed = True
    while changed:
        new = {n for n, (bases, _) in classes.items() if set(bases) & derived} - derived
        derived |= new
        changed = bool(new)
    return frozenset(f for n in derived if n in classes for f in classes[n][1] - {"model_config"})


def documented_env() -> set[str]:
    text = (ROOT / "feature_repo" / "feature_store.yaml").read_text()
    return set(re.findall(r"\$\{(OMNISEQ_[A-Z0-9_]+)\}", text))


def repo_path(image_path: str) -> Path | None:
    """The repository file behind a path inside the image (None if the path is not under the repo root)."""
    if image_path == IMAGE_ROOT or image_path.startswith(IMAGE_ROOT + "/"):
        return ROOT / image_path[len(IMAGE_ROOT) :].lstrip("/")
    return None


def module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py", base / "__main__.py"):
        if candidate.is_file():
            return candidate
    return None


def services() -> dict[str, Any]:
    result: dict[str, Any] = compose_config()["services"]
    return result


def test_compose_config_is_valid() -> None:
    env = {**os.environ, "OMNISEQ_REDIS_PASSWORD": TEST_PASSWORD}
    proc = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    without = {k: v for k, v in os.environ.items() if k != "OMNISEQ_REDIS_PASSWORD"}
    proc = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env=without,
        cwd=ROOT,
    )
    if not (ROOT / ".env").is_file():  # a developer's .env may set it
        assert proc.returncode != 0 and "OMNISEQ_REDIS_PASSWORD" in proc.stderr, (
            "Redis must require a password"
        )
    assert set(services()) >= REQUIRED
    assert services()["replay"]["profiles"] == ["replay"]


def test_settings_scan_finds_the_stack_fields() -> None:
    fields = settings_fields()
    from omniseq.settings import StackSettings

    assert set(StackSettings.model_fields) <= fields


@pytest.mark.parametrize("name", sorted(REQUIRED | {"replay", "kafka-topics"}))
def test_service_environment_uses_known_settings(name: str) -> None:
    known = settings_fields()
    env = services()[name].get("environment") or {}
    unknown = [
        k
        for k in env
        if k.startswith("OMNISEQ_") and k[8:].lower() not in known and k not in documented_env()
    ]
    assert not unknown, f"{name}: OMNISEQ_* variables that no settings class defines: {unknown}"
    for key, value in env.items():
        path = repo_path(str(value)) if key.startswith("OMNISEQ_") else None
        if path is not None and key != "OMNISEQ_CACHE_DIR":  # the jar cache is created at image build time
            assert path.exists(), f"{name}: {key}={value} but {path} is not in the repository"


def _check_omniseq(args: list[str]) -> None:
    assert args and args[0] in cli.COMMANDS, f"'omniseq {args[:1]}' is not a subcommand of cli/main.py"
    assert (ROOT / "cli" / "commands" / f"{args[0]}.py").is_file(), f"cli/commands/{args[0]}.py is missing"
    parser = cli.build_parser(load=[args[0]])
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"'omniseq {' '.join(args)}' is rejected by its argument parser (exit {exc.code})")


def _check_command(name: str, cmd: list[str]) -> None:
    head, args = cmd[0], cmd[1:]
    if head == "omniseq":
        _check_omniseq(args)
    elif head == "python" and args[:1] == ["-m"]:
        assert module_file(args[1]), f"{name}: module {args[1]} not found in the repository"
        if args[1] == "omniseq.infra.kafka":
            importlib.import_module(args[1])
    elif head == "uvicorn":
        module, _, attr = args[0].partition(":")
        path = module_file(module)
        assert path is not None, f"{name}: uvicorn's app module {module} is not in the repository"
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == attr for n in tree.body), f"{module}:{attr}"
        assert "--factory" in args
    elif head == "feast":
        assert (Path(sys.executable).parent / "feast").is_file(), "the feast console script is not installed"
        repo = repo_path(args[args.index("-c") + 1])
        assert repo is not None and (repo / "feature_store.yaml").is_file(), (
            f"{name}: no Feast repo at {repo}"
        )
    elif head in ("jobmanager", "taskmanager", "kafka"):
        entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
        assert re.search(rf"^\s*([\w|]+\|)?{head}(\|[\w|]+)?\)", entrypoint, re.M), (
            f"docker/entrypoint.sh has no {head} role"
        )
    else:
        pytest.fail(f"{name}: unexpected command {cmd}")


@pytest.mark.parametrize("name", sorted(REQUIRED - {"redis"} | {"replay", "kafka-topics"}))
def test_service_command_exists_in_repo(name: str) -> None:
    service = services()[name]
    build = service.get("build")
    assert build, f"{name}: the application services build docker/omniseq.Dockerfile"
    assert (Path(build["context"]) / build["dockerfile"]).is_file()
    cmd = service["command"]
    assert isinstance(cmd, list), f"{name}: use the exec form (a list) for commands"
    _check_command(name, cmd)


def test_depends_on_and_healthchecks() -> None:
    all_services = services()
    for name, service in all_services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in all_services, f"{name} depends on unknown service {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in all_services[dep], (
                    f"{name} waits for {dep} to be healthy: no healthcheck"
                )
    for name in ("kafka", "redis", "flink-jobmanager", "flink-taskmanager", "api"):
        assert "healthcheck" in all_services[name], name


def _volume(spec: str | dict[str, str]) -> tuple[str, str]:
    """(source, target) of a volume entry in either of docker-compose's output forms."""
    if isinstance(spec, dict):
        return spec["source"], spec["target"]
    source, target = spec.split(":")[:2]
    return source, target


def test_named_volumes_for_state() -> None:
    config = compose_config()
    mounts = {
        (name, src): target
        for name, s in config["services"].items()
        for src, target in map(_volume, s.get("volumes", []))
    }
    assert {"kafka-data", "redis-data", "offline-store", "model-registry"} <= set(config["volumes"])
    assert mounts[("kafka", "kafka-data")] == "/data/kafka"  # docker/entrypoint.sh: data_dir
    assert mounts[("redis", "redis-data")] == "/data"
    env = services()["api"]["environment"]
    assert mounts[("api", "model-registry")] == env["OMNISEQ_REGISTRY_DIR"]
    assert mounts[("pipeline", "offline-store")] == env["OMNISEQ_OFFLINE_DIR"]
    # the task managers run the sinks and the landing-folder source: they must see the same folders
    assert mounts[("flink-taskmanager", "offline-store")] == env["OMNISEQ_OFFLINE_DIR"]
    assert mounts[("flink-taskmanager", "stack-run")] == env["OMNISEQ_RUN_DIR"]


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def test_kafka_uses_the_local_broker_template() -> None:
    """The compose broker fills the same infra/kafka/server.properties as the local one (docker/entrypoint.sh)."""
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert "infra/kafka/server.properties" in entrypoint and 'data_dir="/data/kafka"' in entrypoint
    env = services()["kafka"]["environment"]
    assert env["OMNISEQ_KAFKA_HOST"] == "kafka" == services()["kafka"]["hostname"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["KAFKA_CLUSTER_ID"]), (
        "KAFKA_CLUSTER_ID must be a base64 Kafka UUID"
    )


def test_only_the_api_port_is_published() -> None:
    published = {name: s.get("ports") for name, s in services().items() if s.get("ports")}
    assert set(published) == {"api"}, published
    (port,) = published["api"]
    host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
    assert host_ip == "127.0.0.1", "the API is published on 127.0.0.1 unless API_PUBLISH says otherwise"


def test_redis_password_never_on_a_command_line() -> None:
    redis_service = services()["redis"]
    assert redis_service["environment"]["OMNISEQ_REDIS_PASSWORD"] == TEST_PASSWORD
    for service in services().values():
        for part in ("command", "entrypoint"):
            assert TEST_PASSWORD not in str(service.get(part) or ""), service
        assert TEST_PASSWORD not in str(service.get("healthcheck") or "")
        assert "requirepass" not in str(service.get("command") or "")
    entrypoint = (ROOT / "docker" / "redis-entrypoint.sh").read_text()
    assert (
        'exec redis-server "$conf"' in entrypoint
        and "appendonly yes" in entrypoint
        and "umask 077" in entrypoint
    )


def test_flink_rest_cannot_upload_or_cancel() -> None:
    props = services()["flink-jobmanager"]["environment"]["FLINK_PROPERTIES"]
    assert "web.submit.enable: false" in props and "web.cancel.enable: false" in props


def test_dockerfiles_default_to_public_images() -> None:
    for name, default in (
        ("omniseq.Dockerfile", "python:3.11-slim-bookworm"),
        ("redis.Dockerfile", "debian:bookworm-slim"),
    ):
        text = (ROOT / "docker" / name).read_text()
        assert f"ARG BASE_IMAGE={default}" in text, name
    text = (ROOT / "docker" / "omniseq.Dockerfile").read_text()
    runtime = text.rsplit("FROM ${BASE_IMAGE}", 1)[1]
    assert (
        "maven" not in runtime and "-jdk-" not in runtime and "uv sync" not in runtime
    )  # lean runtime stage


def test_local_runner_uses_the_same_names() -> None:
    """Every OMNISEQ_* name the infra code, the Makefile and docs/INFRA.md mention is a settings field."""
    texts = [p.read_text() for p in (ROOT / "omniseq" / "infra").glob("*.py")]
    texts += [(ROOT / "Makefile").read_text()]
    texts += [(ROOT / "docs" / "INFRA.md").read_text()] if (ROOT / "docs" / "INFRA.md").is_file() else []
    names = {n for t in texts for n in re.findall(r"OMNISEQ_([A-Z][A-Z0-9_]*[A-Z0-9])", t)}
    unknown = {
        n for n in names if n.lower() not in settings_fields() and f"OMNISEQ_{n}" not in documented_env()
    }
    assert not unknown, f"OMNISEQ_* names that are not settings fields: {sorted(unknown)}"
    app_env = services()["pipeline"]["environment"]
    assert app_env["OMNISEQ_FLINK_TARGET"] == "flink-jobmanager:8081"
    from omniseq.infra.flink import parse_target

    assert parse_target(app_env["OMNISEQ_FLINK_TARGET"]) == ("flink-jobmanager", 8081)
