"""Scheduled retraining: a fresh point-in-time training set from the offline store, a challenger trained on it,
challenger and champion evaluated on the *same* held-out users, promotion only when the challenger is better by a
margin. Every decision is recorded (``decisions.jsonl``); a run that fails leaves the champion untouched.

Training set: for every user with a row in the sequence view, the newest row with ``event_timestamp <= end``
(:func:`omniseq.features.training.build_training_set`, so no later data leaks), restricted to behaviours in
``[start, end]``. The seed's protocol then holds out each user's last online behaviour (test) and the one before
(validation). Both models are scored through their exported TorchScript artifacts with their own vocabulary and
input spec (:func:`models.inputs.encode_batch`), i.e. exactly as the server would score them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lifecycle.promotion import Decision, decide
from models.data import from_feature_frame
from models.evaluate import metrics_from_ranks, ranks_from_scores
from models.export import load_torchscript
from models.inputs import InputSpec, encode_batch, vocab_index
from models.registry import ModelRegistry
from models.train import TrainConfig, manifest_of, run_training, write_artifacts
from omniseq.features.sequence import HybridSequence
from omniseq.features.training import LABEL_TS, build_training_set, offline_users
from omniseq.settings import OmniseqSettings, StackSettings
from serving.bundle import ModelLoadError
from serving.verify import verify_version

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


class RetrainConfig(OmniseqSettings):
    """``omniseq retrain`` options; env ``OMNISEQ_RETRAIN_<FIELD>``; unknown keys rejected."""

    model_config = SettingsConfigDict(env_prefix="OMNISEQ_RETRAIN_", extra="forbid", validate_default=True)

    model: str = "sasrec_attne"
    feature_view: str = "user_hybrid_seq_v2"
    end_ms: int | None = None  # training data up to here (default: now)
    lookback_days: float = Field(default=3650.0, gt=0)  # training data from end - lookback
    metric: str = "ndcg@10"  # full-ranking metric used for the decision
    margin: float = Field(default=0.01, ge=0.0)  # relative improvement required over the champion
    schedule: str = "0 3 * * *"  # cron expression for `omniseq retrain --schedule`
    min_users: int = Field(default=20, ge=1)
    epochs: int = Field(default=10, ge=1)
    hidden: int = Field(default=64, ge=2)
    max_len: int = Field(default=90, ge=2)
    batch_size: int = Field(default=128, ge=1)
    seed: int = 0
    progress: bool = True
    # what the offline store was filled from (e.g. the demo's dataset name); recorded in the manifest as
    # train_data_range.data_source so a champion trained on other data can be recognised
    data_source: str = "offline-store"


@dataclass(frozen=True)
class HeldOut:
    """Per user: the context (everything before the last online behaviour) and that behaviour's raw item id."""

    users: list[str]
    contexts: list[HybridSequence]
    targets: list[str]


def time_range(cfg: RetrainConfig, now_ms: int | None = None) -> tuple[int, int]:
    end = cfg.end_ms if cfg.end_ms is not None else (now_ms or int(time.time() * 1000))
    return end - int(cfg.lookback_days * DAY_MS), end


def load_sequences(
    settings: StackSettings, view_name: str, start_ms: int, end_ms: int
) -> list[HybridSequence]:
    """Each user's hybrid sequence as of ``end_ms`` from the offline store, limited to ``[start_ms, end_ms]``."""
    users = sorted(offline_users(settings, view_name))
    if not users:
        return []
    labels = pd.DataFrame({"user_id": users, LABEL_TS: [end_ms + 1] * len(users)})
    frame = build_training_set(settings, labels, view_name)
    out = []
    for rec in frame.to_dict("records"):
        if rec.get("tok_types") is None:
            continue
        seq = HybridSequence.from_features(str(rec["user_id"]), {str(k): v for k, v in rec.items()})
        seq.tokens = [t for t in seq.tokens if start_ms <= t.ts_ms <= end_ms]
        if seq.tokens:
            out.append(seq)
    return out


def held_out(seqs: Sequence[HybridSequence]) -> HeldOut:
    """The test split of the seed's protocol: each user's last online behaviour and what came before it."""
    users, contexts, targets = [], [], []
    for s in seqs:
        online = [i for i, t in enumerate(s.tokens) if not t.is_basket]
        if len(online) < 3:  # needs a training label, a validation label and a test label
            continue
        last = online[-1]
        users.append(s.user_id)
        contexts.append(HybridSequence(s.user_id, s.max_len, s.tokens[:last]))
        targets.append(s.tokens[last].item_id)
    return HeldOut(users, contexts, targets)


