"""SASRec and its hybrid-sequence variants.

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018: a causal transformer over the item
sequence; the last position's output, dotted with the (shared) item embeddings, scores the next item.

The variants of the omnichannel seed (§VI-B) are the same model with a different :class:`models.inputs.InputSpec`
store mode and basket encoder (composition, not copies):

=============  ============  ===================================================================
variant        store_mode    in-store baskets
=============  ============  ===================================================================
SASRec         ``none``      dropped (online-only sequence)
SASRec w/store ``flatten``   every basket item is a token of the sequence
SASRec avgE    ``avg``       one token per basket: mean of its item embeddings
SASRec attnE   ``attn``      one token per basket: the store-transaction encoder (Eq. 1-3)
=============  ============  ===================================================================

Training labels are the next *online* item at every position (cross-entropy, full or with sampled negatives,
Klenitskiy & Vasilev 2023).
"""

from __future__ import annotations

from torch import Tensor

from models.base import (
    DotProductRecommender,
    ModelConfig,
    check_batch,
    cross_entropy,
)
from models.layers import HybridEmbedding, TransformerEncoder


class SASRec(DotProductRecommender):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        c = config
        self.embed = HybridEmbedding(c.n_items, c.hidden, c.max_len, c.dropout, c.store_mode, c.d_attn)
        self.encoder = TransformerEncoder(c.hidden, c.heads, c.blocks, c.dropout, causal=True)

    def hidden(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        """``[B, L, d]``: the representation after each position."""
        return self.encoder(self.embed(tokens, baskets), tokens)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, baskets, online = check_batch(batch)
        inp, bsk = tokens[:, :-1], baskets[:, :-1]
        valid = online[:, 1:] & (inp != 0)
        h = self.hidden(inp, bsk)[valid]
        return cross_entropy(h, tokens[:, 1:][valid], self.embed.items.weight, self.config)

    def user_repr(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.hidden(tokens, baskets)[:, -1]

    def item_weights(self) -> Tensor:
        return self.embed.items.weight
