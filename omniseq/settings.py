"""Typed, env-overridable settings shared by every part of the stack.

Every setting is read from an ``OMNISEQ_<NAME>`` environment variable (e.g. ``OMNISEQ_REDIS_PORT=6380``); the
same names are used by the local runner (``omniseq up``), the integration tests and ``docker-compose.yml``.
Unknown keys are rejected. Parts of the product subclass :class:`StackSettings` (or compose it) for their own knobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "OMNISEQ_"


class OmniseqSettings(BaseSettings):
    """Base class: ``OMNISEQ_`` env prefix, unknown keys rejected, optional YAML file via :meth:`from_yaml`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> OmniseqSettings:
        """Load a YAML file (unknown keys raise); environment variables still override file values."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        data.update(overrides)
        return cls(**data)


class StackSettings(OmniseqSettings):
    """Where the stack's processes listen and where its data lives."""

    # folders
    run_dir: Path = Path("run")  # OMNISEQ_RUN_DIR: process data, logs, pid files
    cache_dir: Path = Path(".cache")  # OMNISEQ_CACHE_DIR: resolved jars, downloaded artefacts
    landing_dir: Path | None = None  # in-store Parquet batch drops (default: <run_dir>/landing)
    offline_dir: Path | None = None  # Parquet offline feature store (default: <run_dir>/offline)
    quarantine_dir: Path | None = None  # rejected batch files / feature rows (default: <run_dir>/quarantine)
    registry_dir: Path | None = None  # model registry (default: <run_dir>/models)
    feature_repo: Path = Path("feature_repo")

    # Kafka
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    clickstream_topic: str = "clickstream"
    dlq_topic: str = "clickstream-dlq"
    kafka_partitions: int = 2

    # Redis
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str | None = None
    redis_persistence: bool = False

    # Flink: "local" mini-cluster, or "host:port" of a session cluster's REST endpoint
    flink_target: str = "local"
    flink_parallelism: int = 2

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    @model_validator(mode="after")
    def _default_dirs(self) -> StackSettings:
        for name in ("landing", "offline", "quarantine"):
            if getattr(self, f"{name}_dir") is None:
                object.__setattr__(self, f"{name}_dir", self.run_dir / name)
        if self.registry_dir is None:
            object.__setattr__(self, "registry_dir", self.run_dir / "models")
        return self

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        auth = f":{self.redis_password}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/0"

    def dir(self, name: str) -> Path:
        """A configured folder (``landing``, ``offline``, ``quarantine``, ``registry``), never None."""
        value = getattr(self, f"{name}_dir")
        assert value is not None
        return Path(value)
