"""Shared layers: embeddings (items with padding, positions), the store-transaction encoders, transformer blocks.

All layers are TorchScript-compatible and device-agnostic (nothing stores a device; masks are built from inputs).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.inputs import BASKET, PAD


class PointWiseFFN(nn.Module):
    """Position-wise feed-forward network: Linear -> activation -> dropout -> Linear -> dropout."""

    def __init__(self, d: int, inner: int, dropout: float, gelu: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, inner)
        self.fc2 = nn.Linear(inner, d)
        self.drop = nn.Dropout(dropout)
        self.gelu = gelu

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc1(x)
        h = F.gelu(h) if self.gelu else F.relu(h)
        return self.drop(self.fc2(self.drop(h)))


class MultiHeadSelfAttention(nn.Module):
    """Self-attention with a boolean ``allowed [B, 1, L, L]`` mask (True = may attend), via fused SDPA."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"hidden size {d} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.p = dropout

    def forward(self, x: Tensor, allowed: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        p = self.p if self.training else 0.0
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)
        return self.out(h.transpose(1, 2).reshape(b, n, d))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + Attn(LN(x))`` then ``x + FFN(LN(x))``; padded positions are zeroed."""

    def __init__(self, d: int, heads: int, dropout: float, ffn_mult: int = 1, gelu: bool = False) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = MultiHeadSelfAttention(d, heads, dropout)
        self.drop = nn.Dropout(dropout)
        self.ln2 = nn.LayerNorm(d)
        self.ffn = PointWiseFFN(d, d * ffn_mult, dropout, gelu)

    def forward(self, x: Tensor, allowed: Tensor, keep: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.ln1(x), allowed))
        x = x + self.ffn(self.ln2(x))
        return x * keep


class TransformerEncoder(nn.Module):
    """A stack of blocks, causal (SASRec) or bidirectional (BERT4Rec), with a final LayerNorm."""

    def __init__(
        self,
        d: int,
        heads: int,
        blocks: int,
        dropout: float,
        causal: bool,
        ffn_mult: int = 1,
        gelu: bool = False,
    ) -> None:
        super().__init__()
        self.causal = causal
        self.pad = PAD
        self.blocks = nn.ModuleList(
            [TransformerBlock(d, heads, dropout, ffn_mult, gelu) for _ in range(blocks)]
        )
        self.ln = nn.LayerNorm(d)

    def attention_mask(self, tokens: Tensor) -> Tensor:
        """``[B, 1, L, L]``: keys must be real tokens (and not in the future when causal); a position may always
        attend to itself, so fully padded rows stay finite."""
        n = tokens.shape[1]
        real = (tokens != self.pad).unsqueeze(1).unsqueeze(2)  # [B, 1, 1, L]
        eye = torch.eye(n, dtype=torch.bool, device=tokens.device)
        allowed = real.expand(-1, -1, n, -1)
        if self.causal:
            allowed = allowed & torch.ones(n, n, dtype=torch.bool, device=tokens.device).tril()
        return allowed | eye

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        allowed = self.attention_mask(tokens)
        keep = (tokens != self.pad).unsqueeze(-1).to(x.dtype)
        for block in self.blocks:
            x = block(x, allowed, keep)
        return self.ln(x)


class AvgStoreEncoder(nn.Module):
    """avgE: a basket's embedding is the mean of its item embeddings (padding excluded)."""

    def forward(self, m: Tensor, mask: Tensor) -> Tensor:
        w = mask.to(m.dtype)
        return (m * w.unsqueeze(-1)).sum(-2) / w.sum(-1, keepdim=True).clamp(min=1.0)


class AttnStoreEncoder(nn.Module):
    """attnE, the store-transaction encoder of the seed (Eq. 1-3):
    ``Q = m_s W_q``, ``K = m_s W_k``, ``a_s = softmax(Q K^T 1)``, ``v_s = a_s . m_s``.

    ``Q K^T 1`` is computed as ``Q (K^T 1)`` (the row sums, O(n d) instead of O(n^2 d)); padded items are left
    out of the sum and of the softmax, so the result is invariant to the order of the basket's items."""

    def __init__(self, d: int, d_attn: int) -> None:
        super().__init__()
        self.wq = nn.Linear(d, d_attn, bias=False)
        self.wk = nn.Linear(d, d_attn, bias=False)

    def forward(self, m: Tensor, mask: Tensor) -> Tensor:
        w = mask.to(m.dtype).unsqueeze(-1)  # [..., n, 1]
        q = self.wq(m)
        k_sum = (self.wk(m) * w).sum(-2, keepdim=True)  # K^T 1 over real items: [..., 1, d_a]
        logits = (q * k_sum).sum(-1).masked_fill(~mask, -1e9)  # [..., n]
        a = torch.softmax(logits.float(), dim=-1).to(m.dtype) * mask.to(m.dtype)
        return (a.unsqueeze(-1) * m).sum(-2)


