"""PARSRec's evaluation protocol for basket completion (§5.3), for any model that can score candidates step by step.

Each evaluated basket (size ``n >= 2``) is predicted in ``n`` steps. At step ``j`` the candidates are the basket
items not yet fed plus 99 random items outside the basket (drawn once per basket); a step is a hit at ``k`` when any
remaining basket item is in the top ``k``, and its NDCG uses the rank of the best-ranked remaining item. The next
input follows Eq. 2: the model's top-1 candidate if it is a remaining item, else a random remaining item.

* ``hr@k``        -- hits over all steps;
* ``ndcg@k``      -- ``1 / log2(rank + 2)`` of the best hit, 0 without a hit, over all steps;
* ``sess_prec@k`` -- Eq. 4: per basket, the share of its steps that hit at ``k``; averaged over baskets.

A model plugs in as a :class:`Stepper`: ``start`` a batch, ``scores`` of candidates at the current step, ``feed``
the chosen items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from models.basket_data import BasketData, collate, left_pad, size_batches
from models.inputs import N_SPECIALS, PAD
from models.parsrec import PARSRec

KS = (1, 5, 10)


class Stepper(Protocol):
    def start(self, batch: dict[str, Tensor]) -> None: ...

    def scores(self, candidates: Tensor) -> Tensor: ...

    def feed(self, items: Tensor) -> None: ...


def basket_metrics(best_ranks: Tensor, sessions: Tensor, ks: Sequence[int] = KS) -> dict[str, float]:
    """``best_ranks [S]`` (0-based rank of the best remaining item at each step), ``sessions [S]`` (the basket of
    each step, ids 0..N-1) -> ``hr@k``, ``ndcg@k``, ``sess_prec@k``."""
    r = best_ranks.double()
    n_sessions = int(sessions.max()) + 1 if len(sessions) else 0
    steps = torch.bincount(sessions, minlength=n_sessions).double()
    out: dict[str, float] = {}
    for k in ks:
        hit = (r < k).double()
        out[f"hr@{k}"] = float(hit.mean())
        out[f"ndcg@{k}"] = float(torch.where(r < k, 1.0 / torch.log2(r + 2.0), torch.zeros_like(r)).mean())
        per = torch.zeros(n_sessions, dtype=torch.float64).index_add_(0, sessions, hit)
        out[f"sess_prec@{k}"] = float((per / steps).mean())
    return out


def sample_negatives(basket: Tensor, n_items: int, n_neg: int, gen: torch.Generator) -> Tensor:
    """``[B, n_neg]`` items drawn uniformly, never a special and never an item of the row's basket."""
    negs = torch.randint(N_SPECIALS, n_items, (basket.shape[0], n_neg), generator=gen)
    for _ in range(100):
        bad = (negs.unsqueeze(2) == basket.unsqueeze(1)).any(2)
        if not bool(bad.any()):
            break
        negs[bad] = torch.randint(N_SPECIALS, n_items, (int(bad.sum()),), generator=gen)
    return negs


