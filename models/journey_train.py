"""Training, generation and checkpoints of the journey generators, and the first-order Markov baseline.

A prompt is the first ``prompt_points`` points of a real journey (7 in the seed); generation samples tokens
(temperature, optional top-k) until ``</s>`` or the model's ``max_len``.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.journey_gpt import JourneyNet
from models.journey_tokens import BOS_ID, EOS_ID, PAD_ID
from omniseq.data.journey_encoding import BUY

PROMPT_POINTS = 7


def prompt_of(words: Sequence[str], points: int = PROMPT_POINTS) -> list[str]:
    """The words up to and including the ``points``-th location code (purchase words on the way kept)."""
    out, seen = [], 0
    for w in words:
        if w != BUY:
            if seen == points:
                break
            seen += 1
        out.append(w)
    return out


@dataclass(frozen=True)
class TrainSettings:
    epochs: float = 6.0
    min_steps: int = 30
    max_steps: int = 2000
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0


def batch_tensor(rows: Sequence[Sequence[int]], max_len: int) -> torch.Tensor:
    """``<s> ids </s>`` right-padded with 0, truncated to ``max_len``."""
    seqs = [[BOS_ID, *r, EOS_ID][:max_len] for r in rows]
    out = torch.full((len(seqs), max(len(s) for s in seqs)), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s)
    return out


def train_model(
    model: JourneyNet,
    encoded: Sequence[Sequence[int]],
    st: TrainSettings,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """AdamW with linear warm-up and cosine decay; ``epochs * len / batch`` steps clamped to the step bounds."""
    steps = int(min(st.max_steps, max(st.min_steps, math.ceil(st.epochs * len(encoded) / st.batch))))
    gen = torch.Generator().manual_seed(st.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=st.lr, weight_decay=st.weight_decay)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    for s in range(steps):
        idx = torch.randint(len(encoded), (min(st.batch, len(encoded)),), generator=gen).tolist()
        loss = model.loss(batch_tensor([encoded[i] for i in idx], model.max_len))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log and (s + 1) % max(1, steps // 5) == 0:
            log(f"step {s + 1}/{steps} loss {np.mean(losses[-20:]):.3f}")
    model.eval()
    return {"steps": steps, "first_loss": losses[0], "last_loss": float(np.mean(losses[-10:])),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


@torch.no_grad()
def generate(
    model: JourneyNet,
    prompts: Sequence[Sequence[int]],
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int = 0,
    batch: int = 64,
) -> list[list[int]]:
    """Continuations (prompt excluded, ``</s>`` dropped) of each prompt; rows of one batch share a prompt length."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out: list[list[int]] = [[] for _ in prompts]
    by_len: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(prompts):
        by_len[len(p) + 1].append(i)
    for n, rows in sorted(by_len.items()):
        for lo in range(0, len(rows), batch):
            part = rows[lo : lo + batch]
            toks = torch.tensor([[BOS_ID, *prompts[i]] for i in part], dtype=torch.long)
            k, v = model.empty_cache(len(part))
            logits, k, v = model.step(toks, 0, k, v)
            done = torch.zeros(len(part), dtype=torch.bool)
            for pos in range(n, model.max_len):
                nxt = _sample(logits[:, -1] / temperature, top_k, gen)
                for j, i in enumerate(part):
                    if not done[j] and int(nxt[j]) != EOS_ID:
                        out[i].append(int(nxt[j]))
                done |= nxt == EOS_ID
                if bool(done.all()) or pos + 1 >= model.max_len:
                    break
                logits, k, v = model.step(nxt.unsqueeze(1), pos, k, v)
    return out


def _sample(logits: torch.Tensor, top_k: int, gen: torch.Generator) -> torch.Tensor:
    logits = logits.clone()
    logits[:, PAD_ID] = -math.inf
    logits[:, BOS_ID] = -math.inf
    if top_k > 0:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits[logits < kth] = -math.inf
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen).squeeze(1)


class MarkovChain:
    """First-order Markov chain over cells: the state is a code, or a code followed by a purchase (``code$``)."""

    END = "</s>"

    def __init__(self) -> None:
        self.next: dict[str, Counter[str]] = defaultdict(Counter)
        self.unigram: Counter[str] = Counter()

    @staticmethod
    def states(words: Sequence[str]) -> list[str]:
        out: list[str] = []
        for w in words:
            if w == BUY and out:
                out[-1] = out[-1].rstrip(BUY) + BUY
            elif w != BUY:
                out.append(w)
        return out

    def fit(self, journeys: Sequence[Sequence[str]]) -> MarkovChain:
        for words in journeys:
            s = self.states(words)
            self.unigram.update(s)
            for a, b in zip(s, [*s[1:], self.END], strict=True):
                self.next[a][b] += 1
        return self

    def generate(self, prompt: Sequence[str], seed: int, max_points: int = 256) -> list[str]:
        """Continuation words after ``prompt`` (unseen states fall back to the unigram distribution)."""
        rng = np.random.default_rng(seed)
        state = self.states(prompt)[-1]
        words: list[str] = []
        for _ in range(max_points):
            counts = self.next.get(state) or self.unigram
            keys = list(counts)
            p = np.array([counts[x] for x in keys], dtype=float)
            state = keys[int(rng.choice(len(keys), p=p / p.sum()))]
            if state == self.END:
                break
            words += [state.rstrip(BUY), BUY] if state.endswith(BUY) else [state]
        return words
