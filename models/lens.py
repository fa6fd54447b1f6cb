"""LENS: a hierarchical encoder-decoder for the next basket and the time to the next purchase.

Paper: the "user journey funnel deep hierarchic encoder-decoder" (LENS1000 / LENS2000) of the seed
``hierarchical_next_basket_encoder_decoder.txt``: the SCE -> FBE -> NSD architecture of its Fig. 1 and Table 1.

* SCE (session content encoder): a bi-LSTM over the item embeddings of each basket -> one vector per basket.
* FBE (funnel behaviour encoder): a (bi-)LSTM over the basket vectors concatenated with session features (date
  features, gap since the previous basket, basket size, amount, quantity) and the user embedding.
* NSD (next session decoder): an autoregressive LSTM that emits the next basket item by item until ``<eos>``;
  teacher forcing in training (:meth:`LENS.loss`), greedy decoding at inference (:meth:`LENS.decode`).
* A small fully connected regressor on the FBE state predicts the days to the next purchase (MAE or MSE).

Vocabulary: index 0 ``<pad>``, 1 ``<eos>``, 2 ``<bos>``, items from 3 (:data:`N_LENS_SPECIALS`). Users: index 0 is
the unknown user (cold start at serving time). Tensors in, tensors out; everything is TorchScript-compatible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Final, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.layers import MaskedBiLSTM

L_PAD: Final[int] = 0
L_EOS: Final[int] = 1
L_BOS: Final[int] = 2
N_LENS_SPECIALS: Final[int] = 3
N_SESSION_FEATURES: Final[int] = 13  # see models.lens_data.session_features

Objective = Literal["joint", "basket", "time"]


@dataclass(frozen=True)
class LensConfig:
    """Sizes of the three modules (Table 1) and the training objective; stored in checkpoints and manifests."""

    name: str
    n_items: int  # vocabulary size, specials included
    n_users: int  # user table size, index 0 = unknown user
    d_item: int = 64
    d_user: int = 32
    sce_hidden: int = 64
    fbe_layers: int = 1
    fbe_hidden: int = 256
    fbe_bidirectional: bool = True
    nsd_hidden: tuple[int, ...] = (512,)
    n_session_features: int = N_SESSION_FEATURES
    dropout: float = 0.2
    objective: Objective = "joint"
    time_loss: Literal["mae", "mse"] = "mae"
    time_weight: float = 0.1
    freeze_items: bool = False  # warm start: block the gradient into the (pre-trained) item embeddings
    max_items: int = 10  # longest decoded basket

    def __post_init__(self) -> None:
        if self.n_items <= N_LENS_SPECIALS:
            raise ValueError(f"LensConfig.n_items must exceed {N_LENS_SPECIALS}, got {self.n_items}")
        if self.objective not in ("joint", "basket", "time"):
            raise ValueError(f"LensConfig.objective must be joint, basket or time, got {self.objective!r}")
        if self.time_loss not in ("mae", "mse"):
            raise ValueError(f"LensConfig.time_loss must be 'mae' or 'mse', got {self.time_loss!r}")
        if not self.nsd_hidden or self.fbe_layers < 1:
            raise ValueError("LensConfig: at least one FBE and one NSD layer")

    @property
    def context_dim(self) -> int:
        return self.fbe_hidden * (2 if self.fbe_bidirectional else 1) + self.d_user

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nsd_hidden"] = list(self.nsd_hidden)
        return d

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LensConfig:
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"LensConfig: unknown keys {sorted(unknown)}")
        raw = dict(raw)
        if "nsd_hidden" in raw:
            raw["nsd_hidden"] = tuple(int(h) for h in raw["nsd_hidden"])
        return cls(**raw)


#: Table 1 of the paper: LENS1000 (SCE 1 bi-layer of 64, FBE 1 bi-layer of 256, NSD 1 layer of 512) and LENS2000
#: (SCE 1 bi-layer of 256, FBE 2 bi-layers of 256, NSD 2 layers of 512 and 128). Embedding sizes are not in the
#: paper: items 64 / 128, users 32.
SIZES: Final[dict[str, dict[str, Any]]] = {
    "lens1000": {"d_item": 64, "sce_hidden": 64, "fbe_layers": 1, "fbe_hidden": 256, "nsd_hidden": (512,)},
    "lens2000": {
        "d_item": 128,
        "sce_hidden": 256,
        "fbe_layers": 2,
        "fbe_hidden": 256,
        "nsd_hidden": (512, 128),
    },
}


def lens_config(name: str, n_items: int, n_users: int, **overrides: Any) -> LensConfig:
    if name not in SIZES:
        raise ValueError(f"unknown LENS size {name!r}; choose one of {sorted(SIZES)}")
    return LensConfig(name=name, n_items=n_items, n_users=n_users, **{**SIZES[name], **overrides})


class SessionContentEncoder(nn.Module):
    """SCE: baskets ``[N, M]`` of item indices (0 = padding, right-padded) -> ``[N, 2 * hidden]``."""

    def __init__(self, d_item: int, hidden: int) -> None:
        super().__init__()
        self.rnn = MaskedBiLSTM(d_item, hidden, 1, True)

    def forward(self, item_emb: Tensor, lengths: Tensor) -> Tensor:
        return self.rnn(item_emb, lengths)[1]


class FunnelBehaviourEncoder(nn.Module):
    """FBE: basket vectors + session features + user embedding over time -> the funnel state ``[B, D]``."""

    def __init__(self, d_in: int, hidden: int, layers: int, bidirectional: bool, dropout: float) -> None:
        super().__init__()
        self.rnn = MaskedBiLSTM(d_in, hidden, layers, bidirectional, dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.rnn(x, lengths)[1]


class NextSessionDecoder(nn.Module):
    """NSD: stacked LSTM cells of (possibly) different sizes, initialised from the context, fed the previous item
    embedding and the context at every step; output logits over the vocabulary."""

    def __init__(self, d_item: int, d_ctx: int, sizes: tuple[int, ...], n_items: int, dropout: float) -> None:
        super().__init__()
        ins = [d_item + d_ctx] + list(sizes[:-1])
        self.cells = nn.ModuleList([nn.LSTMCell(i, h) for i, h in zip(ins, sizes, strict=True)])
        self.init_h = nn.ModuleList([nn.Linear(d_ctx, h) for h in sizes])
        self.init_c = nn.ModuleList([nn.Linear(d_ctx, h) for h in sizes])
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(sizes[-1], n_items)

    def init_state(self, ctx: Tensor) -> list[Tensor]:
        state: list[Tensor] = []
        for lin_h, lin_c in zip(self.init_h, self.init_c, strict=True):
            state.append(torch.tanh(lin_h(ctx)))
            state.append(torch.tanh(lin_c(ctx)))
        return state

    def step(self, prev_emb: Tensor, ctx: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        x = torch.cat([prev_emb, ctx], dim=-1)
        new: list[Tensor] = []
        for i, cell in enumerate(self.cells):
            h, c = cell(x, (state[2 * i], state[2 * i + 1]))
            new.append(h)
            new.append(c)
            x = self.drop(h)
        return self.out(x), new


class LENS(nn.Module):
    """SCE -> FBE -> (NSD, time head). Inputs: ``baskets [B, T, M]`` (right-padded, >= 1 basket per row),
    ``feats [B, T, F]`` session features, ``users [B]``."""

    def __init__(self, config: LensConfig) -> None:
        super().__init__()
        self.config = config
        self.n_items = config.n_items
        self.max_items = config.max_items
        self.sce_out = 2 * config.sce_hidden
        self.pad, self.eos, self.bos, self.n_specials = L_PAD, L_EOS, L_BOS, N_LENS_SPECIALS
        self.items = nn.Embedding(config.n_items, config.d_item, padding_idx=L_PAD)
        self.users = nn.Embedding(config.n_users, config.d_user)
        self.sce = SessionContentEncoder(config.d_item, config.sce_hidden)
        d_fbe = 2 * config.sce_hidden + config.n_session_features + config.d_user
        self.fbe = FunnelBehaviourEncoder(
            d_fbe, config.fbe_hidden, config.fbe_layers, config.fbe_bidirectional, config.dropout
        )
        self.nsd = NextSessionDecoder(
            config.d_item, config.context_dim, config.nsd_hidden, config.n_items, config.dropout
        )
        self.time_head = nn.Sequential(nn.Linear(config.context_dim, 64), nn.ReLU(), nn.Linear(64, 1))
        self.set_item_embeddings_trainable(not config.freeze_items)

    def set_item_embeddings_trainable(self, trainable: bool) -> None:
        self.items.weight.requires_grad_(trainable)

    def load_item_embeddings(self, weights: Tensor, freeze: bool | None = None) -> None:
        """Warm start: copy pre-trained item vectors (``[n_items, d_item]``, row 0 = padding)."""
        if tuple(weights.shape) != tuple(self.items.weight.shape):
            raise ValueError(f"item embeddings {tuple(weights.shape)} != {tuple(self.items.weight.shape)}")
        with torch.no_grad():
            self.items.weight.copy_(weights)
            self.items.weight[L_PAD].zero_()
        if freeze is not None:
            self.set_item_embeddings_trainable(not freeze)

    def encode(self, baskets: Tensor, feats: Tensor, users: Tensor) -> Tensor:
        """The funnel state (FBE output + user embedding) ``[B, context_dim]``."""
        b, t, m = baskets.shape
        flat = baskets.reshape(b * t, m)
        sizes = (flat != self.pad).sum(1)
        valid = (sizes > 0).nonzero().squeeze(1)
        vecs = torch.zeros(b * t, self.sce_out, dtype=feats.dtype, device=baskets.device)
        if valid.numel() > 0:
            sub = flat.index_select(0, valid)
            enc = self.sce(self.items(sub), sizes.index_select(0, valid))
            vecs = vecs.index_copy(0, valid, enc.to(vecs.dtype))
        u = self.users(users)
        steps = torch.cat([vecs.view(b, t, -1), feats, u.unsqueeze(1).expand(b, t, u.shape[-1])], dim=-1)
        n_baskets = (sizes.view(b, t) > 0).sum(1).clamp(min=1)
        return torch.cat([self.fbe(steps, n_baskets), u], dim=-1)

    def days(self, ctx: Tensor) -> Tensor:
        """Predicted days to the next purchase ``[B]`` (non-negative)."""
        return F.softplus(self.time_head(ctx).squeeze(-1))

    def teacher_forced_logits(self, ctx: Tensor, target: Tensor) -> Tensor:
        """Logits ``[B, S, V]`` for ``target [B, S]`` (items then ``<eos>`` then padding), inputs shifted right."""
        bos = torch.full_like(target[:, :1], L_BOS)
        inputs = torch.cat([bos, target[:, :-1]], dim=1)
        emb = self.items(inputs)
        state = self.nsd.init_state(ctx)
        out: list[Tensor] = []
        for s in range(target.shape[1]):
            logits, state = self.nsd.step(emb[:, s], ctx, state)
            out.append(logits)
        return torch.stack(out, dim=1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Decoder NLL (teacher forcing) and/or the time loss, by ``config.objective``."""
        ctx = self.encode(batch["baskets"], batch["feats"], batch["users"])
        total = ctx.new_zeros(())
        if self.config.objective in ("joint", "basket"):
            logits = self.teacher_forced_logits(ctx, batch["target"])
            total = total + F.cross_entropy(
                logits.flatten(0, 1).float(), batch["target"].flatten(), ignore_index=L_PAD
            )
        if self.config.objective in ("joint", "time"):
            total = total + self._time_loss(ctx, batch)
        return total

    def _time_loss(self, ctx: Tensor, batch: dict[str, Tensor]) -> Tensor:
        known = batch["gap_known"]
        if not bool(known.any()):
            return ctx.new_zeros(())
        err = self.days(ctx)[known] - batch["gap_days"][known]
        loss = err.abs().mean() if self.config.time_loss == "mae" else (err * err).mean()
        return loss if self.config.objective == "time" else self.config.time_weight * loss

    def first_step_probs(self, ctx: Tensor) -> Tensor:
        """``P(first decoded item = i)`` ``[B, V]`` (specials 0): the ranking used for fixed top-k metrics."""
        bos = torch.full((ctx.shape[0],), self.bos, dtype=torch.long, device=ctx.device)
        logits, _ = self.nsd.step(self.items(bos), ctx, self.nsd.init_state(ctx))
        logits[:, : self.n_specials] = -1e9
        return torch.softmax(logits.float(), dim=-1)

    def decode(self, ctx: Tensor, max_items: int) -> tuple[Tensor, Tensor]:
        """Greedy decoding: ``(items [B, S], probs [B, S])``, S <= max_items; stops at ``<eos>`` (then padding).

        An item is emitted at most once per basket; ``<pad>``/``<bos>`` are never emitted."""
        b = ctx.shape[0]
        state = self.nsd.init_state(ctx)
        prev = torch.full((b,), self.bos, dtype=torch.long, device=ctx.device)
        done = torch.zeros(b, dtype=torch.bool, device=ctx.device)
        banned = torch.zeros(b, self.n_items, dtype=torch.bool, device=ctx.device)
        banned[:, self.pad] = True
        banned[:, self.bos] = True
        items: list[Tensor] = []
        probs: list[Tensor] = []
        for _ in range(max_items):
            logits, state = self.nsd.step(self.items(prev), ctx, state)
            p = torch.softmax(logits.float().masked_fill(banned, -1e9), dim=-1)
            best_p, best = p.max(dim=-1)
            done = done | (best == self.eos)
            best = best.masked_fill(done, self.pad)
            items.append(best)
            probs.append(best_p.masked_fill(done, 0.0))
            if bool(done.all()):
                break
            banned = banned.scatter(1, best.unsqueeze(1), True)
            prev = best
        return torch.stack(items, dim=1), torch.stack(probs, dim=1)

    @torch.jit.export
    def funnel(self, baskets: Tensor, feats: Tensor, users: Tensor) -> tuple[Tensor, Tensor]:
        """Batch jobs: ``(funnel state f_E [B, context_dim], days [B])`` without decoding."""
        ctx = self.encode(baskets, feats, users)
        return ctx, self.days(ctx)

    def forward(self, baskets: Tensor, feats: Tensor, users: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Serving: ``(decoded items [B, S], their probabilities [B, S], first-step ranking [B, V], days [B])``."""
        ctx = self.encode(baskets, feats, users)
        items, probs = self.decode(ctx, self.max_items)
        return items, probs, self.first_step_probs(ctx), self.days(ctx)
