"""Register a trained LENS model as a ``next_basket`` family version (TorchScript via :func:`models.export.
export_torchscript`, vocabulary, user table and the manifest the serving loader reads)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.export import export_torchscript
from models.lens import LENS
from models.lens_data import LensVocab
from models.registry import ModelRegistry

FAMILY = "next_basket"
USERS_FILE = "users.json"
DEFAULT_SEQUENCE_VIEW = "user_hybrid_seq_v2"


def register_lens(
    registry: ModelRegistry,
    model: LENS,
    vocab: LensVocab,
    *,
    max_baskets: int,
    max_basket_size: int,
    interval: tuple[float, float],
    metrics: Mapping[str, Any] | None = None,
    train_data_range: Mapping[str, Any] | None = None,
    sequence_view: str = DEFAULT_SEQUENCE_VIEW,
) -> str:
    """Export and register; returns the version. ``interval`` = (low, high) residual quantiles in days that
    serving adds to the predicted days to the next purchase."""
    if len(vocab.items) != model.n_items:
        raise ValueError(f"vocabulary has {len(vocab.items)} items, the model {model.n_items}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        export_torchscript(model.cpu().eval(), d / "model.pt")
        (d / "vocab.json").write_text(json.dumps(vocab.items))
        (d / USERS_FILE).write_text(json.dumps(vocab.users))
        manifest = {
            "model_name": model.config.name,
            "family": FAMILY,
            "config": model.config.to_dict(),
            "input_spec": {"max_baskets": max_baskets, "max_basket_size": max_basket_size},
            "feature_versions": {"sequence": sequence_view},
            "train_data_range": dict(train_data_range or {}),
            "metrics": dict(metrics or {}),
            "time_interval_days": {"low": float(interval[0]), "high": float(interval[1])},
        }
        return registry.register(d, manifest)
