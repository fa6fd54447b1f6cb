from __future__ import annotations

import pytest
import torch

from models.base import ModelConfig
from models.zoo import VARIANTS, build_model, store_mode_of

V = 40
L = 8
M = 3


def tiny_config(name: str, **kw: object) -> ModelConfig:
    base: dict[str, object] = {
        "name": name,
        "n_items": V,
        "hidden": 16,
        "blocks": 1,
        "max_len": L,
        "max_basket": M,
        "store_mode": store_mode_of(name),
        "d_attn": 8,
        "n_negatives": 10,
        "dropout": 0.0,
    }
    base.update(kw)
    return ModelConfig(**base)  # type: ignore[arg-type]


def tiny_batch(name: str, b: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    """``[B, L+1]`` training batch: left padding, online items, one basket token in hybrid modes."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(2, V, (b, L + 1), generator=g)
    tokens[:, :2] = 0
    baskets = torch.zeros(b, L + 1, M, dtype=torch.int64)
    if store_mode_of(name) in ("avg", "attn"):
        tokens[:, 4] = 1
        baskets[:, 4, :2] = torch.randint(2, V, (b, 2), generator=g)
    return {"tokens": tokens, "baskets": baskets, "online": tokens >= 2}


@pytest.fixture(params=sorted(VARIANTS))
def model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def model(model_name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(tiny_config(model_name))
