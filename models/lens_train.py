"""Training and batched inference of :class:`models.lens.LENS` (RMSprop, lr 1e-3, batches of 128: the paper's
settings), with the item2vec warm start and a wall-clock budget (long work shows progress)."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from models.item2vec import train_item2vec
from models.lens import LENS, N_LENS_SPECIALS, LensConfig
from models.lens_data import Instance, collate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LensTrainConfig:
    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    max_target: int = 20
    seed: int = 0
    time_budget_s: float = math.inf  # stop after the epoch (or batch) that crosses it
    warm_start: bool = True  # item2vec pre-training of the item embeddings
    item2vec_epochs: int = 2
    item2vec_max_baskets: int = 20_000  # a seeded sample of the training baskets (CPU bound)


@dataclass
class TrainReport:
    epochs_run: int = 0
    batches: int = 0
    seconds: float = 0.0
    stopped_by_budget: bool = False
    losses: list[float] = field(default_factory=list)  # mean loss per epoch
    item2vec_seconds: float = 0.0


def warm_start(model: LENS, train: Sequence[Instance], cfg: LensTrainConfig) -> float:
    """Pre-train item vectors on the training baskets and load them (frozen when the config says so)."""
    t0 = time.perf_counter()
    baskets = [b for x in train for b in x.baskets] + [x.target for x in train if x.target]
    if len(baskets) > cfg.item2vec_max_baskets:
        baskets = random.Random(cfg.seed).sample(baskets, cfg.item2vec_max_baskets)
    weights = train_item2vec(
        baskets,
        model.n_items,
        model.config.d_item,
        epochs=cfg.item2vec_epochs,
        seed=cfg.seed,
        n_specials=N_LENS_SPECIALS,
    )
    model.load_item_embeddings(weights, freeze=model.config.freeze_items)
    return time.perf_counter() - t0


def fit(config: LensConfig, train: Sequence[Instance], cfg: LensTrainConfig) -> tuple[LENS, TrainReport]:
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    model = LENS(config)
    report = TrainReport()
    if cfg.warm_start:
        report.item2vec_seconds = warm_start(model, train, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.RMSprop(params, lr=cfg.lr)
    t0 = time.perf_counter()
    order = list(range(len(train)))
    for epoch in range(cfg.epochs):
        model.train()
        rng.shuffle(order)
        total, n = 0.0, 0
        for s in range(0, len(order), cfg.batch_size):
            batch = collate([train[i] for i in order[s : s + cfg.batch_size]], cfg.max_target)
            loss = model.loss(batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            total, n = total + float(loss.detach()), n + 1
            report.batches += 1
            if time.perf_counter() - t0 > cfg.time_budget_s:
                report.stopped_by_budget = True
                break
        report.losses.append(total / max(n, 1))
        report.epochs_run = epoch + 1
        log.info(
            "epoch %d: loss %.4f (%d batches, %.0f s)",
            epoch + 1,
            report.losses[-1],
            n,
            time.perf_counter() - t0,
        )
        if report.stopped_by_budget:
            break
    report.seconds = time.perf_counter() - t0
    return model.eval(), report


@dataclass
class Predictions:
    decoded: list[list[int]]  # greedy baskets (item indices, <eos> excluded)
    decoded_probs: list[list[float]]
    ranked: list[list[int]]  # top-k of the first decoding step
    days: list[float]


@torch.inference_mode()
def predict(model: LENS, instances: Sequence[Instance], k: int, batch_size: int = 256) -> Predictions:
    model.eval()
    out = Predictions([], [], [], [])
    for s in range(0, len(instances), batch_size):
        batch = collate(instances[s : s + batch_size], 1)
        items, probs, first, days = model(batch["baskets"], batch["feats"], batch["users"])
        for row, prow in zip(items.tolist(), probs.tolist(), strict=True):
            keep = [(i, p) for i, p in zip(row, prow, strict=True) if i >= N_LENS_SPECIALS]
            out.decoded.append([i for i, _ in keep])
            out.decoded_probs.append([p for _, p in keep])
        out.ranked.extend(first.topk(k, dim=1).indices.tolist())
        out.days.extend(days.tolist())
    return out
