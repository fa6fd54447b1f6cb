"""Per-channel leave-last-out for cross-channel recommendation (C2Rec and its baselines).

A user's units (:mod:`models.inputs`) belong to the *store* channel (an in-store basket) or the *online* channel (an
online event). For each channel with at least :data:`MIN_PER_CHANNEL` units, the last unit of that channel is the
test target and the one before it the validation target; the target item of a basket is its first item. Inputs are
all units before the target, of both channels. Training uses every unit except the held-out ones (so no held-out
item is ever an input or a label in training). A test target is *cold* when its item occurs in no training unit.

Each model reads the units in its own *view*: ``hybrid`` (baskets flattened into item tokens, SASRec w/store),
``online`` (online units only), ``store`` (baskets only, flattened), ``attn`` (one token per basket: attnE, C2Rec).
Its training labels are the tokens of one channel (``label_channel``), carried in the batch's ``online`` mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import torch
from torch import Tensor

from models.base import ModelConfig, SequentialRecommender
from models.data import EvalSet, SequenceData
from models.inputs import BASKET, InputSpec, Unit, expand, layout_many

CHANNELS: Final[tuple[str, str]] = ("store", "online")
VIEWS: Final[dict[str, str]] = {"hybrid": "flatten", "online": "none", "store": "flatten", "attn": "attn"}
MIN_PER_CHANNEL: Final[int] = 3
View = Literal["hybrid", "online", "store", "attn"]


def channel_of(unit: Unit) -> str:
    return "store" if unit[0] == BASKET else "online"


def target_item(unit: Unit) -> int:
    return unit[1][0] if unit[0] == BASKET else unit[0]


@dataclass
class ChannelSplit:
    """The data and, per user, each channel's ``(valid, test)`` unit positions (channels with too few units absent)."""

    data: SequenceData
    holdouts: list[dict[str, tuple[int, int]]]

    def training_units(self) -> list[list[Unit]]:
        out = []
        for units, held in zip(self.data.units, self.holdouts, strict=True):
            drop = {i for pair in held.values() for i in pair}
            out.append([u for i, u in enumerate(units) if i not in drop])
        return out

    def training_items(self) -> set[int]:
        return {i for units in self.training_units() for u in units for i in (u[1] or (u[0],))}


def split(data: SequenceData) -> ChannelSplit:
    holdouts = []
    for units in data.units:
        held: dict[str, tuple[int, int]] = {}
        for c in CHANNELS:
            pos = [i for i, u in enumerate(units) if channel_of(u) == c]
            if len(pos) >= MIN_PER_CHANNEL:
                held[c] = (pos[-2], pos[-1])
        holdouts.append(held)
    return ChannelSplit(data, holdouts)


def view_tokens(units: Sequence[Unit], view: View, max_basket: int) -> list[Unit]:
    """Units as the tokens of ``view``; in ``hybrid``/``store`` the flattened basket items are not online."""
    if view == "store":
        units = [u for u in units if u[0] == BASKET]
    return expand(units, InputSpec(max_len=1, max_basket=max_basket, store_mode=VIEWS[view]))  # type: ignore[arg-type]


def _labels(tokens: Sequence[Unit], channel: str) -> list[bool]:
    if channel in ("online", "both"):
        return [u[2] for u in tokens]
    return [not u[2] for u in tokens]  # store: flattened basket items (or basket tokens in the attn view)


def training_tensors(sp: ChannelSplit, view: View, label_channel: str, spec: InputSpec) -> dict[str, Tensor]:
    """``tokens``/``baskets``/``online [N, L+1]`` of every user's training units in ``view``; ``online`` marks the
    tokens of ``label_channel`` (the labels a next-item model learns). ``both`` (C2Rec, which takes its store labels
    from the basket tokens) keeps the true online flags and every user with two tokens or more."""
    rows: list[list[Unit]] = []
    for units in sp.training_units():
        tokens = view_tokens(units, view, spec.max_basket)
        labels = _labels(tokens, label_channel)
        if len(tokens) >= 2 and (label_channel == "both" or any(labels[1:])):
            rows.append([(i, b, lab) for (i, b, _), lab in zip(tokens, labels, strict=True)])
    if not rows:
        raise ValueError(f"no user has {label_channel} behaviour to train on in view {view!r}")
    t, b, o = layout_many(rows, spec.max_len + 1, spec.max_basket)
    return {"tokens": t, "baskets": b, "online": o}


def eval_set(
    sp: ChannelSplit, view: View, channel: str, which: str, spec: InputSpec
) -> tuple[EvalSet, Tensor]:
    """The ``which`` (``valid``/``test``) targets of ``channel`` with inputs in ``view``, and ``cold [N]``
    (the target item is in no training unit)."""
    if which not in ("valid", "test"):
        raise ValueError(f"which must be 'valid' or 'test', got {which!r}")
    known = sp.training_items()
    rows: list[list[Unit]] = []
    targets: list[int] = []
    cold: list[bool] = []
    seen: list[int] = []
    offsets = [0]
    for units, held in zip(sp.data.units, sp.holdouts, strict=True):
        if channel not in held:
            continue
        cut = held[channel][0 if which == "valid" else 1]
        rows.append(view_tokens(units[:cut], view, spec.max_basket))
        target = target_item(units[cut])
        targets.append(target)
        cold.append(target not in known)
        seen.extend(sorted({i for u in units[:cut] for i in (u[1] or (u[0],))}))
        offsets.append(len(seen))
    if not targets:
        raise ValueError(f"no user has {MIN_PER_CHANNEL} {channel} behaviours")
    t, b, _ = layout_many(rows, spec.max_len, spec.max_basket)
    ev = EvalSet(
        which, t, b, torch.tensor(targets), torch.tensor(seen, dtype=torch.int64), torch.tensor(offsets)
    )
    return ev, torch.tensor(cold, dtype=torch.bool)


def select(ev: EvalSet, mask: Tensor) -> EvalSet:
    """The users of ``ev`` where ``mask [N]`` is True (seen items kept per user)."""
    idx = torch.nonzero(mask).flatten()
    counts = ev.seen_offsets.diff()[idx]
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)])
    seen = [ev.seen_items[int(ev.seen_offsets[i]) : int(ev.seen_offsets[i + 1])] for i in idx.tolist()]
    items = torch.cat(seen) if seen else ev.seen_items[:0]
    return EvalSet(ev.split, ev.tokens[idx], ev.baskets[idx], ev.targets[idx], items, offsets)


class ChannelView(SequentialRecommender):
    """A cross-channel model (``channel_scores``/``channel_candidates``) as a next-item model of one channel:
    trains with the inner model's loss, scores in ``channel``."""

    def __init__(self, inner: SequentialRecommender, channel: str) -> None:
        config: ModelConfig = inner.config
        super().__init__(config)
        self.inner = inner
        self.channel = CHANNELS.index(channel)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return self.inner.loss(batch)

    def score_all(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.inner.channel_scores(tokens, baskets, self.channel)  # type: ignore[operator]

    def score(self, tokens: Tensor, baskets: Tensor, candidates: Tensor) -> Tensor:
        return self.inner.channel_candidates(tokens, baskets, candidates, self.channel)  # type: ignore[operator]
