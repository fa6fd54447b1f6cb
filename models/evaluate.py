"""Evaluation protocols (leave-last-out), vectorised over users.

* ``full``    -- FULL RANKING: the target's rank among all items (specials excluded), as in Klenitskiy &
  Vasilev (2023).
* ``sampled`` -- SAMPLED (the seed's and the SASRec paper's protocol): the target among 100 items drawn uniformly
  from the items (never a special, never the target, never an item of the user's input history).

HR@k = 1 if rank < k; NDCG@k = 1 / log2(rank + 2) if rank < k (one relevant item), averaged over users. The rank
is the number of candidates scoring at least as high as the target, the target excluded (ties count against the
model). Batched ``score_all`` / ``score`` + comparisons: no per-user Python loop; users are batched by sequence length and
leading padding is trimmed (exact: positions count from the right).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from models.base import SequentialRecommender
from models.data import EvalSet, sequence_lengths, trim_leading_padding
from models.inputs import N_SPECIALS

PROTOCOLS = ("full", "sampled")


def ranks_from_scores(scores: Tensor, target_scores: Tensor) -> Tensor:
    """``scores [B, C]`` (the target among them), ``target_scores [B]`` -> 0-based ranks ``[B]``: how many other
    candidates score at least as high (ties count against the model)."""
    return (scores >= target_scores.unsqueeze(1)).sum(1) - 1


def metrics_from_ranks(ranks: Tensor, ks: Sequence[int] = (10,), prefix: str = "") -> dict[str, float]:
    r = ranks.double()
    out: dict[str, float] = {}
    for k in ks:
        hit = r < k
        out[f"{prefix}hr@{k}"] = float(hit.double().mean())
        out[f"{prefix}ndcg@{k}"] = float(
            torch.where(hit, 1.0 / torch.log2(r + 2.0), torch.zeros_like(r)).mean()
        )
    out[f"{prefix}mrr"] = float((1.0 / (r + 1.0)).mean())
    return out


def sample_candidates(ev: EvalSet, n_items: int, n_neg: int, generator: torch.Generator) -> Tensor:
    """``[N, 1 + n_neg]``: the target first, then negatives (uniform over items, resampled while they hit the
    target or the user's seen items)."""
    n = len(ev)
    if n_items - N_SPECIALS <= n_neg + 1:
        raise ValueError(f"need more than {n_neg + 1} items to sample {n_neg} negatives, have {n_items - 2}")
    user_of = torch.repeat_interleave(torch.arange(n), ev.seen_offsets.diff())
    seen_keys = user_of * n_items + ev.seen_items  # sorted (users ascending, items sorted per user)
    negs = torch.randint(N_SPECIALS, n_items, (n, n_neg), generator=generator)
    rows = torch.arange(n).unsqueeze(1)
    for _ in range(100):
        keys = rows * n_items + negs
        pos = (
            torch.searchsorted(seen_keys, keys.flatten()).clamp(max=max(len(seen_keys) - 1, 0)).view_as(keys)
        )
        bad = negs == ev.targets.unsqueeze(1)
        if len(seen_keys):
            bad |= seen_keys[pos] == keys
        if not bool(bad.any()):
            break
        negs[bad] = torch.randint(N_SPECIALS, n_items, (int(bad.sum()),), generator=generator)
    return torch.cat([ev.targets.unsqueeze(1), negs], dim=1)


@torch.inference_mode()
def evaluate(
    model: SequentialRecommender,
    ev: EvalSet,
    protocols: Sequence[str] = PROTOCOLS,
    ks: Sequence[int] = (10,),
    batch_size: int = 1024,
    n_neg: int = 100,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Metrics of ``model`` on ``ev``: keys ``full_hr@10``, ``full_ndcg@10``, ``sampled_hr@10``, ..."""
    for p in protocols:
        if p not in PROTOCOLS:
            raise ValueError(f"unknown protocol {p!r}; choose from {PROTOCOLS}")
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    cands = sample_candidates(ev, model.n_items, n_neg, gen) if "sampled" in protocols else None
    ranks: dict[str, list[Tensor]] = {p: [] for p in protocols}
    order = torch.argsort(sequence_lengths(ev.tokens), stable=True)  # similar lengths share a batch
    for lo in range(0, len(ev), batch_size):
        idx = order[lo : lo + batch_size]
        inputs = trim_leading_padding({"tokens": ev.tokens[idx], "baskets": ev.baskets[idx]}, keep=1)
        tok, bsk = inputs["tokens"].to(device), inputs["baskets"].to(device)
        tgt = ev.targets[idx].to(device)
        if "full" in protocols:
            s = model.score_all(tok, bsk).float()
            ranks["full"].append(ranks_from_scores(s, s.gather(1, tgt.unsqueeze(1)).squeeze(1)).cpu())
        if cands is not None:
            c = cands[idx].to(device)
            s = model.score(tok, bsk, c).float()
            ranks["sampled"].append(ranks_from_scores(s, s[:, 0]).cpu())
    model.train(was_training)
    out: dict[str, float] = {"users": float(len(ev))}
    for p in protocols:
        out.update(metrics_from_ranks(torch.cat(ranks[p]), ks, prefix=f"{p}_"))
    return out
