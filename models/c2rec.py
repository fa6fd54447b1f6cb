"""C2Rec: cross-channel recommendation with channel-wise attention over three user components.

Choi, Shin & Lim, "Cross-channel Recommendation for Multi-channel Retail", arXiv 2404.00972 (2024). The available
text gives the structure (three user components -- channel-shared, offline, online --, one item embedding table,
a channel-wise attention per item and channel, and the loss ``L_on + L_off + lambda_cls L_cls + lambda_attn L_attn``)
but not the equations; the choices below fill the gaps (docs/MODELS.md, "C2Rec", says why).

Sequence context (our choice: the paper's users are ID embeddings, which cannot serve a user unseen in training):
the hybrid history in the attnE layout (an online event is an item token, an in-store basket one token pooled by
the store-transaction encoder) goes through a composed :class:`~models.sasrec.SASRec` (same layers, no copy). Its
hidden state ``h`` after each position gives the three components as residual maps ``u_k = h + W_k h + b_k``,
``k`` in (shared, store, online), with ``W_k, b_k`` starting at zero: every component starts as the sequence
representation (so the model starts where SASRec does; a plain linear map from a random start did not learn
the next-item structure in the epochs a run has). Channels are indexed ``STORE = 0``, ``ONLINE = 1``; component ``1 + c`` is
channel ``c``'s own.

Channel-wise attention (bilinear, softmax over components), for item ``v`` with embedding ``y_v`` in channel ``c``:
``a_k(v, c) = softmax_k(u_k^T A_c y_v / sqrt(d) + b_{c,k})``, over the components the user *has*: the shared one
always, a channel's own only once the history holds a behaviour of that channel (a channel-only user is scored
from the shared and that channel's component). The score is ``s_c(v) = sum_k a_k(v, c) u_k^T y_v``.
``channel_attention="uniform"`` (ablation) replaces the softmax by equal weights over the same components.

Loss, over the next behaviour after every position (an online item, or each item of an in-store basket):

* ``L_on``, ``L_off``: cross-entropy of the target against ``n_negatives`` uniform items shared by the batch (or all
  items with ``loss="full"``), scored in the target's channel; each is the mean over that channel's targets;
* ``L_cls`` (interaction classification): BCE of ``sigmoid(s_on(v) - s_off(v))`` against the channel the target was
  taken in, so the two channel scores of one item must differ the way the user's channels do;
* ``L_attn`` (attention regulariser): the attention mass a target puts on the *other* channel's component,
  ``a_{1 + (1 - c)}(v, c)``, averaged, so each channel-specific component keeps to its channel.

``forward`` / ``score_all`` score the online channel (the shared interface); :meth:`channel_scores` either channel.
"""

from __future__ import annotations

import math
from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import ModelConfig, SequentialRecommender, check_batch, mask_specials, sample_negatives
from models.inputs import BASKET, N_SPECIALS, PAD
from models.sasrec import SASRec

STORE: Final[int] = 0
ONLINE: Final[int] = 1
CHANNELS: Final[tuple[str, str]] = ("store", "online")
COMPONENTS: Final[tuple[str, str, str]] = ("shared", "store", "online")
ATTENTION_FORMS: Final[tuple[str, ...]] = ("bilinear", "uniform")
FAMILY: Final[str] = "cross_channel"


def channel_index(name: str) -> int:
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}; choose from {list(CHANNELS)}")
    return CHANNELS.index(name)


def presence(tokens: Tensor, basket: int = BASKET, n_specials: int = N_SPECIALS) -> Tensor:
    """``[..., L]`` left-padded tokens -> ``[..., L, 3]`` bool: which components a user has *after* each position
    (shared always; store once a basket token was seen; online once an item token was seen)."""
    store = torch.cumsum((tokens == basket).to(torch.int32), dim=-1) > 0
    online = torch.cumsum((tokens >= n_specials).to(torch.int32), dim=-1) > 0
    return torch.stack([torch.ones_like(store), store, online], dim=-1)


