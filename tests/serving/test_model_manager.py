from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from models.inputs import encode_sequence
from models.registry import ModelRegistry
from serving.fallback import popularity_scores
from serving.metrics import Metrics
from serving.model_manager import (
    BrokenModelError,
    ModelLoadError,
    ModelManager,
    NoModelError,
    UnknownModelError,
    load_bundle,
)
from tests.serving.conftest import SEQ_VIEW, export_version, make_sequence


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


def _swaps(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "omniseq_model_swaps_total", {"family": "next_item", "result": result}
    )
    return value or 0.0


def test_load_bundle_reads_manifest_vocab_and_scores(registry: ModelRegistry, tmp_path: Path) -> None:
    version = export_version(registry, tmp_path)
    bundle = load_bundle(registry.get(version))
    assert bundle.version == version and bundle.model_name == "tiny"
    assert bundle.sequence_view == SEQ_VIEW and bundle.feature_versions == {"sequence": SEQ_VIEW}
    assert bundle.vocab[:2] == ["<pad>", "<basket>"] and bundle.index["item0"] == 2
    assert bundle.popularity_source == "uniform"
    # the (optimised) module gives the exported module's scores
    seq = make_sequence("u", ["item3", "item4"], basket=("item5", "item6"))
    tokens, baskets = encode_sequence(seq, bundle.index, bundle.spec)
    raw = torch.jit.load(str(registry.get(version).model_path))
    with torch.inference_mode():
        expected = raw(tokens[None], baskets[None])
        got = bundle.module(tokens[None], baskets[None])
    assert torch.allclose(expected[:, 2:], got[:, 2:], atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"corrupt": True}, "cannot load"),
        ({"bad": "shape"}, "shape"),
        ({"bad": "nan"}, "finite"),
    ],
)
def test_bad_artifacts_are_rejected(
    registry: ModelRegistry, tmp_path: Path, kwargs: dict, message: str
) -> None:
    version = export_version(registry, tmp_path, **kwargs)
    with pytest.raises(ModelLoadError, match=message):
        load_bundle(registry.get(version))


def test_bad_input_spec_is_rejected(registry: ModelRegistry, tmp_path: Path) -> None:
    version = export_version(registry, tmp_path, store_mode="sideways")
    with pytest.raises(ModelLoadError, match="input_spec"):
        load_bundle(registry.get(version))


def test_popularity_file(tmp_path: Path) -> None:
    index = {"a": 2, "b": 3, "c": 4}
    (tmp_path / "popularity.json").write_text(json.dumps({"a": 5, "c": 7, "not-in-vocab": 100}))
    scores, source = popularity_scores(tmp_path, index, 5)
    assert source == "popularity.json"
    assert scores.tolist() == [-math.inf, -math.inf, 5.0, 0.0, 7.0]
    (tmp_path / "popularity.json").write_text(json.dumps({"a": -1}))
    with pytest.raises(ValueError, match="'a' has popularity -1"):
        popularity_scores(tmp_path, index, 5)
    (tmp_path / "popularity.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected an object"):
        popularity_scores(tmp_path, index, 5)


def test_watcher_swaps_and_keeps_old_model_on_bad_artifact(registry: ModelRegistry, tmp_path: Path) -> None:
    metrics = Metrics()
    manager = ModelManager(registry, metrics)
    assert manager.refresh() is False and manager.current is None  # nothing promoted yet
    with pytest.raises(NoModelError, match="none promoted yet"):
        manager.resolve(None)

    v1 = export_version(registry, tmp_path, seed=1)
    registry.promote(v1)
    assert manager.refresh() is True
    first = manager.current
    assert first is not None and first.version == v1
    assert manager.refresh() is False  # unchanged champion.json: no reload

    corrupt = export_version(registry, tmp_path, corrupt=True)
    registry.promote(corrupt)
    assert manager.refresh() is False
    assert manager.current is first  # the old model keeps serving
    assert _swaps(metrics, "failure") == 1 and manager.last_error and "cannot load" in manager.last_error
    assert (
        manager.refresh() is False and _swaps(metrics, "failure") == 1
    )  # not retried until champion changes

    v2 = export_version(registry, tmp_path, seed=2)
    registry.promote(v2)
    assert manager.refresh() is True
    assert manager.current is not None and manager.current.version == v2
    assert _swaps(metrics, "success") == 2
    assert (
        metrics.registry.get_sample_value(
            "omniseq_model_info", {"family": "next_item", "version": v2, "model_name": "tiny"}
        )
        == 1
    )
    assert (
        metrics.registry.get_sample_value(
            "omniseq_model_info", {"family": "next_item", "version": v1, "model_name": "tiny"}
        )
        is None
    )


def test_resolve_by_version_and_name(registry: ModelRegistry, tmp_path: Path) -> None:
    manager = ModelManager(registry, Metrics(), cache_size=1)
    v1 = export_version(registry, tmp_path, name="alpha", seed=1)
    v2 = export_version(registry, tmp_path, name="beta", seed=2)
    v3 = export_version(registry, tmp_path, name="beta", seed=3)
    registry.promote(v1)
    manager.refresh()
    assert manager.resolve(None).version == v1
    assert manager.resolve(v2).version == v2
    assert manager.resolve("beta").version == v3  # a model name means its newest version
    assert manager.cached(v2) is None  # cache of one: evicted by "beta"
    with pytest.raises(UnknownModelError, match="unknown model 'gamma'"):
        manager.resolve("gamma")
    broken = export_version(registry, tmp_path, name="broken", corrupt=True)
    with pytest.raises(BrokenModelError, match="cannot be served"):
        manager.resolve(broken)
