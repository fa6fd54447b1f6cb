"""PARSRec: personalized attention-based recurrent basket completion.

Gholami et al., "PARSRec: Explainable Personalized Attention-fused Recurrent Sequential Recommendation Using
Session Partial Actions", KDD 2022. One ARNN block is applied at every step ``j`` of a basket:

* query ``Q_j = [E_U(u); h_j]`` (the user embedding concatenated to the hidden state; ``use_user=False`` drops it),
  ``h_0`` = pooled item embeddings of the user's past items (Eq. 6: ``sum``; ``mean`` is the common practice:
  a config choice);
* multi-head attention of ``Q_j`` over the items already in the basket, plus a start-of-basket (SOB) key that is
  always present (so step 0 attends to it alone); no positions, so the attention is order-free;
* LayerNorm of the attention output plus the projected query ("Q in LN"), dropout;
* recurrence ``h_{j+1} = ReLU(W_1 [Q_j; z_j] + b)``; scores ``h_{j+1} . E_V`` (tied to the item embeddings),
  full-softmax cross-entropy at every step.

Vocabulary: index 0 = padding / end of basket (EOB), 1 = SOB (the ``<basket>`` special of
:mod:`models.inputs`), 2.. = items. User row 0 is the unknown user (a zero embedding).

Training uses the order-free modified teacher forcing of Eq. 2 (:meth:`PARSRec.teacher_forcing`): if the top-1
prediction of step ``j`` is still in the rest of the basket it is the step's target and the next input, otherwise
a random remaining item is. Only items chosen at earlier steps are ever inputs (causality).

Scoring a *given* partial basket (serving, :meth:`PARSRec.encode`) must not depend on the order the client listed
its items in, so the items are consumed in the model's own preference order: at each step the remaining item the
model scores highest is fed next (what teacher forcing feeds whenever the model's top-1 is in the basket).

Table 3 ablations are flags of :class:`PARSRecConfig`: ``layer_norm``, ``dropout=0``, ``q_in_ln``,
``attn_layers=2``, ``heads`` 1 or 4, ``use_user``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.inputs import BASKET, N_SPECIALS, PAD

SOB = BASKET  # the start-of-basket token reuses the <basket> special
EOB = PAD  # right padding of a basket batch; never a target


@dataclass(frozen=True)
class PARSRecConfig:
    """Everything needed to rebuild a PARSRec model (stored in checkpoints and manifests)."""

    n_items: int  # V, specials included
    n_users: int  # user rows, row 0 = unknown user
    dim: int = 128  # d_u = d_v
    heads: int = 2
    attn_layers: int = 1
    dropout: float = 0.1
    layer_norm: bool = True
    q_in_ln: bool = True
    use_user: bool = True
    history_pool: str = "mean"  # "sum" (Eq. 6) or "mean"
    max_history: int = 1000  # newest past items pooled into h_0
    name: str = "parsrec"

    def __post_init__(self) -> None:
        if self.n_items <= N_SPECIALS:
            raise ValueError(f"PARSRecConfig.n_items must exceed {N_SPECIALS}, got {self.n_items}")
        if self.n_users < 1:
            raise ValueError(f"PARSRecConfig.n_users must be >= 1, got {self.n_users}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by {self.heads} heads")
        if self.history_pool not in ("sum", "mean"):
            raise ValueError(f"history_pool must be 'sum' or 'mean', got {self.history_pool!r}")
        if not 0.0 <= self.dropout < 1.0 or self.attn_layers < 1:
            raise ValueError("need 0 <= dropout < 1 and attn_layers >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PARSRecConfig:
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"PARSRecConfig: unknown keys {sorted(unknown)}")
        return cls(**raw)


class QueryAttention(nn.Module):
    """Multi-head scaled dot-product attention of one query vector per row over a set of keys.

    ``q [B, d_q]``, ``kv [B, M, d]``, ``valid [B, M]`` -> output ``[B, d]`` and weights ``[B, heads, M]``."""

    def __init__(self, d_q: int, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.dk = d // heads
        self.wq = nn.Linear(d_q, d)
        self.wk = nn.Linear(d, d)
        self.wv = nn.Linear(d, d)
        self.wo = nn.Linear(d, d)

    def forward(self, q: Tensor, kv: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        b, m, d = kv.shape
        qh = self.wq(q).view(b, self.heads, 1, self.dk)
        kh = self.wk(kv).view(b, m, self.heads, self.dk).transpose(1, 2)
        vh = self.wv(kv).view(b, m, self.heads, self.dk).transpose(1, 2)
        logits = (qh @ kh.transpose(-1, -2)).squeeze(2) / math.sqrt(self.dk)  # [B, H, M]
        logits = logits.masked_fill(~valid.unsqueeze(1), -1e9)
        w = torch.softmax(logits.float(), dim=-1).to(kv.dtype)
        out = (w.unsqueeze(2) @ vh).squeeze(2).reshape(b, d)
        return self.wo(out), w


class KeyContext(nn.Module):
    """The lower layers of a stacked attention (``attn_layers > 1``): order-free self-attention among the basket
    keys (``LN(K + SelfAttn(K))``), whose output is the next layer's keys and values."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln = nn.LayerNorm(d)

    def forward(self, kv: Tensor, valid: Tensor) -> Tensor:
        out, _ = self.attn(kv, kv, kv, key_padding_mask=~valid, need_weights=False)
        return self.ln(kv + out)