class C2Rec(SequentialRecommender):
    family = FAMILY  # the registry family its versions belong to
    served_channel = "store"  # what the exported module scores (the online channel is SASRec's family)

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        if config.store_mode != "attn":
            raise ValueError(f"C2Rec reads the attnE layout (store_mode 'attn'), got {config.store_mode!r}")
        if config.channel_attention not in ATTENTION_FORMS:
            raise ValueError(f"channel_attention must be one of {list(ATTENTION_FORMS)}")
        d = config.hidden
        self.d = d
        self.seq = SASRec(config)  # the hybrid-sequence encoder (attnE embedding + causal transformer)
        self.heads = nn.Linear(d, 3 * d)  # shared / store / online offsets from h
        nn.init.zeros_(
            self.heads.weight
        )  # every component starts as h itself: C2Rec starts where SASRec does
        nn.init.zeros_(self.heads.bias)
        self.attn_w = nn.Parameter(torch.eye(d).repeat(2, 1, 1) + 0.01 * torch.randn(2, d, d))  # A_c
        self.attn_b = nn.Parameter(torch.zeros(2, 3))  # b_{c,k}
        self.uniform = config.channel_attention == "uniform"
        self.lambda_cls = config.lambda_cls
        self.lambda_attn = config.lambda_attn
        self.basket = BASKET
        self.online = ONLINE

    # --- representation ------------------------------------------------------------------------------------------

    def item_weights(self) -> Tensor:
        return self.seq.embed.items.weight

    def components(self, h: Tensor) -> Tensor:
        """``[..., d]`` hidden states -> ``[..., 3, d]`` user components (shared, store, online): ``h + W_k h + b_k``."""
        return h.unsqueeze(-2) + self.heads(h).unflatten(-1, (3, self.d))

    def attend(self, u: Tensor, present: Tensor, channel: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Scores ``[N, C]`` and attention ``[N, 3, C]`` of rows ``u [N, 3, d]`` (with ``present [N, 3]``) in
        ``channel [N]`` for item embeddings ``y`` (``[1, C, d]`` shared by all rows or ``[N, C, d]``)."""
        yt = y.transpose(-1, -2)
        comp = torch.matmul(u, yt)  # [N, 3, C]: u_k^T y_v
        if self.uniform:
            logits = torch.zeros_like(comp)
        else:
            q_all = torch.einsum("nkd,cde->nkce", u, self.attn_w)  # [N, 3, 2, d]: u_k^T A_c, both channels
            q = q_all[torch.arange(u.shape[0], device=u.device), :, channel]  # [N, 3, d]
            logits = torch.matmul(q, yt) / math.sqrt(self.d) + self.attn_b[channel].unsqueeze(-1)
        logits = logits.float().masked_fill(~present.unsqueeze(-1), -1e9)
        a = torch.softmax(logits, dim=1)
        return (a * comp.float()).sum(1), a

    def user(self, tokens: Tensor, baskets: Tensor) -> tuple[Tensor, Tensor]:
        """Components ``[B, 3, d]`` and ``present [B, 3]`` after the newest position."""
        h = self.seq.user_repr(tokens, baskets)
        return self.components(h), presence(tokens, self.basket, self.n_specials)[:, -1]

    def channel_scores(self, tokens: Tensor, baskets: Tensor, channel: int) -> Tensor:
        """``[B, V]`` scores of every item in ``channel`` (specials -inf)."""
        u, present = self.user(tokens, baskets)
        ch = torch.full((u.shape[0],), channel, dtype=torch.long, device=u.device)
        s, _ = self.attend(u, present, ch, self.item_weights()[: self.n_items].unsqueeze(0))
        return mask_specials(s, self.n_specials)

    def channel_candidates(self, tokens: Tensor, baskets: Tensor, candidates: Tensor, channel: int) -> Tensor:
        """``[B, C]`` scores of ``candidates [B, C]`` in ``channel`` (specials -inf)."""
        u, present = self.user(tokens, baskets)
        ch = torch.full((u.shape[0],), channel, dtype=torch.long, device=u.device)
        s, _ = self.attend(u, present, ch, self.item_weights()[candidates])
        return s.masked_fill(candidates < self.n_specials, -math.inf)

    def attention(self, tokens: Tensor, baskets: Tensor, items: Tensor, channel: int) -> Tensor:
        """``[B, 3, C]`` attention weights over the components for ``items [B, C]`` in ``channel``."""
        u, present = self.user(tokens, baskets)
        ch = torch.full((u.shape[0],), channel, dtype=torch.long, device=u.device)
        return self.attend(u, present, ch, self.item_weights()[items])[1]

    def score_all(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.channel_scores(tokens, baskets, self.online)

    def score(self, tokens: Tensor, baskets: Tensor, candidates: Tensor) -> Tensor:
        return self.channel_candidates(tokens, baskets, candidates, self.online)

    # --- training ------------------------------------------------------------------------------------------------

    @torch.jit.unused
    def label_rows(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Hidden rows ``[N, d]``, ``present [N, 3]``, targets ``[N]`` and channels ``[N]``: one row per next
        online item and per item of a next basket."""
        tokens, baskets, online = check_batch(batch)
        inp, bsk = tokens[:, :-1], baskets[:, :-1]
        h = self.seq.hidden(inp, bsk)
        present = presence(inp)
        real = inp != PAD
        on = online[:, 1:] & real
        st = (tokens[:, 1:] == BASKET) & real
        st_items = baskets[:, 1:][st]  # [P, M]
        keep = st_items >= N_SPECIALS
        m = st_items.shape[1]
        st_h = h[st].unsqueeze(1).expand(-1, m, -1)[keep]
        st_p = present[st].unsqueeze(1).expand(-1, m, -1)[keep]
        rows = torch.cat([h[on], st_h])
        pres = torch.cat([present[on], st_p])
        targets = torch.cat([tokens[:, 1:][on], st_items[keep]])
        channels = torch.cat(
            [
                torch.full((int(on.sum()),), ONLINE, dtype=torch.long, device=h.device),
                torch.full((int(keep.sum()),), STORE, dtype=torch.long, device=h.device),
            ]
        )
        return rows, pres, targets, channels

    @torch.jit.unused
    def loss_terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """``rec_online``, ``rec_store``, ``cls``, ``attn`` and their weighted ``total``."""
        h, present, targets, channels = self.label_rows(batch)
        zero = h.sum() * 0.0
        if h.shape[0] == 0:
            return {"rec_online": zero, "rec_store": zero, "cls": zero, "attn": zero, "total": zero}
        u = self.components(h)
        y = self.item_weights()
        pos, a_pos = self.attend(u, present, channels, y[targets].unsqueeze(1))
        if self.config.loss == "full":
            logits, _ = self.attend(u, present, channels, y[: self.n_items].unsqueeze(0))
            ce = F.cross_entropy(mask_specials(logits), targets, reduction="none")
        else:
            negs = sample_negatives(self.config.n_negatives, self.n_items, h.device)
            neg, _ = self.attend(u, present, channels, y[negs].unsqueeze(0))
            neg = neg.masked_fill(negs.unsqueeze(0) == targets.unsqueeze(1), -1e4)
            ce = F.cross_entropy(torch.cat([pos, neg], dim=1), torch.zeros_like(targets), reduction="none")
        is_on = channels == ONLINE
        terms = {"rec_online": _mean(ce, is_on, zero), "rec_store": _mean(ce, ~is_on, zero)}
        other = torch.full_like(channels, ONLINE)
        s_on, _ = self.attend(u, present, other, y[targets].unsqueeze(1))
        s_off, _ = self.attend(u, present, other * STORE, y[targets].unsqueeze(1))
        terms["cls"] = F.binary_cross_entropy_with_logits((s_on - s_off).squeeze(1), is_on.float())
        wrong = 1 + (1 - channels)  # the other channel's own component
        terms["attn"] = a_pos[torch.arange(h.shape[0], device=h.device), wrong, 0].mean()
        terms["total"] = (
            terms["rec_online"]
            + terms["rec_store"]
            + self.lambda_cls * terms["cls"]
            + self.lambda_attn * terms["attn"]
        )
        return terms

    @torch.jit.unused
    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return self.loss_terms(batch)["total"]


def _mean(values: Tensor, mask: Tensor, zero: Tensor) -> Tensor:
    return values[mask].mean() if bool(mask.any()) else zero
