"""Training: typed config, the epoch loop (best checkpoint on validation), curves, and registration.

Seed defaults (§VI-C): Adam, lr 1e-3, batch 512, dropout 0.2, max length 90, 20 epochs, best checkpoint on
validation; cross-entropy with sampled negatives (Klenitskiy & Vasilev 2023) or full cross-entropy. A GPU is used
when present (bfloat16 autocast), the CPU otherwise. Same seed -> same result on the same machine.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from matplotlib.figure import Figure
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from tqdm import tqdm

from models.ann import write_item_index
from models.base import ModelConfig, SequentialRecommender
from models.data import (
    EvalSet,
    SequenceData,
    bucketed_batches,
    eval_set,
    from_dataset,
    sequence_lengths,
    training_tensors,
    trim_leading_padding,
)
from models.evaluate import evaluate
from models.export import export_torchscript, save_checkpoint
from models.inputs import BASKET, InputSpec, StoreMode
from models.zoo import build_model, check_name, store_mode_of
from omniseq.settings import OmniseqSettings


class TrainConfig(OmniseqSettings):
    """``omniseq train`` options; env ``OMNISEQ_TRAIN_<FIELD>``; unknown keys rejected."""

    model_config = SettingsConfigDict(env_prefix="OMNISEQ_TRAIN_", extra="forbid", validate_default=True)

    model: str = "sasrec"
    dataset: str = "hm"  # an omniseq.data.load name
    data_root: str | None = None
    hidden: int = Field(default=64, ge=2)
    blocks: int = Field(default=2, ge=1)
    heads: int = Field(default=1, ge=1)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    max_len: int = Field(default=90, ge=2)
    max_basket: int = Field(default=16, ge=1)
    d_attn: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0.0)
    batch_size: int = Field(default=512, ge=1)
    epochs: int = Field(default=20, ge=1)
    loss: Literal["sampled", "full"] = "sampled"
    n_negatives: int = Field(default=256, ge=1)
    mask_prob: float = Field(default=0.2, gt=0.0, lt=1.0)
    channel_attention: Literal["bilinear", "uniform"] = "bilinear"  # C2Rec
    lambda_cls: float = Field(default=0.1, ge=0.0)  # C2Rec interaction-classification weight
    lambda_attn: float = Field(default=0.1, ge=0.0)  # C2Rec attention-regulariser weight
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(default=None, ge=1)
    eval_users: int = Field(default=10_000, ge=1)  # validation users evaluated after each epoch
    val_metric: str = "full_ndcg@10"
    patience: int | None = Field(default=None, ge=1)  # stop after this many epochs without improvement
    feature_view: str = "user_hybrid_seq_v2"
    # batches of similar lengths with leading padding trimmed (same maths, less work)
    bucket_by_length: bool = True
    progress: bool = True

    def check(self) -> TrainConfig:
        check_name(self.model)
        return self

    def input_spec(self) -> InputSpec:
        mode = cast(StoreMode, store_mode_of(self.model))
        return InputSpec(max_len=self.max_len, max_basket=self.max_basket, store_mode=mode)

    def model_config_for(self, n_items: int) -> ModelConfig:
        return ModelConfig(
            name=self.model,
            n_items=n_items,
            hidden=self.hidden,
            blocks=self.blocks,
            heads=self.heads,
            dropout=self.dropout,
            max_len=self.max_len,
            max_basket=self.max_basket,
            store_mode=store_mode_of(self.model),
            d_attn=self.d_attn,
            loss=self.loss,
            n_negatives=self.n_negatives,
            mask_prob=self.mask_prob,
            channel_attention=self.channel_attention,
            lambda_cls=self.lambda_cls,
            lambda_attn=self.lambda_attn,
        )


@dataclass
class History:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_value: float = float("-inf")


@dataclass
class TrainResult:
    model: SequentialRecommender
    vocab: list[str]
    spec: InputSpec
    config: TrainConfig
    history: History
    valid_metrics: dict[str, float]
    test_metrics: dict[str, float]
    data_range: dict[str, Any]
    item_counts: dict[str, int]


def pick_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def epoch_batches(
    train: dict[str, torch.Tensor], cfg: TrainConfig, gen: torch.Generator
) -> list[torch.Tensor]:
    """One epoch's mini-batches of row indices: length-bucketed (default) or plainly shuffled."""
    if cfg.bucket_by_length:
        return bucketed_batches(sequence_lengths(train["tokens"]), cfg.batch_size, gen)
    return list(torch.randperm(int(train["tokens"].shape[0]), generator=gen).split(cfg.batch_size))


def train_epoch(
    model: SequentialRecommender,
    opt: torch.optim.Optimizer,
    train: dict[str, torch.Tensor],
    cfg: TrainConfig,
    device: torch.device,
    gen: torch.Generator,
    desc: str,
) -> float:
    model.train()
    total, steps = 0.0, 0
    bar = tqdm(epoch_batches(train, cfg, gen), desc=desc, disable=not cfg.progress, leave=False)
    for idx in bar:
        batch = {k: v[idx] for k, v in train.items()}
        batch = trim_leading_padding(batch) if cfg.bucket_by_length else batch
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = model.loss(batch)
        if loss.requires_grad:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        total += float(loss.detach())
        steps += 1
        bar.set_postfix(loss=f"{total / steps:.4f}")
    return total / max(steps, 1)