class HybridEmbedding(nn.Module):
    """Token embeddings of a hybrid sequence: items (row 0 = padding), basket tokens replaced by the store encoder's
    output over their contents (``avg``/``attn``), scaled by sqrt(d), plus learned positions, dropout.

    Positions are counted from the right (the newest token is always position ``max_len - 1``), so a left-padded
    batch whose all-padding leading columns were trimmed (:func:`models.data.trim_leading_padding`) gives exactly
    the same outputs as the full-width batch, only faster."""

    def __init__(
        self, n_rows: int, d: int, max_len: int, dropout: float, store_mode: str, d_attn: int
    ) -> None:
        super().__init__()
        self.d = d
        self.max_len = max_len
        self.pad = PAD
        self.basket = BASKET
        self.items = nn.Embedding(n_rows, d, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, d)
        self.drop = nn.Dropout(dropout)
        self.uses_baskets = store_mode in ("avg", "attn")
        self.store: nn.Module = AttnStoreEncoder(d, d_attn) if store_mode == "attn" else AvgStoreEncoder()
        nn.init.normal_(self.items.weight, std=0.02)
        nn.init.normal_(self.positions.weight, std=0.02)
        with torch.no_grad():
            self.items.weight[PAD].zero_()

    def encode_baskets(self, baskets: Tensor) -> Tensor:
        """``[..., M]`` item indices -> ``[..., d]`` basket embeddings."""
        return self.store(self.items(baskets), baskets != self.pad)

    def forward(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        n = tokens.shape[1]
        x = self.items(tokens)
        if self.uses_baskets:
            is_basket = tokens == self.basket
            enc = self.encode_baskets(baskets[is_basket])
            x = x.clone()
            x[is_basket] = enc.to(x.dtype)
        x = x * math.sqrt(self.d)
        if n > self.max_len:
            raise ValueError("the sequence is longer than the model's max_len")
        pos = torch.arange(self.max_len - n, self.max_len, device=tokens.device)
        x = x + self.positions(pos).unsqueeze(0)
        return self.drop(x) * (tokens != self.pad).unsqueeze(-1).to(x.dtype)


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the first ``lengths[i]`` steps of every row of ``x [N, L, d]``; padding stays where it is."""
    n, steps = x.shape[0], x.shape[1]
    pos = torch.arange(steps, device=x.device).unsqueeze(0).expand(n, steps)
    last = (lengths - 1).unsqueeze(1)
    idx = torch.where(pos <= last, last - pos, pos)
    return x.gather(1, idx.unsqueeze(-1).expand(n, steps, x.shape[2]))


class _LSTMLayer(nn.Module):
    """One layer of :class:`MaskedBiLSTM`."""

    def __init__(self, d_in: int, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        self.bidirectional = bidirectional
        self.fwd = nn.LSTM(d_in, hidden, batch_first=True)
        self.bwd = nn.LSTM(d_in, hidden, batch_first=True) if bidirectional else None

    def forward(self, x: Tensor, lengths: Tensor, rows: Tensor, last: Tensor) -> tuple[Tensor, Tensor]:
        out_f, _ = self.fwd(x)
        bwd = self.bwd
        if bwd is None:
            return out_f, out_f[rows, last]
        out_b, _ = bwd(reverse_padded(x, lengths))
        out_b = reverse_padded(out_b, lengths)
        return torch.cat([out_f, out_b], dim=-1), torch.cat([out_f[rows, last], out_b[:, 0]], dim=-1)


class MaskedBiLSTM(nn.Module):
    """A (bi)directional stacked LSTM over right-padded sequences ``[N, L, d]`` with ``lengths [N]`` (>= 1).

    The backward direction runs over each row's *valid* steps reversed (padding is never read before real data),
    so results do not depend on the padding. Returns per-step outputs ``[N, L, k * hidden]`` and the final state
    ``[N, k * hidden]`` (forward at the last valid step, backward at the first), k = 2 when bidirectional."""

    def __init__(
        self, d_in: int, hidden: int, layers: int, bidirectional: bool, dropout: float = 0.0
    ) -> None:
        super().__init__()
        k = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            [_LSTMLayer(d_in if i == 0 else k * hidden, hidden, bidirectional) for i in range(layers)]
        )
        self.drop = nn.Dropout(dropout)
        self.out_dim = k * hidden

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        last = (lengths - 1).clamp(min=0)
        rows = torch.arange(x.shape[0], device=x.device)
        final = x.new_zeros(x.shape[0], self.out_dim)
        first = True
        for layer in self.layers:
            if not first:
                x = self.drop(x)
            x, final = layer(x, lengths, rows, last)
            first = False
        return x, final
