"""Baskets for basket completion (PARSRec and the baselines under its protocol).

Per user the in-store baskets in time order, as item indices of one vocabulary (0 = padding/EOB, 1 = SOB, as in
:mod:`models.inputs`). The paper's split: the last basket is the test basket, the second-to-last the validation
basket, the rest are training baskets; the history of a basket is every item of the user's earlier baskets (so the
test history includes the validation basket). Users with fewer than three baskets are dropped.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from models.inputs import SPECIAL_NAMES
from omniseq.schema import Behaviour, StoreTransaction

UNKNOWN_USER = "<unknown>"
MIN_BASKETS = 3


@dataclass
class BasketData:
    """``users[0]`` is the unknown user; ``baskets[u]`` belongs to ``users[u]`` (``baskets[0]`` is empty)."""

    vocab: list[str]
    users: list[str]
    baskets: list[list[np.ndarray]]
    _flat: list[np.ndarray] = field(default_factory=list, repr=False)
    _offsets: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._flat = [np.concatenate(b) if b else np.zeros(0, dtype=np.int64) for b in self.baskets]
        self._offsets = [np.cumsum([0, *(len(x) for x in b)]) for b in self.baskets]

    @property
    def n_items(self) -> int:
        return len(self.vocab)

    @property
    def n_users(self) -> int:
        return len(self.users)

    def n_actions(self) -> int:
        return int(sum(len(f) for f in self._flat))

    def history(self, user: int, t: int) -> np.ndarray:
        """Every item of the user's baskets before basket ``t`` (time order)."""
        return self._flat[user][: self._offsets[user][t]]

    def split(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]:
        """``(user, basket index)`` pairs of the training, validation and test baskets."""
        train: list[tuple[int, int]] = []
        val: list[tuple[int, int]] = []
        test: list[tuple[int, int]] = []
        for u in range(1, self.n_users):
            nb = len(self.baskets[u])
            train.extend((u, t) for t in range(nb - 2))
            val.append((u, nb - 2))
            test.append((u, nb - 1))
        return train, val, test

    def item_counts(self, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
        counts = np.zeros(self.n_items, dtype=np.float64)
        for u, t in pairs:
            np.add.at(counts, self.baskets[u][t], 1.0)
        return counts


def from_baskets(
    user_baskets: Mapping[str, Sequence[Sequence[str]]],
    min_basket: int = 2,
    max_basket: int = 20,
    min_item_count: int = 1,
) -> BasketData:
    """Raw baskets per user (time order) -> :class:`BasketData`. Duplicate items in a basket are kept once (the
    paper keeps one copy of an item bought in several units); items seen fewer than ``min_item_count`` times are
    dropped, then baskets outside ``[min_basket, max_basket]`` items, then users with fewer than three baskets."""
    dedup = {u: [list(dict.fromkeys(b)) for b in bs] for u, bs in user_baskets.items()}
    counts = Counter(x for bs in dedup.values() for b in bs for x in b)
    keep = {x for x, n in counts.items() if n >= min_item_count}
    vocab = [*SPECIAL_NAMES, *sorted(keep)]
    index = {x: i for i, x in enumerate(vocab)}
    users: list[str] = [UNKNOWN_USER]
    baskets: list[list[np.ndarray]] = [[]]
    for u, bs in dedup.items():
        kept = [[index[x] for x in b if x in keep] for b in bs]
        kept = [b for b in kept if min_basket <= len(b) <= max_basket]
        if len(kept) >= MIN_BASKETS:
            users.append(u)
            baskets.append([np.asarray(b, dtype=np.int64) for b in kept])
    return BasketData(vocab, users, baskets)


def baskets_of(histories: Mapping[str, Sequence[Behaviour]]) -> dict[str, list[tuple[str, ...]]]:
    """The in-store baskets of raw hybrid histories (online events are not baskets)."""
    return {u: [b.items for b in h if isinstance(b, StoreTransaction)] for u, h in histories.items()}


def size_batches(
    data: BasketData, pairs: Sequence[tuple[int, int]], batch_size: int, shuffle: bool, seed: int = 0
) -> Iterator[list[tuple[int, int]]]:
    """Batches of baskets of one size (no EOB steps are wasted); shuffled within and across sizes."""
    by_size: dict[int, list[tuple[int, int]]] = {}
    for u, t in pairs:
        by_size.setdefault(len(data.baskets[u][t]), []).append((u, t))
    rng = random.Random(seed)
    batches: list[list[tuple[int, int]]] = []
    for size in sorted(by_size):
        group = by_size[size]
        if shuffle:
            rng.shuffle(group)
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    if shuffle:
        rng.shuffle(batches)
    yield from batches


def left_pad(rows: Sequence[np.ndarray], width: int | None = None) -> Tensor:
    """Rows of indices -> ``[B, W]`` padded with 0 on the left (the newest items keep the right end)."""
    w = max((len(r) for r in rows), default=0) if width is None else width
    out = np.zeros((len(rows), max(w, 1)), dtype=np.int64)
    for i, r in enumerate(rows):
        r = r[-w:] if w else r[:0]
        if len(r):
            out[i, -len(r) :] = r
    return torch.from_numpy(out)


def collate(
    data: BasketData,
    batch: Sequence[tuple[int, int]],
    max_history: int,
    rng: np.random.Generator | None = None,
) -> dict[str, Tensor]:
    """``users [B]``, ``history [B, H]`` (newest ``max_history`` past items, left-padded) and ``basket [B, n]``
    (shuffled when ``rng`` is given, right-padded with EOB = 0)."""
    hist = [data.history(u, t)[-max_history:] for u, t in batch]
    items = [data.baskets[u][t] for u, t in batch]
    if rng is not None:
        items = [rng.permutation(b) for b in items]
    n = max(len(b) for b in items)
    basket = np.zeros((len(batch), n), dtype=np.int64)
    for i, b in enumerate(items):
        basket[i, : len(b)] = b
    return {
        "users": torch.tensor([u for u, _ in batch], dtype=torch.long),
        "history": left_pad(hist),
        "basket": torch.from_numpy(basket),
    }
