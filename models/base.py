"""The shared interface of every recommender and the configuration they are built from.

A model is a ``torch.nn.Module`` with

* ``loss(batch) -> Tensor``: a scalar training loss on a batch of :func:`models.data.training_batch` tensors
  (``tokens [B, L+1]``, ``baskets [B, L+1, M]``, ``online [B, L+1]``);
* ``score(tokens, baskets, candidates [B, C]) -> [B, C]``: scores of given candidate items;
* ``score_all(tokens, baskets) -> [B, V]``: scores over the whole vocabulary, specials (padding, basket) = -inf;
* ``forward(tokens, baskets)`` = ``score_all`` (what TorchScript export serves).

The basket token is never a label, a negative, a candidate or a recommendation (seed §V-B).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.inputs import N_SPECIALS

LossKind = Literal["sampled", "full"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (stored in checkpoints and manifests)."""

    name: str
    n_items: int  # vocabulary size V, specials included
    hidden: int = 64
    blocks: int = 2
    heads: int = 1
    dropout: float = 0.2
    max_len: int = 90
    max_basket: int = 16
    store_mode: str = "none"
    d_attn: int = 64
    loss: LossKind = "sampled"
    n_negatives: int = 256
    mask_prob: float = 0.2  # BERT4Rec cloze masking
    # C2Rec (models/c2rec.py): attention form and the weights of the auxiliary losses
    channel_attention: str = "bilinear"
    lambda_cls: float = 0.1
    lambda_attn: float = 0.1

    def __post_init__(self) -> None:
        if self.n_items <= N_SPECIALS:
            raise ValueError(f"ModelConfig.n_items must exceed {N_SPECIALS} (specials), got {self.n_items}")
        if self.loss not in ("sampled", "full"):
            raise ValueError(f"ModelConfig.loss must be 'sampled' or 'full', got {self.loss!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"ModelConfig: unknown keys {sorted(unknown)}")
        return cls(**raw)


def mask_specials(scores: Tensor, n_specials: int = N_SPECIALS) -> Tensor:
    """Set the special indices (padding, basket) to -inf along the last dimension."""
    scores[..., :n_specials] = -math.inf
    return scores


class SequentialRecommender(nn.Module):
    """Base class: subclasses implement :meth:`loss` and :meth:`score_all` (and may override :meth:`score`)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.n_items = config.n_items
        self.n_specials = N_SPECIALS

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def score_all(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        raise NotImplementedError

    def user_repr(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        """``[B, d]``: what ``score_all`` dots with the item embeddings (models that have one)."""
        raise NotImplementedError

    def score(self, tokens: Tensor, baskets: Tensor, candidates: Tensor) -> Tensor:
        scores = self.score_all(tokens, baskets).gather(1, candidates)
        return scores.masked_fill(candidates < self.n_specials, -math.inf)

    def forward(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.score_all(tokens, baskets)


class DotProductRecommender(SequentialRecommender):
    """A recommender whose scores are :meth:`user_repr` dotted with its output item embeddings
    (:meth:`item_weights`, ``[V, d]``): SASRec and BERT4Rec."""

    def item_weights(self) -> Tensor:
        raise NotImplementedError

    def score_all(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return scores_from_hidden(
            self.user_repr(tokens, baskets), self.item_weights(), self.n_items, self.n_specials
        )

    def score(self, tokens: Tensor, baskets: Tensor, candidates: Tensor) -> Tensor:
        return scores_for_candidates(
            self.user_repr(tokens, baskets), self.item_weights(), candidates, self.n_specials
        )


def sample_negatives(n: int, n_items: int, device: torch.device) -> Tensor:
    """``n`` item indices drawn uniformly from the items (never a special)."""
    return torch.randint(N_SPECIALS, n_items, (n,), device=device)


def cross_entropy(h: Tensor, targets: Tensor, weights: Tensor, config: ModelConfig) -> Tensor:
    """CE of hidden states ``h [N, d]`` for ``targets [N]`` against output embeddings ``weights [V, d]``.

    ``full``: softmax over every item (specials excluded). ``sampled``: the positive against ``n_negatives``
    items shared by the batch (Klenitskiy & Vasilev 2023); a negative equal to the target is masked out."""
    if h.shape[0] == 0:
        return h.sum() * 0.0
    if config.loss == "full":
        logits = h @ weights[: config.n_items].t()
        logits = mask_specials(logits.float())
        return F.cross_entropy(logits, targets)
    negs = sample_negatives(config.n_negatives, config.n_items, h.device)
    pos = (h * weights[targets]).sum(-1, keepdim=True)
    neg = h @ weights[negs].t()
    neg = neg.masked_fill(negs.unsqueeze(0) == targets.unsqueeze(1), -1e4)
    logits = torch.cat([pos, neg], dim=1).float()
    return F.cross_entropy(logits, torch.zeros_like(targets))


def check_batch(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    for key in ("tokens", "baskets", "online"):
        if key not in batch:
            raise KeyError(f"training batch lacks {key!r} (has {sorted(batch)})")
    tokens, baskets, online = batch["tokens"], batch["baskets"], batch["online"]
    if tokens.dim() != 2 or baskets.dim() != 3 or online.shape != tokens.shape:
        raise ValueError(
            f"bad batch shapes: tokens {tuple(tokens.shape)}, baskets {tuple(baskets.shape)}, "
            f"online {tuple(online.shape)}"
        )
    return tokens, baskets, online & (tokens >= N_SPECIALS)


def scores_from_hidden(h: Tensor, weights: Tensor, n_items: int, n_specials: int) -> Tensor:
    """``h [B, d]`` against output embeddings -> ``[B, V]`` with specials -inf."""
    return mask_specials((h @ weights[:n_items].t()).float(), n_specials)


def scores_for_candidates(h: Tensor, weights: Tensor, candidates: Tensor, n_specials: int) -> Tensor:
    """``h [B, d]`` against the embeddings of ``candidates [B, C]`` -> ``[B, C]``; specials -inf."""
    s = (h.unsqueeze(1) * weights[candidates]).sum(-1).float()
    return s.masked_fill(candidates < n_specials, -math.inf)
