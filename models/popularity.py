"""Popularity baseline: every user gets the items ranked by how often they were the target of an online behaviour
in training (the usual non-personalised reference point, e.g. Ji et al., "A Re-visit of the Popularity Baseline
in Recommender Systems", SIGIR 2020). ``loss`` counts the batch's online items while training (no gradient) and
returns the negative log-likelihood of those items under the counts so far."""

from __future__ import annotations

import torch
from torch import Tensor

from models.base import ModelConfig, SequentialRecommender, check_batch, mask_specials


class Popularity(SequentialRecommender):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.register_buffer("counts", torch.zeros(config.n_items))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, _, online = check_batch(batch)
        items = tokens[online]
        if self.training:
            self.counts += torch.bincount(items, minlength=self.n_items).to(torch.float32)  # type: ignore[operator]
        logp = torch.log_softmax(mask_specials(torch.log1p(self.counts.clone())), dim=0)  # type: ignore[operator]
        return -logp[items].mean() if items.numel() else logp.new_zeros(())

    def score_all(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        scores = mask_specials(torch.log1p(self.counts.clone()), self.n_specials)  # type: ignore[operator]
        return scores.unsqueeze(0).expand(tokens.shape[0], -1).clone()