def evaluate_version(version: Any, data: HeldOut, batch: int = 256) -> dict[str, float]:
    """Full-ranking HR@10 / NDCG@10 of a registered version (its TorchScript artifact) on ``data``.

    A target outside the model's vocabulary counts as a miss; so do the model's own unknown items."""
    module = load_torchscript(version.model_path)
    index = vocab_index(version.vocab())
    spec = InputSpec.from_dict(version.manifest["input_spec"])
    ranks = []
    with torch.inference_mode():
        for lo in range(0, len(data.users), batch):
            ctx, tgt = data.contexts[lo : lo + batch], data.targets[lo : lo + batch]
            scores = module(*encode_batch(ctx, index, spec))
            known = torch.tensor([t in index for t in tgt])
            tidx = torch.tensor([index.get(t, 0) for t in tgt])
            r = ranks_from_scores(scores, scores.gather(1, tidx.unsqueeze(1)).squeeze(1)).double()
            ranks.append(torch.where(known, r, torch.full_like(r, math.inf)))
    if not ranks:
        raise ValueError("no held-out users to evaluate")
    return {k: v for k, v in metrics_from_ranks(torch.cat(ranks)).items() if k != "mrr"}


def train_challenger(
    cfg: RetrainConfig, seqs: Sequence[HybridSequence], registry: Any, rng: tuple[int, int]
) -> str:
    """Train ``cfg.model`` on the sequences, export and register it (not promoted); returns the version."""
    frame = pd.DataFrame([{"user_id": s.user_id, **s.to_features()} for s in seqs])
    tcfg = TrainConfig(
        model=cfg.model, dataset="offline-store", feature_view=cfg.feature_view, epochs=cfg.epochs,
        hidden=cfg.hidden, d_attn=cfg.hidden, max_len=cfg.max_len, batch_size=cfg.batch_size, seed=cfg.seed,
        progress=cfg.progress,
    )  # fmt: skip
    result = run_training(tcfg, from_feature_frame(frame))
    manifest = manifest_of(result)
    manifest["train_data_range"] = {**manifest["train_data_range"], "start_ms": rng[0], "end_ms": rng[1],
                                    "source": f"offline:{cfg.feature_view}", "data_source": cfg.data_source}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        return str(registry.register(write_artifacts(result, Path(tmp)), manifest))


def _smoke_checked(decision: Decision, mv: Any) -> Decision:
    """The decision, turned into "keep the champion" when the challenger does not load as the API loads it."""

    try:
        verify_version(mv)
    except ModelLoadError as exc:
        return dataclasses.replace(
            decision, promote=False, reason=f"challenger fails the serving check: {exc}"
        )
    return decision


def retrain_once(cfg: RetrainConfig, settings: StackSettings | None = None) -> Decision:
    """One retraining cycle; returns the recorded decision. Raises (champion untouched) when it cannot run."""
    settings = settings or StackSettings()
    registry = ModelRegistry(settings.dir("registry"))
    rng = time_range(cfg)
    seqs = load_sequences(settings, cfg.feature_view, *rng)
    data = held_out(seqs)
    if len(data.users) < cfg.min_users:
        raise RuntimeError(
            f"only {len(data.users)} users with >= 3 online behaviours in {cfg.feature_view} "
            f"(need {cfg.min_users}); nothing to train on"
        )
    challenger = train_challenger(cfg, seqs, registry, rng)
    new_metrics = evaluate_version(registry.get(challenger), data)
    champion = registry.champion()
    old_metrics = evaluate_version(champion, data) if champion is not None else None
    decision = decide(challenger, new_metrics, champion.version if champion else None, old_metrics,
                      metric=cfg.metric, margin=cfg.margin)  # fmt: skip
    if decision.promote:
        decision = _smoke_checked(decision, registry.get(challenger))
    record = {
        **decision.to_record(),
        "held_out_users": len(data.users),
        "train_data_range": list(rng),
        "challenger_metrics": new_metrics,
        "champion_metrics": old_metrics,
        "at_ms": int(time.time() * 1000),
    }
    registry.record_decision(record)
    if decision.promote:
        registry.promote(challenger)
    log.info("retrain decision: %s", decision.reason)
    return decision
