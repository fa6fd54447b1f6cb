"""The LENS experiments behind ``omniseq bench lens`` (one seed each): Ta-Feng next basket, Dunnhumby time to the
next purchase. See :mod:`bench.lens` for the protocols."""

from __future__ import annotations

import logging
import random
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from models.lens import LENS, lens_config
from models.lens_data import (
    BasketHistory,
    LensVocab,
    item_ids,
    load_dunnhumby,
    load_tafeng,
    make_instance,
    prefix_instances,
)
from models.lens_train import LensTrainConfig, fit, predict
from models.nbr_baselines import BASELINES
from models.nbr_metrics import evaluate_baskets, mae

log = logging.getLogger(__name__)
_LOADED: dict[tuple[str, int | None, int], dict[str, BasketHistory]] = {}


@dataclass(frozen=True)
class Budget:
    """How much of the data and training one run may use (the CPU scale-down, recorded in the JSON)."""

    max_users: int | None = None
    max_items: int = 5000  # vocabulary: the most frequent items; rarer ones are unknown (misses) to LENS
    max_baskets: int = 10  # input: the last baskets of a history
    max_basket_size: int = 20
    max_target: int = 10
    prefixes_per_user: int = 2
    epochs: int = 3
    time_budget_s: float = 600.0
    test_fraction: float = 0.3
    k: int = 10
    item2vec_epochs: int = 1


def _sample(histories: dict[str, Any], n: int | None, seed: int) -> list[str]:
    users = sorted(histories)
    return users if n is None or n >= len(users) else sorted(random.Random(seed).sample(users, n))


def tafeng_run(root: Path, size: str, seed: int, b: Budget, baselines: bool = True) -> dict[str, Any]:
    """Train on every customer's history prefixes and the training customers' next baskets; evaluate on the held-out
    next basket of a random ``test_fraction`` of the customers with both protocols; baselines on the same users."""
    histories, futures = load_tafeng(root)
    users = _sample(histories, b.max_users, seed)
    rng = random.Random(seed)
    test = set(rng.sample(users, round(b.test_fraction * len(users))))
    train_baskets = [x for u in users for x in histories[u].baskets] + [
        futures[u] for u in users if u not in test
    ]
    vocab = LensVocab.build(train_baskets, users, b.max_items)
    train = [
        x
        for u in users
        for x in prefix_instances(
            histories[u], vocab, b.max_baskets, b.max_basket_size, b.prefixes_per_user, rng
        )
    ]
    train += [_next(histories[u], futures[u], vocab, b) for u in users if u not in test]
    test_users = sorted(test)
    evals = [_next(histories[u], futures[u], vocab, b) for u in test_users]
    config = lens_config(size, len(vocab.items), len(vocab.users), max_items=b.k)
    model, report = fit(config, train, _train_cfg(b, seed))
    t0 = time.perf_counter()
    pred = predict(model, evals, b.k)
    infer_s = time.perf_counter() - t0
    truths = {u: futures[u] for u in test_users}
    seen = {u: {i for bk in histories[u].baskets for i in bk} for u in test_users}
    decoded = {u: item_ids(p, vocab) for u, p in zip(test_users, pred.decoded, strict=True)}
    ranked = {u: item_ids(p, vocab) for u, p in zip(test_users, pred.ranked, strict=True)}
    result: dict[str, Any] = {
        "seed": seed,
        "size": size,
        "users": len(users),
        "test_users": len(test_users),
        "train_instances": len(train),
        "vocab_items": len(vocab.items) - 3,
        "train": asdict(report),
        "inference_s": infer_s,
        "lens_paper": evaluate_baskets(decoded, truths, b.k, seen),
        "lens_rc": evaluate_baskets(ranked, truths, b.k, seen),
        "baselines": {},
    }
    hist_lists = {u: histories[u].baskets for u in users}
    for name, fn in BASELINES.items() if baselines else ():
        t0 = time.perf_counter()
        preds = fn(hist_lists, test_users, b.k)
        result["baselines"][name] = {
            **evaluate_baskets(preds, truths, b.k, seen),
            "seconds": time.perf_counter() - t0,
        }
    return result


def _next(h: BasketHistory, future: list[str], vocab: LensVocab, b: Budget) -> Any:
    return make_instance(h, vocab, len(h), future, None, b.max_baskets, b.max_basket_size)


def _train_cfg(b: Budget, seed: int) -> LensTrainConfig:
    return LensTrainConfig(
        epochs=b.epochs,
        max_target=b.max_target,
        seed=seed,
        time_budget_s=b.time_budget_s,
        item2vec_epochs=b.item2vec_epochs,
    )


def dunnhumby_run(
    root: Path, size: str, seed: int, b: Budget, time_loss: str = "mae"
) -> tuple[dict[str, Any], LENS]:
    """Hold out every household's last basket; predict the days from the one before to it (time objective only,
    the paper's "twin model" set-up) against a per-household median gap and the global median gap."""
    key = (str(root), b.max_users, 0)
    if key not in _LOADED:  # one household sample (seed 0) for every run; seeds vary the training
        _LOADED[key] = load_dunnhumby(root, b.max_users, 0)
    histories = _LOADED[key]
    users = [u for u in sorted(histories) if len(histories[u]) >= 3]
    rng = random.Random(seed)
    hist = {u: histories[u].upto(len(histories[u]) - 1) for u in users}
    vocab = LensVocab.build([x for u in users for x in hist[u].baskets], users, b.max_items)
    train = [
        x
        for u in users
        for x in prefix_instances(hist[u], vocab, b.max_baskets, b.max_basket_size, b.prefixes_per_user, rng)
    ]
    evals, truth = [], []
    for u in users:
        full = histories[u]
        evals.append(
            make_instance(
                full,
                vocab,
                len(full) - 1,
                None,
                full.gap_days(len(full) - 1),
                b.max_baskets,
                b.max_basket_size,
            )
        )
        truth.append(float(full.gap_days(len(full) - 1) or 0.0))
    config = lens_config(size, len(vocab.items), len(vocab.users), objective="time", time_loss=time_loss)
    model, report = fit(config, train, _train_cfg(b, seed))
    pred = predict(model, evals, 1).days
    gaps = {u: [float(hist[u].gap_days(i) or 0.0) for i in range(1, len(hist[u]))] for u in users}
    global_median = statistics.median([g for gs in gaps.values() for g in gs])
    per_user = [statistics.median(gaps[u]) for u in users]
    calib = predict(model, [x for x in train if x.gap_days is not None][-2000:], 1).days
    resid = sorted(
        t - p
        for t, p in zip(
            [x.gap_days or 0.0 for x in train if x.gap_days is not None][-2000:], calib, strict=True
        )
    )
    lo, hi = resid[int(0.1 * (len(resid) - 1))], resid[int(0.9 * (len(resid) - 1))]
    inside = [p + lo <= t <= p + hi for p, t in zip(pred, truth, strict=True)]
    result = {
        "seed": seed,
        "size": size,
        "households": len(users),
        "train_instances": len(train),
        "train": asdict(report),
        "time_loss": time_loss,
        "mae_days": {
            "LENS": mae(pred, truth),
            "per-customer median": mae(per_user, truth),
            "global median": mae([global_median] * len(truth), truth),
        },
        "interval": {"q10_residual": lo, "q90_residual": hi, "coverage_on_test": sum(inside) / len(inside)},
        "mean_true_gap_days": statistics.fmean(truth),
    }
    return result, model


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
