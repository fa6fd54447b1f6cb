"""A second model family gets its own champion watcher: promoting it never touches the next-item champion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from models.registry import ModelRegistry, ModelVersion
from serving.metrics import Metrics
from serving.model_manager import BrokenModelError, ModelLoadError, ModelManager, UnknownModelError


@dataclass(frozen=True)
class _Bundle:
    version: str
    model_name: str


def _load(mv: ModelVersion) -> _Bundle:
    if mv.manifest.get("broken"):
        raise ModelLoadError(f"{mv.version} is broken")
    return _Bundle(mv.version, str(mv.manifest["model_name"]))


def _register(reg: ModelRegistry, tmp_path: Path, family: str, **extra: Any) -> str:
    art = tmp_path / f"art-{family}"
    art.mkdir(exist_ok=True)
    (art / "model.pt").write_bytes(b"x")
    (art / "vocab.json").write_text(json.dumps(["<pad>", "<basket>", "a"]))
    manifest = {
        "model_name": family,
        "family": family,
        "config": {},
        "input_spec": {},
        "feature_versions": {"sequence": "v1"},
        "train_data_range": {},
        "metrics": {},
        **extra,
    }
    return reg.register(art, manifest)


def test_family_manager_follows_only_its_champion(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    metrics = Metrics()
    basket = ModelManager(reg, metrics, 2, _load, family="basket")
    nxt = ModelManager(reg, metrics, 2, _load, family="next_item")
    v_basket = _register(reg, tmp_path, "basket")
    v_next = _register(reg, tmp_path, "next_item")
    reg.promote(v_basket)
    assert basket.refresh() and not nxt.refresh()
    assert basket.current is not None and basket.current.version == v_basket
    reg.promote(v_next)
    assert nxt.refresh() and not basket.refresh()
    assert basket.current.version == v_basket
    broken = _register(reg, tmp_path, "basket", broken=True)
    reg.promote(broken)
    assert not basket.refresh() and basket.current.version == v_basket  # the old model keeps serving
    failures = metrics.registry.get_sample_value(
        "omniseq_model_swaps_total", {"family": "basket", "result": "failure"}
    )
    assert failures == 1
    with pytest.raises(BrokenModelError):
        basket.resolve(broken)
    with pytest.raises(UnknownModelError):
        basket.resolve(v_next)  # another family's version is not this family's to serve
