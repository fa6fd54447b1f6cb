"""The Feast repo: configuration rendering, apply (programmatic and the repo file), views, versions, services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from feast.repo_operations import parse_repo

from feature_repo.definitions import build_definitions
from feature_repo.views import SERVICES, VIEWS, resolve_feature_refs
from omniseq.features.store import feast_env, render_config, repo_config
from omniseq.settings import StackSettings

REPO = Path(__file__).resolve().parents[2] / "feature_repo"


def test_config_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNISEQ_FEAST_REGISTRY", raising=False)
    s = StackSettings(
        run_dir=tmp_path, redis_host="redis", redis_port=7001, redis_password="pw", feature_repo=REPO
    )
    env = feast_env(s)
    assert env["OMNISEQ_FEAST_REDIS"] == "redis:7001,password=pw"
    assert env["OMNISEQ_FEAST_REGISTRY"] == str(tmp_path.absolute() / "feast" / "registry.db")
    cfg = repo_config(s)
    assert cfg.project == "omniseq" and cfg.entity_key_serialization_version == 3
    assert cfg.online_store.connection_string == "redis:7001,password=pw"
    assert cfg.offline_store.type == "file"
    monkeypatch.setenv("OMNISEQ_FEAST_REGISTRY", "/data/registry.db")  # docker-compose override
    assert feast_env(s)["OMNISEQ_FEAST_REGISTRY"] == "/data/registry.db"
    with pytest.raises(KeyError, match="OMNISEQ_NOT_SET"):
        render_config("a: ${OMNISEQ_NOT_SET}", {})
    with pytest.raises(FileNotFoundError, match="feature_store.yaml"):
        repo_config(s.model_copy(update={"feature_repo": tmp_path}))


def test_feast_cli_reads_the_same_objects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the ``feast`` CLI collects from ``feature_repo/`` (its own parser) equals :func:`build_definitions`."""
    monkeypatch.setenv("OMNISEQ_OFFLINE_DIR", str(tmp_path))
    monkeypatch.chdir(
        REPO
    )  # feast imports the repo's files as modules named relative to the working directory
    monkeypatch.syspath_prepend(str(REPO))
    contents = parse_repo(REPO)
    defs = build_definitions(tmp_path)
    assert sorted(fv.name for fv in contents.feature_views) == sorted(defs.feature_views)
    assert sorted(s.name for s in contents.feature_services) == sorted(defs.services)
    for fv in contents.feature_views:
        assert fv == defs.feature_views[fv.name]
    for svc in contents.feature_services:
        assert svc == defs.services[svc.name]
    assert {"item", "store", "user"} <= {e.name for e in contents.entities}  # feast adds its own "__dummy"


def test_feature_versions_resolve() -> None:
    refs = resolve_feature_refs({"sequence": "user_hybrid_seq_v2", "store": "user_instore_agg_v1"})
    assert refs[0] == "user_hybrid_seq_v2:tok_items" and refs[-1] == "user_instore_agg_v1:last_store_ts"
    with pytest.raises(KeyError, match="user_hybrid_seq_v9"):
        resolve_feature_refs({"sequence": "user_hybrid_seq_v9"})
    with pytest.raises(ValueError, match="empty"):
        resolve_feature_refs({})


@pytest.mark.integration
def test_apply_registers_everything(applied_store: Any, feature_settings: StackSettings) -> None:
    views = {fv.name: fv for fv in applied_store.list_feature_views()}
    assert set(views) == set(VIEWS)
    seq1, seq2 = views["user_hybrid_seq_v1"], views["user_hybrid_seq_v2"]
    assert seq1.tags["version"] == "v1" and seq2.tags["version"] == "v2"
    assert seq1.tags["window"] == "last 50 tokens" and seq2.tags["window"] == "last 90 tokens"
    assert {f.name for f in seq1.features} == {f.name for f in seq2.features}
    assert str(feature_settings.dir("offline").absolute() / "user_hybrid_seq_v2") == seq2.batch_source.path
    assert [str(f.dtype) for f in seq1.features][:2] == ["Array(String)", "Array(Int64)"]
    services = {s.name: s for s in applied_store.list_feature_services()}
    assert set(services) == set(SERVICES)
    assert {p.name for p in services["store_encoder"].feature_view_projections} == {
        "user_hybrid_seq_v1",
        "user_instore_agg_v1",
    }
    assert {e.name for e in applied_store.list_entities()} >= {"user", "item", "store"}
