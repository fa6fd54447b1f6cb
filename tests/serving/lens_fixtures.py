"""A tiny LENS model registered as the ``next_basket`` champion (for tests that start the whole app)."""

from __future__ import annotations

import torch

from models.lens import LENS, LensConfig
from models.lens_data import LensVocab
from models.lens_registry import register_lens
from models.registry import ModelRegistry

ITEMS = [f"p{i}" for i in range(30)]


def tiny_lens(seed: int = 0) -> tuple[LENS, LensVocab]:
    torch.manual_seed(seed)
    vocab = LensVocab.build([ITEMS], ["alice", "bob"])
    config = LensConfig(
        name="lens_tiny", n_items=len(vocab.items), n_users=len(vocab.users), d_item=8, d_user=4,
        sce_hidden=8, fbe_hidden=8, nsd_hidden=(16,), max_items=6,
    )  # fmt: skip
    model = LENS(config).eval()
    with torch.no_grad():
        model.nsd.out.bias[1] = -3.0  # end late: baskets of several items
    return model, vocab


def promote_tiny_lens(registry: ModelRegistry, interval: tuple[float, float] = (-2.0, 3.0)) -> str:
    model, vocab = tiny_lens()
    version = register_lens(registry, model, vocab, max_baskets=10, max_basket_size=20, interval=interval)
    registry.promote(version)
    return version
