"""Training for basket completion: PARSRec (§5.2) and the sequential baselines under the same data split.

PARSRec: Adam for dense weights and SparseAdam for the user embedding, lr 1e-3, batch 256, gradient clip 30,
baskets of one size per batch; after every epoch the validation baskets are evaluated with the protocol of
:mod:`models.basket_eval` and the best epoch by ``sess_prec@10`` is kept (early stop after ``patience`` epochs
without improvement). Baselines (SASRec, BERT4Rec of :mod:`models.zoo`) train on the flattened item sequence of
each user's training baskets with their own losses, and are selected the same way.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.base import ModelConfig, SequentialRecommender
from models.basket_data import BasketData, collate, size_batches
from models.basket_eval import (
    PARSRecStepper,
    SequenceStepper,
    Stepper,
    evaluate_baskets,
    flat_sequences,
    sequence_windows,
)
from models.export import export_torchscript
from models.parsrec import PARSRec, PARSRecConfig
from models.registry import ModelRegistry
from models.zoo import build_model

SELECT_ON = "sess_prec@10"


@dataclass
class BasketTrainConfig:
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    clip: float = 30.0
    patience: int = 3
    seed: int = 0
    max_history: int = 1000
    eval_batch: int = 512
    device: str = "cpu"


@dataclass
class TrainResult:
    model: nn.Module
    best_epoch: int
    val: dict[str, float]
    curve: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _select(
    model: nn.Module,
    run_epoch: Callable[[int], float],
    stepper: Callable[[], Stepper],
    data: BasketData,
    val: list[tuple[int, int]],
    cfg: BasketTrainConfig,
    log: Callable[[str], None],
) -> TrainResult:
    t0 = time.perf_counter()
    best: dict[str, Any] = {"score": -1.0, "state": None, "epoch": 0, "val": {}}
    curve = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        loss = run_epoch(epoch)
        metrics = evaluate_baskets(stepper(), data, val, cfg.max_history, batch_size=cfg.eval_batch)
        curve.append({"epoch": epoch, "loss": loss, **metrics})
        log(f"epoch {epoch}: loss {loss:.4f} val {SELECT_ON} {metrics[SELECT_ON]:.4f}")
        if metrics[SELECT_ON] > best["score"]:
            best = {"score": metrics[SELECT_ON], "epoch": epoch, "val": metrics}
            best["state"] = copy.deepcopy(model.state_dict())
        elif epoch - best["epoch"] >= cfg.patience:
            break
    model.load_state_dict(best["state"])
    model.eval()
    return TrainResult(model, best["epoch"], best["val"], curve, time.perf_counter() - t0)


def train_parsrec(
    data: BasketData,
    model_cfg: PARSRecConfig,
    cfg: BasketTrainConfig,
    log: Callable[[str], None] = print,
) -> TrainResult:
    torch.manual_seed(cfg.seed)
    train, val, _ = data.split()
    model = PARSRec(model_cfg).to(cfg.device)
    dense, sparse = model.dense_and_sparse()
    opt_dense = torch.optim.Adam(dense, lr=cfg.lr, betas=(0.9, 0.999))
    opt_sparse = torch.optim.SparseAdam(sparse, lr=cfg.lr, betas=(0.9, 0.999))
    rng = np.random.default_rng(cfg.seed)

    def run_epoch(epoch: int) -> float:
        total, n = 0.0, 0
        for chunk in size_batches(data, train, cfg.batch_size, shuffle=True, seed=cfg.seed * 1000 + epoch):
            batch = {k: v.to(cfg.device) for k, v in collate(data, chunk, cfg.max_history, rng).items()}
            loss = model.loss(batch)
            opt_dense.zero_grad()
            opt_sparse.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(dense, cfg.clip)
            opt_dense.step()
            opt_sparse.step()
            total += float(loss.detach()) * len(chunk)
            n += len(chunk)
        return total / max(n, 1)

    return _select(model, run_epoch, lambda: PARSRecStepper(model, cfg.device), data, val, cfg, log)


def train_sequence_baseline(
    data: BasketData,
    model_cfg: ModelConfig,
    cfg: BasketTrainConfig,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """SASRec / BERT4Rec on windows of ``max_len + 1`` tokens of the flattened training baskets."""
    torch.manual_seed(cfg.seed)
    train, val, _ = data.split()
    model: SequentialRecommender = build_model(model_cfg).to(cfg.device)
    windows = sequence_windows(flat_sequences(data, train), model_cfg.max_len + 1)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)

    def run_epoch(epoch: int) -> float:
        total, n = 0.0, 0
        order = torch.randperm(len(windows), generator=gen)
        for lo in range(0, len(order), cfg.batch_size):
            tokens = windows[order[lo : lo + cfg.batch_size]].to(cfg.device)
            baskets = torch.zeros(*tokens.shape, 1, dtype=torch.long, device=cfg.device)
            loss = model.loss({"tokens": tokens, "baskets": baskets, "online": tokens >= 2})
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            total += float(loss.detach()) * len(tokens)
            n += len(tokens)
        return total / max(n, 1)

    def stepper() -> Stepper:
        return SequenceStepper(model, model_cfg.max_len, cfg.device)

    return _select(model, run_epoch, stepper, data, val, cfg, log)


class PopularityScorer(nn.Module):
    """POPRec: items ranked by how often they were bought in the training baskets."""

    def __init__(self, counts: np.ndarray) -> None:
        super().__init__()
        self.counts = torch.as_tensor(counts, dtype=torch.float32)

    def score(self, tokens: torch.Tensor, baskets: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return self.counts[candidates.cpu()]


BASKET_FAMILY = "basket"
USERS_FILE = "users.json"


def register_parsrec(
    registry_root: str | Path,
    result: TrainResult,
    data: BasketData,
    metrics: dict[str, float],
    sequence_view: str,
    data_range: dict[str, Any] | None = None,
) -> str:
    """Export a trained PARSRec and register it in the ``basket`` family (``model.pt`` TorchScript, ``vocab.json``,
    ``users.json`` with user row order, ``popularity.json`` of the training baskets); returns the version."""
    model = result.model.cpu().eval()
    assert isinstance(model, PARSRec)
    train, _, _ = data.split()
    counts = data.item_counts(train)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export_torchscript(model, folder / "model.pt")
        (folder / "vocab.json").write_text(json.dumps(data.vocab))
        (folder / USERS_FILE).write_text(json.dumps(data.users))
        pop = {data.vocab[i]: float(c) for i, c in enumerate(counts) if i >= 2 and c > 0}
        (folder / "popularity.json").write_text(json.dumps(pop))
        manifest = {
            "model_name": model.config.name,
            "family": BASKET_FAMILY,
            "config": model.config.to_dict(),
            "input_spec": {"max_history": model.config.max_history},
            "feature_versions": {"sequence": sequence_view},
            "train_data_range": data_range or {"users": data.n_users - 1, "baskets": len(train)},
            "metrics": {**metrics, "best_epoch": result.best_epoch},
        }
        return ModelRegistry(registry_root).register(folder, manifest)
