"""Build a ``feast.FeatureStore`` for given :class:`~omniseq.settings.StackSettings` and register the definitions.

``feature_repo/feature_store.yaml`` stays the single Feast configuration; its ``${VAR}`` placeholders are filled
from the settings (not from a mutated ``os.environ``), so several stores with different settings can coexist in
one process (tests) and nothing depends on the current directory:

- ``OMNISEQ_FEAST_REDIS``: ``host:port[,password=...]`` from ``redis_host``/``redis_port``/``redis_password``;
- ``OMNISEQ_FEAST_REGISTRY``: the registry file, ``$OMNISEQ_FEAST_REGISTRY`` or ``<run_dir>/feast/registry.db``.

The offline folder is baked into the registry at apply time (absolute ``FileSource`` paths under
``settings.dir("offline")``): apply again after moving it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from feast import FeatureStore, RepoConfig

from feature_repo.definitions import build_definitions
from omniseq.settings import StackSettings

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
REGISTRY_ENV = "OMNISEQ_FEAST_REGISTRY"


def registry_path(settings: StackSettings) -> Path:
    env = os.environ.get(REGISTRY_ENV)
    path = Path(env) if env else Path(settings.run_dir) / "feast" / "registry.db"
    return path.absolute()


def feast_env(settings: StackSettings) -> dict[str, str]:
    """The values of the ``${...}`` placeholders of ``feature_store.yaml`` for these settings."""
    conn = f"{settings.redis_host}:{settings.redis_port}"
    if settings.redis_password:
        conn += f",password={settings.redis_password}"
    return {
        "OMNISEQ_FEAST_REDIS": conn,
        REGISTRY_ENV: str(registry_path(settings)),
        "OMNISEQ_OFFLINE_DIR": str(settings.dir("offline").absolute()),
    }


def render_config(text: str, values: Mapping[str, str]) -> dict[str, Any]:
    """Substitute ``${VAR}`` (values first, then the environment); a missing variable is an error."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        value = values.get(name, os.environ.get(name))
        if value is None:
            raise KeyError(f"feature_store.yaml needs ${{{name}}}: set it in the environment")
        return value

    data = yaml.safe_load(_VAR.sub(sub, text))
    if not isinstance(data, dict):
        raise ValueError("feature_store.yaml: expected a mapping at the top level")
    return data


def repo_config(settings: StackSettings) -> RepoConfig:
    repo = Path(settings.feature_repo).absolute()
    yaml_path = repo / "feature_store.yaml"
    if not yaml_path.is_file():
        raise FileNotFoundError(f"no feature_store.yaml in {repo} (OMNISEQ_FEATURE_REPO)")
    config = RepoConfig(**render_config(yaml_path.read_text(), feast_env(settings)))
    config.repo_path = repo
    return config


def feature_store(settings: StackSettings | None = None) -> FeatureStore:
    """A ``FeatureStore`` on the configured repo, Redis and registry (the registry folder is created)."""
    settings = settings or StackSettings()
    config = repo_config(settings)
    registry_path(settings).parent.mkdir(parents=True, exist_ok=True)
    return FeatureStore(repo_path=str(config.repo_path), config=config)


def apply(settings: StackSettings | None = None, store: FeatureStore | None = None) -> FeatureStore:
    """Register every entity, feature view and service (``feast apply``), removing ones no longer defined."""
    settings = settings or StackSettings()
    store = store or feature_store(settings)
    defs = build_definitions(settings.dir("offline"))
    for name in defs.feature_views:  # Feast validates that a FileSource folder exists
        (settings.dir("offline") / name).mkdir(parents=True, exist_ok=True)
    wanted_views = set(defs.feature_views)
    wanted_services = set(defs.services)
    stale: list[Any] = [v for v in store.list_feature_views() if v.name not in wanted_views]
    stale += [s for s in store.list_feature_services() if s.name not in wanted_services]
    store.apply(defs.objects(), objects_to_delete=stale, partial=False)
    return store
