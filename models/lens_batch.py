"""Running a registered LENS model over many basket histories for the batch jobs (Algorithms 1 and 2 of
:mod:`models.lens_jobs`), and training a model for the ``next_basket`` family."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from models.lens import N_LENS_SPECIALS, lens_config
from models.lens_data import DAY_MS, BasketHistory, LensVocab, collate, make_instance, prefix_instances
from models.lens_jobs import (
    AnomalyRecord,
    CustomerForecast,
    OOSAlert,
    detect_anomalies,
    oos_alerts,
    predicted_demand,
    prediction_distance,
)
from models.lens_registry import register_lens
from models.lens_train import LensTrainConfig, fit, predict
from models.registry import ModelRegistry


@dataclass(frozen=True)
class Scored:
    user_id: str
    items: list[str]
    days: float
    embedding: torch.Tensor


def run_model(
    module: Any, vocab: LensVocab, histories: Sequence[BasketHistory], max_baskets: int, max_basket_size: int,
    batch_size: int = 256,
) -> list[Scored]:  # fmt: skip
    """Decoded basket, days and funnel state of each history (a TorchScript LENS export or the eager model)."""
    out: list[Scored] = []
    for s in range(0, len(histories), batch_size):
        chunk = histories[s : s + batch_size]
        insts = [make_instance(h, vocab, len(h), None, None, max_baskets, max_basket_size) for h in chunk]
        batch = collate(insts, 1)
        with torch.inference_mode():
            items, _, _, days = module(batch["baskets"], batch["feats"], batch["users"])
            ctx, _ = module.funnel(batch["baskets"], batch["feats"], batch["users"])
        for h, row, d, e in zip(chunk, items.tolist(), days.tolist(), ctx, strict=True):
            out.append(
                Scored(h.user_id, [vocab.items[i] for i in row if i >= N_LENS_SPECIALS], float(d), e.clone())
            )
    return out


def anomalies(
    module: Any, vocab: LensVocab, histories: Mapping[str, BasketHistory], max_baskets: int, max_basket_size: int,
    n_clusters: int, threshold: float, seed: int = 0,
) -> list[AnomalyRecord]:  # fmt: skip
    """Algorithm 1: predict each customer's last basket from the ones before, compare with what happened,
    cluster the funnel states, score within clusters. Customers with fewer than 2 baskets are skipped."""
    users = [u for u in sorted(histories) if len(histories[u]) >= 2]
    inputs = [histories[u].upto(len(histories[u]) - 1) for u in users]
    scored = run_model(module, vocab, inputs, max_baskets, max_basket_size)
    dists = []
    for u, s in zip(users, scored, strict=True):
        h = histories[u]
        dists.append(prediction_distance(s.items, h.baskets[-1], s.days, h.gap_days(len(h) - 1)))
    emb = torch.stack([s.embedding for s in scored]) if scored else torch.zeros(0, 1)
    return detect_anomalies(users, dists, emb, n_clusters, threshold, seed=seed)


def forecasts(
    module: Any, vocab: LensVocab, histories: Mapping[str, BasketHistory], as_of_ms: int, max_baskets: int,
    max_basket_size: int,
) -> list[CustomerForecast]:  # fmt: skip
    """Each customer's next basket placed on its predicted day after ``as_of_ms``, at the customer's most frequent
    store, with the customer's mean quantity per basket line (1 without quantities)."""
    users = [u for u in sorted(histories) if len(histories[u]) >= 1 and histories[u].ts_ms]
    scored = run_model(module, vocab, [histories[u] for u in users], max_baskets, max_basket_size)
    out = []
    for u, s in zip(users, scored, strict=True):
        h = histories[u]
        assert h.ts_ms is not None
        stores = h.stores or ["store"]
        store = max(set(stores), key=lambda x: (stores.count(x), x))
        lines = sum(len(b) for b in h.baskets)
        q = (sum(h.quantities) / lines) if h.quantities and lines else 1.0
        day = (h.ts_ms[-1] + s.days * DAY_MS - as_of_ms) / DAY_MS
        out.append(CustomerForecast(u, store, s.items, [q] * len(s.items), day))
    return out


def alerts(
    fcs: Sequence[CustomerForecast], n_days: int, resupply: Callable[[str, str, int], float]
) -> list[OOSAlert]:
    """Algorithm 2 over the forecasts."""
    return oos_alerts(predicted_demand(fcs, n_days), resupply)


def train_and_register(
    histories: Mapping[str, BasketHistory], size: str, registry: ModelRegistry, cfg: LensTrainConfig,
    max_items: int = 5000, max_baskets: int = 10, max_basket_size: int = 20, prefixes_per_user: int = 3,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Train a joint (basket + time) model on every history's prefixes, calibrate the days interval on the last
    prefix of each history (10 % / 90 % residual quantiles) and register it; returns (version, metrics)."""
    rng = random.Random(cfg.seed)
    users = sorted(histories)
    vocab = LensVocab.build([b for u in users for b in histories[u].baskets], users, max_items)
    train = [
        x
        for u in users
        for x in prefix_instances(histories[u], vocab, max_baskets, max_basket_size, prefixes_per_user, rng)
    ]
    if not train:
        raise ValueError("no training instances: every history has fewer than 2 baskets")
    model, report = fit(lens_config(size, len(vocab.items), len(vocab.users)), train, cfg)
    timed = [x for x in train if x.gap_days is not None][-2000:]
    lo = hi = 0.0
    if timed:
        days = predict(model, timed, 1).days
        resid = sorted((x.gap_days or 0.0) - d for x, d in zip(timed, days, strict=True))
        lo, hi = resid[int(0.1 * (len(resid) - 1))], resid[math.ceil(0.9 * (len(resid) - 1))]
    metrics = {
        "train_loss": report.losses[-1] if report.losses else float("nan"),
        "epochs": report.epochs_run,
    }
    version = register_lens(
        registry, model, vocab, max_baskets=max_baskets, max_basket_size=max_basket_size, interval=(lo, hi),
        metrics=metrics, train_data_range={"users": len(users), "instances": len(train)},
    )  # fmt: skip
    return version, metrics