@torch.inference_mode()
def evaluate_baskets(
    stepper: Stepper,
    data: BasketData,
    pairs: Sequence[tuple[int, int]],
    max_history: int,
    ks: Sequence[int] = KS,
    n_neg: int = 99,
    batch_size: int = 512,
    seed: int = 0,
) -> dict[str, float]:
    """The protocol over the baskets ``pairs`` (of size >= 2); also ``baskets`` and ``steps`` counted."""
    gen = torch.Generator().manual_seed(seed)
    ranks, sessions = [], []
    sid = 0
    pairs = [p for p in pairs if len(data.baskets[p[0]][p[1]]) >= 2]
    for chunk in size_batches(data, pairs, batch_size, shuffle=False):
        batch = collate(data, chunk, max_history)
        basket = batch["basket"]
        negs = sample_negatives(basket, data.n_items, n_neg, gen)
        stepper.start(batch)
        remaining = basket.clone()
        ids = torch.arange(sid, sid + len(chunk))
        sid += len(chunk)
        for _ in range(basket.shape[1]):
            cands = torch.cat([remaining, negs], 1)
            s = stepper.scores(cands).float().masked_fill(cands == PAD, -math.inf)
            n = remaining.shape[1]
            best = s[:, :n].max(1).values
            ranks.append((s >= best.unsqueeze(1)).sum(1) - 1)  # others at least as high: ties count against
            sessions.append(ids)
            top = cands.gather(1, s.argmax(1, keepdim=True)).squeeze(1)
            nxt = PARSRec.pick_next(_one_hot_logits(top, data.n_items), remaining, gen)
            stepper.feed(nxt)
            remaining = remaining.masked_fill(remaining == nxt.unsqueeze(1), PAD)
    out = basket_metrics(torch.cat(ranks), torch.cat(sessions), ks) if ranks else {}
    return {**out, "baskets": float(sid), "steps": float(sum(len(r) for r in ranks))}


def _one_hot_logits(top: Tensor, n_items: int) -> Tensor:
    """Logits whose argmax is ``top`` (what :meth:`PARSRec.pick_next` reads)."""
    out = torch.zeros(top.shape[0], n_items)
    out[torch.arange(top.shape[0]), top] = 1.0
    return out


class PARSRecStepper:
    """PARSRec run step by step: the recurrence state is carried between ``scores`` and ``feed``."""

    def __init__(self, model: PARSRec, device: str = "cpu") -> None:
        self.model = model.eval()
        self.device = device

    def start(self, batch: dict[str, Tensor]) -> None:
        self.users = batch["users"].to(self.device)
        self.h = self.model.initial_state(batch["history"].to(self.device))
        b = self.users.shape[0]
        self.fed = torch.full((b, 1), 1, dtype=torch.long, device=self.device)  # SOB
        self.h_next = self.h

    def scores(self, candidates: Tensor) -> Tensor:
        m = self.model
        self.h_next, _ = m.step(m.query(self.users, self.h), self.fed)
        return m.logits(self.h_next).gather(1, candidates.to(self.device)).cpu()

    def feed(self, items: Tensor) -> None:
        self.h = self.h_next
        self.fed = torch.cat([self.fed, items.to(self.device).unsqueeze(1)], 1)


class SequenceStepper:
    """A sequential recommender (SASRec, BERT4Rec, popularity) over the flattened item sequence: the history
    items then the basket items fed so far, the newest ``max_len`` kept."""

    def __init__(self, model: Any, max_len: int, device: str = "cpu") -> None:
        self.model = model.eval()
        self.max_len = max_len
        self.device = device

    def start(self, batch: dict[str, Tensor]) -> None:
        self.tokens = batch["history"][:, -self.max_len :]

    def scores(self, candidates: Tensor) -> Tensor:
        tok = self.tokens.to(self.device)
        bsk = torch.zeros(*tok.shape, 1, dtype=torch.long, device=self.device)
        return self.model.score(tok, bsk, candidates.to(self.device)).cpu()  # type: ignore[no-any-return]

    def feed(self, items: Tensor) -> None:
        self.tokens = torch.cat([self.tokens, items.unsqueeze(1)], 1)[:, -self.max_len :]


def flat_sequences(data: BasketData, pairs: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Per user, the items of its ``pairs`` baskets concatenated in time order (baseline training data)."""
    per_user: dict[int, list[np.ndarray]] = {}
    for u, t in sorted(pairs):
        per_user.setdefault(u, []).append(data.baskets[u][t])
    return [np.concatenate(bs) for bs in per_user.values()]


def sequence_windows(seqs: Sequence[np.ndarray], length: int) -> Tensor:
    """Non-overlapping windows of ``length`` tokens (the last one left-padded) covering every sequence."""
    rows = []
    for s in seqs:
        for end in range(len(s), 1, -(length - 1)):
            rows.append(s[max(0, end - length) : end])
    return left_pad(rows, length)
