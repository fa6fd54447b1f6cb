from __future__ import annotations

import torch

from models.data import bucketed_batches, sequence_lengths, trim_leading_padding


def test_sequence_lengths_count_real_tokens() -> None:
    tokens = torch.tensor([[0, 0, 5, 6], [0, 7, 8, 9], [0, 0, 0, 0]])
    assert sequence_lengths(tokens).tolist() == [2, 3, 0]


def test_trim_keeps_the_columns_some_row_uses() -> None:
    batch = {
        "tokens": torch.tensor([[0, 0, 5, 6], [0, 7, 8, 9]]),
        "online": torch.tensor([[False, False, True, True], [False, True, True, True]]),
    }
    out = trim_leading_padding(batch)
    assert out["tokens"].tolist() == [[0, 5, 6], [7, 8, 9]]
    assert out["online"].shape == (2, 3)


def test_trim_keeps_a_minimum_width() -> None:
    batch = {"tokens": torch.tensor([[0, 0, 0, 6], [0, 0, 0, 0]])}
    assert trim_leading_padding(batch, keep=2)["tokens"].tolist() == [[0, 6], [0, 0]]
    assert trim_leading_padding({"tokens": torch.zeros(2, 4, dtype=torch.int64)})["tokens"].shape == (2, 2)


def test_bucketed_batches_cover_every_row_once_with_similar_lengths() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 51, (1000,), generator=g)
    batches = bucketed_batches(lengths, 16, torch.Generator().manual_seed(1), pool=10)
    rows = torch.cat(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    assert all(len(b) <= 16 for b in batches)
    spread = torch.tensor([float(lengths[b].max() - lengths[b].min()) for b in batches]).mean()
    assert spread < 10  # a plain shuffle gives about 45 on lengths uniform in 1..50


def test_bucketed_batches_are_shuffled_by_seed() -> None:
    lengths = torch.arange(100)
    a = bucketed_batches(lengths, 10, torch.Generator().manual_seed(0))
    b = bucketed_batches(lengths, 10, torch.Generator().manual_seed(0))
    c = bucketed_batches(lengths, 10, torch.Generator().manual_seed(1))
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    assert [x.tolist() for x in a] != [x.tolist() for x in c]
