"""Scoring a user representation against the catalogue: the full product, or ANN retrieval then exact scoring.

Used for models that export ``user_repr`` and ``item_embeddings`` (:mod:`models.export`). The item matrix is kept
as float32 in the layout that is fastest here for one user: transposed and contiguous (``[d, V]``; ``h @ W_t`` was
faster than ``W @ h`` on the benchmark machine, and bfloat16/float16 far slower while changing the scores:
``item_matrix_product_ms`` in ``bench/results/serve.json``). With
an ANN index (:mod:`models.ann`) the full product is not computed at all: the index proposes candidates and only
they are scored exactly, from row-major ``[V, d]`` embeddings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from models.ann import ItemIndex
from models.inputs import N_SPECIALS


@dataclass(frozen=True, eq=False)
class ItemScorer:
    items: Tensor  # [V, d] float32, contiguous (candidates are gathered from it)
    items_t: Tensor | None  # [d, V] float32, contiguous; None when an index serves the catalogue
    index: ItemIndex | None

    @classmethod
    def build(cls, module: Any, index: ItemIndex | None) -> ItemScorer:
        with torch.inference_mode():
            items = module.item_embeddings().detach().float().contiguous().clone()
        items_t = None if index is not None else items.t().contiguous()
        return cls(items, items_t, index)

    @property
    def retrieval(self) -> str:
        return "ann" if self.index is not None else "exact"

    def represent(self, module: Any, tokens: Tensor, baskets: Tensor) -> Tensor:
        """``[d]``: the user representation of one encoded sequence."""
        return module.user_repr(tokens.unsqueeze(0), baskets.unsqueeze(0))[0].float()

    def top(self, h: Tensor, k: int, banned: Sequence[int] | Tensor = ()) -> tuple[list[float], list[int]]:
        """The ``k`` best items for ``h`` (specials and ``banned`` never), best first; finite scores only."""
        banned_t = torch.as_tensor(banned, dtype=torch.long) if len(banned) else None
        if self.index is None:
            assert self.items_t is not None
            scores = h @ self.items_t
            ids = None
        else:
            n = self.index.params.candidates + k + (0 if banned_t is None else int(banned_t.numel()))
            found = torch.from_numpy(self.index.search(h.unsqueeze(0).numpy(), n)[0])
            ids = found[found >= N_SPECIALS]
            scores = self.items[ids] @ h  # exact scores of the candidates
        if ids is None:
            scores[:N_SPECIALS] = -math.inf
            if banned_t is not None:
                scores[banned_t] = -math.inf
        elif banned_t is not None:
            scores[torch.isin(ids, banned_t)] = -math.inf
        values, pos = torch.topk(scores, min(k, scores.shape[0]))
        indices = pos if ids is None else ids[pos]
        return values.tolist(), indices.tolist()

    def item_scores(self, hs: Tensor, items: Sequence[int]) -> Tensor:
        """``hs [B, d]`` against the given items -> ``[B, len(items)]`` (the explanation's score drops)."""
        return hs.float() @ self.items[torch.as_tensor(list(items), dtype=torch.long)].t()
