"""A tiny registered ``journeys`` model family version (untrained generators, real prompts and catalogue)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.journey_bundle import register, write_artifacts
from models.journey_gpt import JourneyModelConfig, build_journey_model
from models.journey_tokens import train_tokenizer
from models.registry import ModelRegistry
from omniseq.data.journey_encoding import BUY
from omniseq.data.sim.store_layout import encode_cell
from omniseq.data.sim.store_plans import store


def register_journeys(root: Path, tmp: Path) -> str:
    """A tiny (untrained) generator per store with real prompts and a catalogue, registered and promoted."""
    torch.manual_seed(0)
    prompts, words = {}, []
    for sid in ("A", "B"):
        lay = store(sid)
        face = lay.zones[0].faces[1]
        prompts[sid] = [[encode_cell((face[0], face[1])), BUY] + [encode_cell(lay.entrance)] * 6]
        words += prompts[sid]
    tok = train_tokenizer("code", words)
    cfg = JourneyModelConfig("gpt", tok.vocab_size, d=16, layers=1, heads=2, max_len=24)
    models = {"A": build_journey_model(cfg), "B": build_journey_model(cfg)}
    cat = {z.name: [f"{z.name}-1"] for z in store("A").zones}
    files = write_artifacts(tmp / "art", models, tok, prompts, cat)
    registry = ModelRegistry(root)
    version = register(registry, tmp / "art", files, cfg, {"note": "test"})
    registry.promote(version)
    return version
