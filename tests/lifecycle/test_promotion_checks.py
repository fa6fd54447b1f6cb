"""A version that does not load is never made champion: ``omniseq promote`` and scheduled retraining load and
smoke-check it (as the API would) before flipping the pointer; ``omniseq models list`` survives broken versions;
the demo recognises a champion trained on other data."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli.commands import models as models_cmd
from cli.commands import promote as promote_cmd
from lifecycle.demo import data_source_of
from lifecycle.promotion import decide
from lifecycle.retrain import _smoke_checked
from models.registry import MANIFEST_FILE, ModelRegistry
from tests.serving.conftest import export_version


def _run(module: object, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return int(module.run(parser.parse_args(argv)))  # type: ignore[attr-defined]


def test_promote_refuses_a_version_that_does_not_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    good = export_version(registry, tmp_path, name="good")
    assert _run(promote_cmd, [good, "--registry", str(registry.root)]) == 0
    for kwargs in ({"corrupt": True}, {"bad": "nan"}):
        bad = export_version(registry, tmp_path, name="bad", **kwargs)  # type: ignore[arg-type]
        assert _run(promote_cmd, [bad, "--registry", str(registry.root)]) == 2
        assert "the champion is unchanged" in capsys.readouterr().out
        champion = registry.champion()
        assert champion is not None and champion.version == good


def test_retrain_keeps_the_champion_when_the_challenger_does_not_load(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    bad = export_version(registry, tmp_path, name="bad", bad="shape")
    decision = decide(bad, {"ndcg@10": 0.5}, None, None)
    assert decision.promote
    checked = _smoke_checked(decision, registry.get(bad))
    assert not checked.promote and "fails the serving check" in checked.reason and "shape" in checked.reason
    good = export_version(registry, tmp_path, name="good")
    assert _smoke_checked(decide(good, {"ndcg@10": 0.5}, None, None), registry.get(good)).promote


def test_models_list_reports_broken_versions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path, name="fine"))
    broken = export_version(registry, tmp_path, name="fine")
    (registry.versions_dir / broken / MANIFEST_FILE).write_text("not json at all")
    assert _run(models_cmd, ["list", "--registry", str(registry.root)]) == 0
    out = capsys.readouterr().out
    assert "skipped broken version" in out and broken in out.replace("\n", "")


def test_data_source_of_manifest() -> None:
    assert data_source_of({"train_data_range": {"data_source": "hm"}}) == "hm"
    assert data_source_of({"train_data_range": {"dataset": "offline-store"}}) is None
    assert data_source_of({}) is None
