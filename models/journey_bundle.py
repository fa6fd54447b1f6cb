"""Registry artifacts of the ``journeys`` model family, and loading them back.

Files: ``model.pt`` / ``model_<store>.pt`` (TorchScript generators via :func:`models.export.export_torchscript`;
``model.pt`` is the first store's), ``vocab.json`` (the tokenizer), ``journeys.json`` (per store: the prompt pool
and the item catalogue). The manifest names the stores, the model config and the training figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.export import export_torchscript, load_torchscript
from models.journey_gpt import JourneyModelConfig, JourneyNet
from models.journey_tokens import JourneyTokenizer, tokenizer_from_dict
from models.registry import MODEL_FILE, VOCAB_FILE, ModelRegistry
from omniseq.data.sim.store_layout import StoreLayout
from omniseq.data.sim.store_plans import store

FAMILY = "journeys"
EXTRA_FILE = "journeys.json"


def model_file(store_id: str, first: bool) -> str:
    return MODEL_FILE if first else f"model_{store_id}.pt"


def write_artifacts(
    out: Path,
    models: Mapping[str, JourneyNet],
    tok: JourneyTokenizer,
    prompts: Mapping[str, Sequence[Sequence[str]]],
    catalog: Mapping[str, Sequence[str]],
) -> dict[str, str]:
    """Export every store's generator and write the side files into ``out``; returns ``{store: file}``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for k, (sid, model) in enumerate(models.items()):
        files[sid] = model_file(sid, k == 0)
        export_torchscript(model.cpu().eval(), out / files[sid])
    (out / VOCAB_FILE).write_text(json.dumps(tok.to_dict()))
    side = {
        "stores": {sid: {"prompts": [list(p) for p in prompts[sid]]} for sid in models},
        "catalog": catalog,
    }
    (out / EXTRA_FILE).write_text(json.dumps(side))
    return files


def register(
    registry: ModelRegistry,
    out: Path,
    files: Mapping[str, str],
    cfg: JourneyModelConfig,
    metrics: Mapping[str, Any],
) -> str:
    manifest = {
        "model_name": f"journey-{cfg.arch}",
        "family": FAMILY,
        "config": cfg.to_dict(),
        "input_spec": {"stores": dict(files)},
        "feature_versions": {},
        "train_data_range": {},
        "metrics": dict(metrics),
    }
    return registry.register(out, manifest)


@dataclass(frozen=True, eq=False)
class JourneyBundle:
    """One loaded version: per-store generators, layouts, prompt pools; the shared tokenizer and catalogue."""

    version: str
    model_name: str
    modules: dict[str, Any]
    layouts: dict[str, StoreLayout]
    prompts: dict[str, list[list[str]]]
    tokenizer: JourneyTokenizer
    catalog: dict[str, list[str]]


def load_bundle(path: Path, version: str, model_name: str, stores: Mapping[str, str]) -> JourneyBundle:
    """Load a version folder (raises ``ValueError``/``OSError``/``RuntimeError`` on anything broken)."""
    tok = tokenizer_from_dict(json.loads((path / VOCAB_FILE).read_text()))
    side = json.loads((path / EXTRA_FILE).read_text())
    modules = {sid: load_torchscript(path / name) for sid, name in stores.items()}
    return JourneyBundle(
        version,
        model_name,
        modules,
        {sid: store(sid) for sid in stores},
        {sid: side["stores"][sid]["prompts"] for sid in stores},
        tok,
        {str(k): list(v) for k, v in side["catalog"].items()},
    )
