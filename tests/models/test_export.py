from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from models.base import ModelConfig, SequentialRecommender
from models.export import export_torchscript, load_torchscript, save_checkpoint
from models.inputs import InputSpec, build_vocab
from models.zoo import build_model, store_mode_of

from .conftest import M, V, tiny_batch, tiny_config


def test_export_parity_and_checkpoint(model_name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(model_name)).eval()
    if model_name == "popularity":
        model.train()
        model.loss(tiny_batch(model_name, seed=3))
        model.eval()
    path = tmp_path / "model.pt"
    export_torchscript(model, path)
    loaded = load_torchscript(path)
    for seed in (1, 2):  # fixed batches
        b = tiny_batch(model_name, b=5, seed=seed)
        tokens, baskets = b["tokens"][:, 1:], b["baskets"][:, 1:]
        with torch.inference_mode():
            eager, exported = model(tokens, baskets), loaded(tokens, baskets)
        assert exported.shape == (5, V)
        assert torch.allclose(eager, exported, atol=1e-5, equal_nan=True)
        # the two halves serving scores with (cache, retrieval); C2Rec's channel-wise attention weighs the user's
        # components per item, so its scores are no single dot product
        if model_name not in ("popularity", "c2rec"):
            with torch.inference_mode():
                halves = loaded.user_repr(tokens, baskets) @ loaded.item_embeddings().t()
            assert torch.allclose(halves[:, 2:], exported[:, 2:], atol=1e-5)
    vocab = build_vocab([f"i{k}" for k in range(V - 2)])
    spec = InputSpec(max_len=8, max_basket=M, store_mode=store_mode_of(model_name))  # type: ignore[arg-type]
    save_checkpoint(tmp_path / "ck.pt", model, vocab, spec)
    again, vocab2, spec2 = load_checkpoint(tmp_path / "ck.pt")
    assert vocab2 == vocab and spec2 == spec and again.config == model.config
    b = tiny_batch(model_name, b=2, seed=4)
    assert torch.allclose(
        again(b["tokens"][:, 1:], b["baskets"][:, 1:]),
        model(b["tokens"][:, 1:], b["baskets"][:, 1:]),
        equal_nan=True,
    )


def load_checkpoint(path: Path) -> tuple[SequentialRecommender, list[str], InputSpec]:
    """The training checkpoint read back (the product writes it for users; nothing in it reads it)."""
    raw: dict[str, Any] = torch.load(str(path), map_location="cpu", weights_only=True)
    model = build_model(ModelConfig.from_dict(raw["config"]))
    model.load_state_dict(raw["state_dict"])
    return model.eval(), list(raw["vocab"]), InputSpec.from_dict(raw["input_spec"])
