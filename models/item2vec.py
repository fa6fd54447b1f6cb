"""Item2vec-style pre-training of item embeddings (Barkan & Koenigstein, 2016): skip-gram with negative sampling
where the context of an item is the other items of the same basket. LENS uses the vectors as its warm start
(the seed's "warm-start" scenario, with the freeze / fine-tune option of :class:`models.lens.LensConfig`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def basket_pairs(baskets: Sequence[Sequence[int]], max_context: int, rng: random.Random) -> Tensor:
    """``[P, 2]`` (item, context) pairs: every item with up to ``max_context`` other items of its basket."""
    pairs: list[tuple[int, int]] = []
    for b in baskets:
        if len(b) < 2:
            continue
        for i in b:
            others = [j for j in b if j != i]
            for j in others if len(others) <= max_context else rng.sample(others, max_context):
                pairs.append((i, j))
    return torch.tensor(pairs, dtype=torch.long).view(-1, 2)


def train_item2vec(
    baskets: Sequence[Sequence[int]],
    n_items: int,
    dim: int,
    epochs: int = 2,
    negatives: int = 5,
    max_context: int = 5,
    batch_size: int = 4096,
    lr: float = 0.01,
    seed: int = 0,
    n_specials: int = 3,
) -> Tensor:
    """Item vectors ``[n_items, dim]`` (specials are left at their random start, padding is zeroed by the caller)."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    counts = torch.zeros(n_items)
    for b in baskets:
        counts[torch.tensor(b, dtype=torch.long)] += 1
    noise = counts.pow(0.75)
    noise[:n_specials] = 0
    if float(noise.sum()) <= 0:
        raise ValueError("item2vec: no items to train on")
    emb_in = nn.Embedding(n_items, dim)
    emb_out = nn.Embedding(n_items, dim)
    nn.init.uniform_(emb_in.weight, -0.5 / dim, 0.5 / dim, generator=gen)
    nn.init.zeros_(emb_out.weight)
    opt = torch.optim.Adam([*emb_in.parameters(), *emb_out.parameters()], lr=lr)
    for _ in range(epochs):
        pairs = basket_pairs(baskets, max_context, rng)
        pairs = pairs[torch.randperm(len(pairs), generator=gen)]
        for s in range(0, len(pairs), batch_size):
            p = pairs[s : s + batch_size]
            neg = torch.multinomial(noise, len(p) * negatives, replacement=True, generator=gen).view(
                len(p), -1
            )
            v = emb_in(p[:, 0])
            pos = (v * emb_out(p[:, 1])).sum(-1)
            ng = torch.bmm(emb_out(neg), v.unsqueeze(-1)).squeeze(-1)
            loss = -(F.logsigmoid(pos).mean() + F.logsigmoid(-ng).sum(-1).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return emb_in.weight.detach().clone()
