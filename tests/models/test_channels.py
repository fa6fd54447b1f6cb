"""Per-channel leave-last-out and per-channel metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from models import channels as ch
from models.base import ModelConfig, SequentialRecommender, mask_specials
from models.data import SequenceData
from models.evaluate import evaluate
from models.inputs import InputSpec

VOCAB = ["<pad>", "<basket>", *(f"i{i}" for i in range(2, 13))]
ONLINE_T, STORE_T = True, False
U1 = [(2, (), True), (1, (5, 6), False), (3, (), True), (1, (7,), False), (4, (), True), (1, (8, 9), False),
      (10, (), True), (11, (), True)]  # fmt: skip
U2 = [(2, (), True), (4, (), True), (3, (), True)]  # online only
U3 = [(1, (9,), False), (1, (6,), False)]  # too few baskets to be evaluated
SPEC = InputSpec(max_len=8, max_basket=2, store_mode="attn")


@pytest.fixture
def sp() -> ch.ChannelSplit:
    return ch.split(SequenceData(VOCAB, ["u1", "u2", "u3"], [list(U1), list(U2), list(U3)]))


class FixedChannels(SequentialRecommender):
    """Scores every item ``i`` as ``i`` in the store channel and ``-i`` online, whatever the history."""

    def __init__(self) -> None:
        super().__init__(ModelConfig(name="fixed", n_items=len(VOCAB)))

    def channel_scores(self, tokens: Tensor, baskets: Tensor, channel: int) -> Tensor:
        s = torch.arange(len(VOCAB), dtype=torch.float32) * (1.0 if channel == 0 else -1.0)
        return mask_specials(s.expand(tokens.shape[0], -1).clone())

    def channel_candidates(self, tokens: Tensor, baskets: Tensor, candidates: Tensor, channel: int) -> Tensor:
        return self.channel_scores(tokens, baskets, channel).gather(1, candidates)


def test_holdouts_per_channel(sp: ch.ChannelSplit) -> None:
    assert sp.holdouts == [{"online": (6, 7), "store": (3, 5)}, {"online": (1, 2)}, {}]
    assert sp.training_units()[0] == [U1[0], U1[1], U1[2], U1[4]]
    assert sp.training_units()[1] == [U2[0]]
    assert sp.training_items() == {2, 3, 4, 5, 6, 9}


def test_eval_sets_target_the_channel_and_flag_cold_items(sp: ch.ChannelSplit) -> None:
    store, cold_s = ch.eval_set(sp, "attn", "store", "test", SPEC)
    assert store.targets.tolist() == [8] and cold_s.tolist() == [True]  # a basket's first item
    assert store.tokens[0].tolist() == [0, 0, 0, 2, 1, 3, 1, 4]
    assert store.baskets[0, 4].tolist() == [5, 6] and store.baskets[0, 6].tolist() == [7, 0]
    assert store.seen_items.tolist() == [2, 3, 4, 5, 6, 7]
    online, cold_o = ch.eval_set(sp, "online", "online", "test", SPEC)
    assert online.targets.tolist() == [11, 3] and cold_o.tolist() == [True, False]
    assert online.tokens[1].tolist()[-2:] == [2, 4]
    valid, _ = ch.eval_set(sp, "store", "store", "valid", SPEC)
    assert valid.targets.tolist() == [7] and valid.tokens[0].tolist()[-2:] == [5, 6]
    with pytest.raises(ValueError, match="valid' or 'test"):
        ch.eval_set(sp, "attn", "store", "train", SPEC)


def test_training_labels_follow_the_channel(sp: ch.ChannelSplit) -> None:
    store = ch.training_tensors(sp, "hybrid", "store", SPEC)
    row = store["tokens"][0].tolist()[-5:]
    assert row == [2, 5, 6, 3, 4] and store["online"][0].tolist()[-5:] == [False, True, True, False, False]
    assert store["tokens"].shape[0] == 2  # u1 and u3 (u2 has no store label)
    both = ch.training_tensors(sp, "attn", "both", SPEC)
    assert both["tokens"].shape[0] == 2  # u1 and u3 (u2 has a single training unit)
    assert both["online"][0].tolist()[-4:] == [True, False, True, True]


def test_per_channel_metrics_match_hand_computation(sp: ch.ChannelSplit) -> None:
    model = FixedChannels()
    store, _ = ch.eval_set(sp, "attn", "store", "test", SPEC)
    m = evaluate(ch.ChannelView(model, "store"), store, protocols=("full",))
    # store scores = item index: target 8 is beaten by items 9..12 -> rank 4
    assert m["full_hr@10"] == 1.0 and m["full_ndcg@10"] == pytest.approx(1 / math.log2(6))
    online, cold = ch.eval_set(sp, "attn", "online", "test", SPEC)
    m = evaluate(ch.ChannelView(model, "online"), online, protocols=("full",))
    # online scores = -index: target 11 is beaten by items 2..10 (rank 9), target 3 by item 2 (rank 1)
    assert m["full_hr@10"] == 1.0
    assert m["full_ndcg@10"] == pytest.approx((1 / math.log2(11) + 1 / math.log2(3)) / 2)
    m_cold = evaluate(ch.ChannelView(model, "online"), ch.select(online, cold), protocols=("full",))
    assert m_cold["users"] == 1 and m_cold["full_ndcg@10"] == pytest.approx(1 / math.log2(11))
    m_warm = evaluate(ch.ChannelView(model, "online"), ch.select(online, ~cold), protocols=("full",), ks=(1,))
    assert m_warm["full_hr@1"] == 0.0 and m_warm["full_mrr"] == pytest.approx(0.5)


def test_select_keeps_each_users_seen_items(sp: ch.ChannelSplit) -> None:
    online, _ = ch.eval_set(sp, "attn", "online", "test", SPEC)
    only_u2 = ch.select(online, torch.tensor([False, True]))
    assert only_u2.targets.tolist() == [3]
    assert only_u2.seen_items.tolist() == [2, 4] and only_u2.seen_offsets.tolist() == [0, 2]