class PARSRec(nn.Module):
    """The model. Tensors: ``users [B]``, ``history [B, H]`` (past item indices, 0-padded, any order),
    ``basket [B, M]`` (item indices, 0-padded)."""

    def __init__(self, config: PARSRecConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.n_items = c.n_items
        self.n_specials = N_SPECIALS
        self.use_user = c.use_user
        self.mean_pool = c.history_pool == "mean"
        self.layer_norm = c.layer_norm
        self.q_in_ln = c.q_in_ln
        self.max_history = c.max_history
        self.pad = PAD
        self.sob = SOB
        self.items = nn.Embedding(c.n_items, c.dim, padding_idx=PAD)
        self.users = nn.Embedding(c.n_users, c.dim, padding_idx=0, sparse=True)
        d_q = 2 * c.dim if c.use_user else c.dim
        self.attn = QueryAttention(d_q, c.dim, c.heads)
        self.context = nn.ModuleList([KeyContext(c.dim, c.heads) for _ in range(c.attn_layers - 1)])
        self.q_proj = nn.Linear(d_q, c.dim)
        self.ln = nn.LayerNorm(c.dim)
        self.rnn = nn.Linear(d_q + c.dim, c.dim)
        self.drop = nn.Dropout(c.dropout)
        self._init(c)

    def _init(self, c: PARSRecConfig) -> None:
        nn.init.uniform_(self.items.weight, -1 / math.sqrt(c.n_items), 1 / math.sqrt(c.n_items))
        nn.init.uniform_(self.users.weight, -1 / math.sqrt(c.n_users), 1 / math.sqrt(c.n_users))
        for mod in self.modules():
            if isinstance(mod, nn.Linear):  # N(0, 2 / (n + m)), the paper's Glorot-style init
                nn.init.xavier_normal_(mod.weight)
                nn.init.zeros_(mod.bias)
        with torch.no_grad():
            self.items.weight[PAD].zero_()
            self.users.weight[0].zero_()

    # --- building blocks ------------------------------------------------------------------------------------

    def initial_state(self, history: Tensor) -> Tensor:
        """``h_0 [B, d]``: sum (Eq. 6) or mean of the embeddings of the newest ``max_history`` past items."""
        history = history[:, -self.max_history :]
        # one fused gather-and-sum (no [B, H, d] tensor); padding rows are zero
        h = F.embedding_bag(history, self.items.weight, mode="sum")
        if self.mean_pool:
            h = h / (history != self.pad).sum(1, keepdim=True).clamp(min=1).to(h.dtype)
        return self.drop(h)

    def query(self, users: Tensor, h: Tensor) -> Tensor:
        if self.use_user:
            return torch.cat([self.drop(self.users(users)), h], dim=-1)
        return h

    def step(self, q: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
        """One ARNN block: ``q [B, d_q]``, ``keys [B, J]`` (SOB + items fed so far, 0 = none) ->
        ``h_next [B, d]`` and attention weights ``[B, heads, J]`` (of the last attention layer)."""
        valid = keys != self.pad
        kv = self.drop(self.items(keys))
        for layer in self.context:
            kv = layer(kv, valid)
        a, w = self.attn(q, kv, valid)
        if self.q_in_ln:
            a = a + self.q_proj(q)
        z = self.drop(self.ln(a) if self.layer_norm else a)
        return F.relu(self.rnn(torch.cat([q, z], dim=-1))), w

    def logits(self, h: Tensor) -> Tensor:
        """``h [B, d]`` -> ``[B, V]`` scores, specials -inf."""
        s = (h @ self.items.weight.t()).float()
        s[:, : self.n_specials] = -math.inf
        return s

    # --- training -------------------------------------------------------------------------------------------

    def teacher_forcing(
        self, users: Tensor, history: Tensor, basket: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Run Eq. 2 over ``basket [B, n]`` (0 = EOB on the right). Returns ``logits [B, n, V]``,
        ``targets [B, n]`` (0 where the basket has ended) and ``fed [B, n + 1]``: the keys after each step
        (``fed[:, 0]`` = SOB; ``fed[:, j + 1]`` = the target of step j)."""
        remaining = basket.clone()
        fed = torch.full_like(basket[:, :1], SOB)
        targets = []
        h = self.initial_state(history)
        out = []
        for _ in range(basket.shape[1]):
            h, _w = self.step(self.query(users, h), fed)
            logits = self.logits(h)
            out.append(logits)
            target = self.pick_next(logits.detach(), remaining, generator)
            targets.append(target)
            fed = torch.cat([fed, target.unsqueeze(1)], 1)  # a new tensor: the step's inputs stay intact
            remaining = remaining.masked_fill(remaining == target.unsqueeze(1), PAD)
        return torch.stack(out, 1), torch.stack(targets, 1), fed

    @staticmethod
    def pick_next(logits: Tensor, remaining: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Eq. 2: the top-1 prediction if it is among ``remaining [B, n]`` (0 = none), else a random remaining
        item; 0 for rows with nothing remaining."""
        top = logits.argmax(1)
        has = remaining != PAD
        in_rest = (remaining == top.unsqueeze(1)) & has
        noise = torch.rand(remaining.shape, generator=generator, device="cpu").to(remaining.device)
        rand_pos = noise.masked_fill(~has, -1.0).argmax(1)
        random = remaining.gather(1, rand_pos.unsqueeze(1)).squeeze(1)
        return torch.where(in_rest.any(1), top, random)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Mean full-softmax cross-entropy over the steps of the batch's baskets (EOB steps ignored)."""
        logits, targets, _ = self.teacher_forcing(batch["users"], batch["history"], batch["basket"])
        valid = targets != EOB
        if not bool(valid.any()):
            return logits.sum() * 0.0
        return F.cross_entropy(logits[valid], targets[valid])

    # --- scoring a given partial basket (order-free) --------------------------------------------------------

    def encode(self, users: Tensor, history: Tensor, basket: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Consume ``basket [B, M]`` (a set, 0-padded) in the model's preference order, then take one more step.

        Returns ``h [B, d]`` (its scores predict the next item), the last step's attention weights
        ``[B, heads, M + 1]`` and the keys they refer to ``[B, M + 1]`` (SOB, then the basket items in the order
        they were consumed, 0 = none)."""
        b, m = basket.shape
        remaining = basket.clone()
        fed = torch.zeros(b, m + 1, dtype=torch.long, device=basket.device)
        fed[:, 0] = self.sob
        h = self.initial_state(history)
        q = self.query(users, h)
        for j in range(m):
            has = remaining != self.pad
            if not bool(has.any()):
                break
            h_new, _ = self.step(q, fed[:, : j + 1])
            s = self.logits(h_new).gather(1, remaining).masked_fill(~has, -math.inf)
            pos = s.argmax(1)
            chosen = remaining.gather(1, pos.unsqueeze(1)).squeeze(1)
            active = has.any(1)
            fed[:, j + 1] = torch.where(active, chosen, torch.zeros_like(chosen))
            remaining = remaining.scatter(1, pos.unsqueeze(1), torch.zeros_like(pos).unsqueeze(1))
            h = torch.where(active.unsqueeze(1), h_new, h)
            q = self.query(users, h)
        h_next, w = self.step(q, fed)
        return h_next, w, fed

    def score_all(self, users: Tensor, history: Tensor, basket: Tensor) -> Tensor:
        """``[B, V]`` next-item scores given the partial basket; specials -inf."""
        return self.logits(self.encode(users, history, basket)[0])

    def score(self, users: Tensor, history: Tensor, basket: Tensor, candidates: Tensor) -> Tensor:
        s = self.score_all(users, history, basket).gather(1, candidates)
        return s.masked_fill(candidates < self.n_specials, -math.inf)

    def forward(self, users: Tensor, history: Tensor, basket: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """What TorchScript export serves: scores ``[B, V]``, head-averaged attention ``[B, M + 1]`` and keys."""
        h, w, fed = self.encode(users, history, basket)
        return self.logits(h), w.mean(1), fed

    def dense_and_sparse(self) -> tuple[list[Tensor], list[Tensor]]:
        """Parameters for Adam and for SparseAdam (the user embedding; the item embedding's gradient is dense
        because the output layer is tied to it)."""
        sparse: list[Tensor] = [self.users.weight]
        dense: list[Tensor] = [p for p in self.parameters() if p is not self.users.weight]
        return dense, sparse
