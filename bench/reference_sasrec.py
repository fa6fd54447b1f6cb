"""The baseline of ``omniseq bench train``: a plain public-style PyTorch SASRec, run in the same process.

It follows the widely used PyTorch port of Kang & McAuley's SASRec (ICDM 2018; github.com/pmixer/SASRec.pytorch):
Xavier-normal initialisation, item and position embeddings (positions counted from the left of the padded window), embedding dropout, per block
``Q = LN(x)``, ``x = Q + MultiheadAttention(Q, x, x)`` with a causal mask, ``LN``, a point-wise feed-forward made of
two ``Conv1d(kernel_size=1)`` with a residual, the padding mask re-applied after each block, a last LayerNorm, and
binary cross-entropy of each position's next item against one uniformly drawn negative, over every position of the
fixed-width (``max_len``) left-padded batch. Only the negative sampling differs from that port (drawn on the fly
with ``torch.randint`` instead of a Python sampler process), which makes the baseline a little faster, not slower.

It is not one of omniseq's models (those live in :mod:`models`); it exists so that speed ratios are measured
against a baseline on the same machine, data and batches, in the same run.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import ModelConfig, SequentialRecommender, check_batch, scores_from_hidden
from models.inputs import N_SPECIALS


class _ConvFFN(nn.Module):
    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(d, d, kernel_size=1)
        self.conv2 = nn.Conv1d(d, d, kernel_size=1)
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.drop2(self.conv2(F.relu(self.drop1(self.conv1(x.transpose(-1, -2))))))
        return h.transpose(-1, -2) + x


class ReferenceSASRec(SequentialRecommender):
    """Plain SASRec with BCE and one negative per position (the speed baseline)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        d, c = config.hidden, config
        self.item_emb = nn.Embedding(c.n_items, d, padding_idx=0)
        self.pos_emb = nn.Embedding(c.max_len + 1, d, padding_idx=0)
        self.emb_drop = nn.Dropout(c.dropout)
        self.attn_ln = nn.ModuleList([nn.LayerNorm(d, eps=1e-8) for _ in range(c.blocks)])
        self.attn = nn.ModuleList([nn.MultiheadAttention(d, c.heads, c.dropout) for _ in range(c.blocks)])
        self.ffn_ln = nn.ModuleList([nn.LayerNorm(d, eps=1e-8) for _ in range(c.blocks)])
        self.ffn = nn.ModuleList([_ConvFFN(d, c.dropout) for _ in range(c.blocks)])
        self.last_ln = nn.LayerNorm(d, eps=1e-8)
        for param in self.parameters():  # the port's initialisation: Xavier-normal wherever it applies
            if param.dim() > 1:
                nn.init.xavier_normal_(param)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
            self.pos_emb.weight[0].zero_()

    def log2feats(self, seqs: Tensor) -> Tensor:
        n = seqs.shape[1]
        keep = (seqs != 0).unsqueeze(-1).to(torch.float32)
        x = self.item_emb(seqs) * math.sqrt(self.item_emb.embedding_dim)
        pos = torch.arange(1, n + 1, device=seqs.device).unsqueeze(0) * (seqs != 0)
        x = self.emb_drop(x + self.pos_emb(pos)) * keep
        causal = ~torch.tril(torch.ones(n, n, dtype=torch.bool, device=seqs.device))
        for ln_a, attn, ln_f, ffn in zip(self.attn_ln, self.attn, self.ffn_ln, self.ffn, strict=True):
            x = x.transpose(0, 1)
            q = ln_a(x)
            out, _ = attn(q, x, x, attn_mask=causal, need_weights=False)
            x = (q + out).transpose(0, 1)
            x = ffn(ln_f(x)) * keep
        return self.last_ln(x)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        tokens, _, _ = check_batch(batch)
        seqs, pos = tokens[:, :-1], tokens[:, 1:]
        neg = torch.randint(N_SPECIALS, self.n_items, pos.shape, device=pos.device)
        feats = self.log2feats(seqs)
        pos_logits = (feats * self.item_emb(pos)).sum(-1)
        neg_logits = (feats * self.item_emb(neg)).sum(-1)
        where = pos != 0
        return F.binary_cross_entropy_with_logits(
            pos_logits[where], torch.ones_like(pos_logits[where])
        ) + F.binary_cross_entropy_with_logits(neg_logits[where], torch.zeros_like(neg_logits[where]))

    def score_all(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        # positions count from the left of the max_len window: restore any trimmed leading padding
        tokens = F.pad(tokens, (self.config.max_len - tokens.shape[1], 0))
        h = self.log2feats(tokens)[:, -1]
        return scores_from_hidden(h, self.item_emb.weight, self.n_items, self.n_specials)