def fit(
    model: SequentialRecommender, train: dict[str, torch.Tensor], valid: EvalSet, cfg: TrainConfig
) -> History:
    """Train for ``cfg.epochs``; after each epoch evaluate on (up to ``eval_users``) validation users and keep the
    best state by ``cfg.val_metric``. The model ends with the best state loaded."""
    device = pick_device(cfg.device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params or [torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    val = valid.subset(cfg.eval_users)
    hist, best_state, stale = History(), copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(model, opt, train, cfg, device, gen, f"{cfg.model} epoch {epoch}/{cfg.epochs}")
        train_s = time.perf_counter() - t0
        m = evaluate(model, val, protocols=("full",), seed=cfg.seed, device=device)
        row = {
            "epoch": epoch,
            "loss": loss,
            "train_s": train_s,
            "eval_s": time.perf_counter() - t0 - train_s,
            **m,
        }
        hist.epochs.append(row)
        value = m.get(cfg.val_metric)
        if value is None:
            raise KeyError(f"val_metric {cfg.val_metric!r} not among {sorted(m)}")
        if value > hist.best_value:
            hist.best_epoch, hist.best_value, stale = epoch, value, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if cfg.progress:
            tqdm.write(
                f"{cfg.model} epoch {epoch}: loss {loss:.4f} {cfg.val_metric} {value:.4f} ({train_s:.1f}s)"
            )
        if cfg.patience and stale >= cfg.patience:
            break
    model.load_state_dict(best_state)
    return hist


def item_counts(
    data: SequenceData, train: dict[str, torch.Tensor], channel: str = "online"
) -> dict[str, int]:
    """Training item frequencies of one channel (online labels, or the items of in-store baskets)."""
    if channel == "store":
        tokens = train["baskets"][train["tokens"] == BASKET].flatten()
    else:
        tokens = train["tokens"][train["online"]]
    counts = torch.bincount(tokens, minlength=data.n_items)
    return {data.vocab[i]: int(c) for i, c in enumerate(counts.tolist()) if c > 0 and i >= 2}


def run_training(cfg: TrainConfig, data: SequenceData | None = None) -> TrainResult:
    """Load data (unless given), build the model, fit, evaluate on the test targets with both protocols."""
    cfg.check()
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = data if data is not None else from_dataset(cfg.dataset, cfg.data_root)
    spec = cfg.input_spec()
    train = training_tensors(data, spec)
    valid, test = eval_set(data, spec, "valid"), eval_set(data, spec, "test")
    model = build_model(cfg.model_config_for(data.n_items))
    hist = fit(model, train, valid, cfg)
    device = pick_device(cfg.device)
    valid_m = evaluate(model, valid, seed=cfg.seed, device=device)
    test_m = evaluate(model, test, seed=cfg.seed + 1, device=device)
    model.cpu().eval()
    return TrainResult(
        model, data.vocab, spec, cfg, hist, valid_m, test_m, data.train_data_range(),
        item_counts(data, train, getattr(model, "served_channel", "online")),
    )  # fmt: skip


def plot_curves(hist: History, path: Path, title: str) -> None:
    """Loss and validation metrics per epoch as a PNG (matplotlib, Agg backend)."""
    epochs = [r["epoch"] for r in hist.epochs]
    fig = Figure(figsize=(9, 3.2))
    a, b = fig.subplots(1, 2)
    a.plot(epochs, [r["loss"] for r in hist.epochs], marker="o")
    a.set(xlabel="epoch", ylabel="training loss", title=title)
    for key in ("full_hr@10", "full_ndcg@10"):
        b.plot(epochs, [r[key] for r in hist.epochs], marker="o", label=key)
    b.axvline(hist.best_epoch, color="grey", linestyle=":", label="best")
    b.set(xlabel="epoch", ylabel="validation", title="validation (full ranking)")
    b.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def manifest_of(result: TrainResult) -> dict[str, Any]:
    cfg = result.config
    family = getattr(result.model, "family", None)  # cross-channel models register in their own family
    return {
        "model_name": cfg.model,
        **({"family": family, "channel": getattr(result.model, "served_channel", None)} if family else {}),
        "config": result.model.config.to_dict(),
        "train_config": json.loads(cfg.model_dump_json()),
        "input_spec": result.spec.to_dict(),
        "feature_versions": {"sequence": cfg.feature_view},
        "train_data_range": {"dataset": cfg.dataset, **result.data_range},
        "metrics": {
            **{f"valid_{k}": v for k, v in result.valid_metrics.items()},
            **result.test_metrics,
            "ndcg@10": result.test_metrics["full_ndcg@10"],
            "hr@10": result.test_metrics["full_hr@10"],
        },
        "best_epoch": result.history.best_epoch,
        "specials": {"0": "<pad>", "1": "<basket>"},
    }


def write_artifacts(result: TrainResult, out_dir: Path) -> Path:
    """``model.pt`` (TorchScript), ``vocab.json``, ``popularity.json``, ``checkpoint.pt``, ``curves.png``, and for a
    large catalogue the retrieval index ``item_index.faiss`` (:mod:`models.ann`), so it is versioned with the model."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scripted = export_torchscript(
        result.model, out_dir / "model.pt", getattr(result.model, "served_channel", None)
    )
    if hasattr(scripted, "item_embeddings"):
        with torch.inference_mode():
            write_item_index(out_dir, scripted.item_embeddings())
    save_checkpoint(out_dir / "checkpoint.pt", result.model, result.vocab, result.spec)
    (out_dir / "vocab.json").write_text(json.dumps(result.vocab))
    (out_dir / "popularity.json").write_text(json.dumps(result.item_counts))
    (out_dir / "history.json").write_text(json.dumps(result.history.epochs, indent=1))
    plot_curves(result.history, out_dir / "curves.png", cfg_title(result.config))
    return out_dir


def cfg_title(cfg: TrainConfig) -> str:
    return f"{cfg.model} on {cfg.dataset} (seed {cfg.seed})"
