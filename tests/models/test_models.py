from __future__ import annotations

import pytest
import torch

from models.base import ModelConfig
from models.data import trim_leading_padding
from models.inputs import BASKET
from models.layers import AttnStoreEncoder, AvgStoreEncoder
from models.zoo import build_model

from .conftest import V, tiny_batch, tiny_config


def test_training_steps_lower_the_loss(model_name: str, model: torch.nn.Module) -> None:
    batch = tiny_batch(model_name)
    if model_name == "popularity":
        model.train()
        first = float(model.loss(batch))  # counts this batch
        assert float(model.loss(batch)) < first
        return
    torch.manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(8):
        torch.manual_seed(2)  # same negatives / masks each step: the loss must go down on a fixed problem
        loss = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_score_shapes_and_specials(model_name: str, model: torch.nn.Module) -> None:
    batch = tiny_batch(model_name)
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    model.eval()
    s = model.score_all(tokens, baskets)
    assert s.shape == (6, V)
    assert torch.isinf(s[:, :2]).all() and (s[:, :2] < 0).all()
    assert torch.isfinite(s[:, 2:]).all()
    top = s.topk(V - 2, dim=1).indices  # every real item ranks above the specials
    assert not (top < 2).any()
    cands = torch.tensor([[BASKET, 0, 5, 7]] * 6)
    c = model.score(tokens, baskets, cands)
    assert c.shape == (6, 4) and torch.isinf(c[:, :2]).all()
    assert torch.allclose(c[:, 2:], s[:, [5, 7]], atol=1e-5)


def test_basket_token_never_a_label_or_negative() -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config("sasrec_attne", loss="full"))
    batch = tiny_batch("sasrec_attne")
    batch["online"] = batch["online"] | (batch["tokens"] == BASKET)  # even if a caller marks it online
    loss = model.loss(batch)
    assert torch.isfinite(loss)  # a basket label would hit the -inf logit and give inf


@pytest.mark.parametrize("encoder", [AttnStoreEncoder(16, 8), AvgStoreEncoder()])
def test_basket_embedding_is_permutation_invariant(encoder: torch.nn.Module) -> None:
    torch.manual_seed(0)
    m = torch.randn(5, 4, 16)
    mask = torch.tensor(
        [
            [True] * 4,
            [True, True, True, False],
            [True, False, False, False],
            [True] * 4,
            [True, True, False, False],
        ]
    )
    out = encoder(m, mask)
    for _ in range(3):
        perm = torch.randperm(4)
        assert torch.allclose(encoder(m[:, perm], mask[:, perm]), out, atol=1e-5)
    padded = m.clone()
    padded[~mask] = 99.0  # padded rows never matter
    assert torch.allclose(encoder(padded, mask), out, atol=1e-5)


def test_attne_model_invariant_to_basket_order() -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config("sasrec_attne")).eval()
    batch = tiny_batch("sasrec_attne")
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    flipped = baskets.clone()
    flipped[:, 3, :2] = baskets[:, 3, :2].flip(-1)
    assert torch.allclose(
        model.score_all(tokens, baskets)[:, 2:], model.score_all(tokens, flipped)[:, 2:], atol=1e-5
    )


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        ModelConfig.from_dict({"name": "sasrec", "n_items": 10, "colour": 1})
    with pytest.raises(ValueError, match="store_mode"):
        build_model(ModelConfig(name="sasrec", n_items=10, store_mode="attn"))
    with pytest.raises(ValueError, match="unknown model"):
        build_model(ModelConfig(name="gru4rec", n_items=10))


def test_trimming_leading_padding_changes_no_score(model_name: str, model: torch.nn.Module) -> None:
    """Positions count from the right, so dropping all-padding leading columns is exact (it only saves work)."""
    batch = tiny_batch(model_name)
    tokens, baskets = batch["tokens"][:, 1:], batch["baskets"][:, 1:]
    trimmed = trim_leading_padding({"tokens": tokens, "baskets": baskets}, keep=1)
    assert trimmed["tokens"].shape[1] == tokens.shape[1] - 1  # one all-padding column left in tiny_batch
    model.eval()
    full, short = model.score_all(tokens, baskets), model.score_all(trimmed["tokens"], trimmed["baskets"])
    assert torch.allclose(full, short, atol=1e-5)


@pytest.mark.parametrize("name", ["sasrec", "sasrec_attne", "sasrec_wstore"])
def test_trimming_leading_padding_changes_no_loss(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(name, loss="full")).train()
    batch = tiny_batch(name)
    trimmed = trim_leading_padding(batch)
    assert trimmed["tokens"].shape[1] < batch["tokens"].shape[1]
    assert torch.allclose(model.loss(batch), model.loss(trimmed), atol=1e-5)


def test_longer_input_than_max_len_is_an_error() -> None:
    model = build_model(tiny_config("sasrec")).eval()
    tokens = torch.randint(2, V, (2, 9))
    with pytest.raises(Exception, match="max_len"):
        model.score_all(tokens, torch.zeros(2, 9, 3, dtype=torch.int64))
