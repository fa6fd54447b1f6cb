from __future__ import annotations

import pytest
import torch

from models.inputs import (
    BASKET,
    InputSpec,
    build_vocab,
    collate,
    encode_sequence,
    units_from_behaviours,
    units_from_sequence,
    vocab_index,
)
from omniseq.features.sequence import HybridSequence
from omniseq.schema import OnlineEvent, StoreTransaction

T0 = 1_700_000_000_000


def _history() -> list[OnlineEvent | StoreTransaction]:
    return [
        OnlineEvent("e1", "u", "a", "view", T0, "s"),
        StoreTransaction("t1", "u", ("b", "c", "zzz"), T0 + 1, "st"),
        OnlineEvent("e2", "u", "unknown", "click", T0 + 2, "s"),
        OnlineEvent("e3", "u", "c", "purchase", T0 + 3, "s"),
    ]


@pytest.fixture
def vocab() -> dict[str, int]:
    return vocab_index(build_vocab(["a", "b", "c"]))


def test_vocab_has_specials_first() -> None:
    v = build_vocab(["x", "y", "x"])
    assert v == ["<pad>", "<basket>", "x", "y"]
    assert vocab_index(v) == {"x": 2, "y": 3}
    with pytest.raises(ValueError, match="special"):
        build_vocab(["<pad>"])


@pytest.mark.parametrize(
    ("mode", "tokens", "basket_row"),
    [
        ("none", [0, 0, 0, 2, 4], None),
        ("flatten", [0, 2, 3, 4, 4], None),
        ("avg", [0, 0, 2, BASKET, 4], [3, 4]),
        ("attn", [0, 0, 2, BASKET, 4], [3, 4]),
    ],
)
def test_encode_sequence_modes(
    vocab: dict[str, int], mode: str, tokens: list[int], basket_row: list[int] | None
) -> None:
    spec = InputSpec(max_len=5, max_basket=3, store_mode=mode)  # type: ignore[arg-type]
    seq = HybridSequence.from_behaviours("u", _history(), max_len=10)
    tok, bsk = encode_sequence(seq, vocab, spec)
    assert tok.dtype == torch.int64 and bsk.shape == (5, 3)
    assert tok.tolist() == tokens
    if basket_row is None:
        assert int(bsk.abs().sum()) == 0
    else:
        assert bsk[3].tolist() == [*basket_row, 0]
        assert int(bsk.sum()) == sum(basket_row)


def test_training_and_serving_paths_agree(vocab: dict[str, int]) -> None:
    hist = _history()
    seq = HybridSequence.from_behaviours("u", hist, max_len=10)
    assert units_from_sequence(seq, vocab) == units_from_behaviours(hist, vocab)


def test_truncation_and_collate(vocab: dict[str, int]) -> None:
    spec = InputSpec(max_len=2, max_basket=1, store_mode="attn")
    seq = HybridSequence.from_behaviours("u", _history(), max_len=10)
    tok, bsk = encode_sequence(seq, vocab, spec)
    assert tok.tolist() == [BASKET, 4] and bsk[:, 0].tolist() == [3, 0]
    tokens, baskets = collate([(tok, bsk), (tok, bsk)])
    assert tokens.shape == (2, 2) and baskets.shape == (2, 2, 1)


@pytest.mark.parametrize("bad", [{"max_len": 0}, {"max_basket": -1}, {"store_mode": "mean"}])
def test_input_spec_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="InputSpec"):
        InputSpec(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown keys"):
        InputSpec.from_dict({"max_len": 3, "color": 1})
