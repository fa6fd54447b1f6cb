"""BERT4Rec.

Sun et al., "BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations from Transformer",
CIKM 2019: a bidirectional transformer trained with the cloze task (random online items replaced by a [MASK]
token and predicted from both sides); at inference a [MASK] is appended and its output scores the next item.

[MASK] is an extra embedding row (index V) that is never scored. Only online items are masked (labels); basket
tokens, if any, stay visible. GELU feed-forward of width 4d as in the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor

from models.base import (
    DotProductRecommender,
    ModelConfig,
    check_batch,
    cross_entropy,
)
from models.layers import HybridEmbedding, TransformerEncoder


class BERT4Rec(DotProductRecommender):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        c = config
        self.mask_index = c.n_items
        self.max_len = c.max_len
        self.embed = HybridEmbedding(c.n_items + 1, c.hidden, c.max_len, c.dropout, c.store_mode, c.d_attn)
        self.encoder = TransformerEncoder(
            c.hidden, c.heads, c.blocks, c.dropout, causal=False, ffn_mult=4, gelu=True
        )

    def hidden(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.encoder(self.embed(tokens, baskets), tokens)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, baskets, online = check_batch(batch)
        # the newest max_len columns (a batch trimmed of leading padding may be narrower already)
        seq, bsk, onl = tokens[:, -self.max_len :], baskets[:, -self.max_len :], online[:, -self.max_len :]
        masked = onl & (torch.rand(seq.shape, device=seq.device) < self.config.mask_prob)
        # always predict the last online item too (the inference situation)
        last = onl & (onl.long().flip(1).cumsum(1).flip(1) == 1)
        masked = masked | last
        inp = seq.masked_fill(masked, self.mask_index)
        h = self.hidden(inp, bsk)[masked]
        return cross_entropy(h, seq[masked], self.embed.items.weight, self.config)

    def user_repr(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        mask_col = torch.full_like(tokens[:, :1], self.mask_index)
        inp = torch.cat([tokens, mask_col], dim=1)[:, -self.max_len :]
        bsk = torch.cat([baskets, torch.zeros_like(baskets[:, :1])], dim=1)[:, -self.max_len :]
        return self.hidden(inp, bsk)[:, -1]

    def item_weights(self) -> Tensor:
        return self.embed.items.weight
