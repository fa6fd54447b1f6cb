"""Journey generators: a GPT trained from scratch (arXiv 2407.11081, "Generating In-store Customer Journeys from
Scratch with GPT Architectures": GPT-2-style decoder over location-code tokens) and the LSTM baseline.

Both are next-token models over a :mod:`models.journey_tokens` vocabulary with the same interface:

* ``loss(tokens [B, L]) -> scalar``: next-token cross-entropy, padding (id 0) ignored;
* ``forward(tokens [B, L]) -> logits [B, L, V]`` (what TorchScript export serves);
* ``step(tokens [B, T], start, k, v) -> (logits [B, T, V], k, v)``: incremental decoding, the cache (GPT: keys
  and values per layer; LSTM: ``h`` and ``c``) passed back in, so generation costs one token per step.

The GPT reuses the shared pre-LN :class:`models.layers.TransformerEncoder` (causal, GELU, 4x FFN) and ties its
output head to the token embedding, as GPT-2 does. Sizes are CPU-scale by default (the paper used GPT-2 small).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.journey_tokens import PAD_ID
from models.layers import TransformerBlock, TransformerEncoder


@dataclass(frozen=True)
class JourneyModelConfig:
    arch: str  # "gpt" | "lstm"
    vocab_size: int
    d: int = 128
    layers: int = 3
    heads: int = 4
    max_len: int = 256
    dropout: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JourneyGPT(nn.Module):
    def __init__(self, cfg: JourneyModelConfig) -> None:
        super().__init__()
        self.max_len = cfg.max_len
        self.heads = cfg.heads
        self.d = cfg.d
        self.n_layers = cfg.layers
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d, padding_idx=PAD_ID)
        self.pos = nn.Embedding(cfg.max_len, cfg.d)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = TransformerEncoder(
            cfg.d, cfg.heads, cfg.layers, cfg.dropout, causal=True, ffn_mult=4, gelu=True
        )
        self.head = nn.Linear(cfg.d, cfg.vocab_size, bias=False)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.head.weight = self.tok.weight

    def forward(self, tokens: Tensor) -> Tensor:
        n = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(n, device=tokens.device)).unsqueeze(0)
        return self.head(self.encoder(self.drop(x), tokens))

    def loss(self, tokens: Tensor) -> Tensor:
        logits = self(tokens[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten(), ignore_index=PAD_ID)

    @torch.jit.export
    def empty_cache(self, batch: int) -> tuple[Tensor, Tensor]:
        z = torch.zeros(
            self.n_layers, batch, self.heads, 0, self.d // self.heads, device=self.pos.weight.device
        )
        return z, z.clone()

    @torch.jit.export
    def step(self, tokens: Tensor, start: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Logits of ``tokens`` placed at positions ``start..start+T-1`` after the cached ones (no padding)."""
        b, t = tokens.shape
        dh = self.d // self.heads
        x = self.tok(tokens) + self.pos(torch.arange(start, start + t, device=tokens.device)).unsqueeze(0)
        past = k.shape[3]
        allowed = torch.ones(t, past + t, dtype=torch.bool, device=tokens.device).tril(past)
        new_k: list[Tensor] = []
        new_v: list[Tensor] = []
        for i, blk in enumerate(self.encoder.blocks):
            block: TransformerBlock = blk  # type: ignore[assignment]
            qkv = block.attn.qkv(block.ln1(x)).view(b, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
            keys = torch.cat([k[i], qkv[1]], dim=2)
            values = torch.cat([v[i], qkv[2]], dim=2)
            new_k.append(keys)
            new_v.append(values)
            h = F.scaled_dot_product_attention(qkv[0], keys, values, attn_mask=allowed)
            x = x + block.attn.out(h.transpose(1, 2).reshape(b, t, self.d))
            x = x + block.ffn(block.ln2(x))
        return self.head(self.encoder.ln(x)), torch.stack(new_k), torch.stack(new_v)


class JourneyLSTM(nn.Module):
    """The LSTM baseline: embedding, stacked LSTM, linear head over the same tokens."""

    def __init__(self, cfg: JourneyModelConfig) -> None:
        super().__init__()
        self.max_len = cfg.max_len
        self.n_layers = cfg.layers
        self.d = cfg.d
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d, padding_idx=PAD_ID)
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(cfg.d, cfg.d, num_layers=cfg.layers, batch_first=True, dropout=cfg.dropout)
        self.head = nn.Linear(cfg.d, cfg.vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.lstm(self.drop(self.tok(tokens)))
        return self.head(self.drop(out))

    def loss(self, tokens: Tensor) -> Tensor:
        logits = self(tokens[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten(), ignore_index=PAD_ID)

    @torch.jit.export
    def empty_cache(self, batch: int) -> tuple[Tensor, Tensor]:
        z = torch.zeros(self.n_layers, batch, self.d, device=self.tok.weight.device)
        return z, z.clone()

    @torch.jit.export
    def step(self, tokens: Tensor, start: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out, (h, c) = self.lstm(self.tok(tokens), (k, v))
        return self.head(out), h, c


JourneyNet = JourneyGPT | JourneyLSTM


def build_journey_model(cfg: JourneyModelConfig) -> JourneyNet:
    if cfg.arch == "gpt":
        return JourneyGPT(cfg)
    if cfg.arch == "lstm":
        return JourneyLSTM(cfg)
    raise ValueError(f"unknown journey model {cfg.arch!r}; choose 'gpt' or 'lstm'")
