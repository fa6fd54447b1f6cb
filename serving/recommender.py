"""The hot path of ``POST /recommend``: one pipelined online-store read, encode, one forward pass, top-k.

Kept lean on purpose (latency goal p99 <= 5 ms): tensors are built by the shared encoder, masking and ranking are
single torch ops, no pandas. Every stage is timed into ``omniseq_recommend_stage_seconds``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from redis.exceptions import RedisError

from models.inputs import encode_sequence
from omniseq.features.sequence import SEQUENCE_FEATURES, HybridSequence
from serving.fallback import N_SPECIALS
from serving.metrics import Metrics
from serving.model_manager import ModelBundle

log = logging.getLogger(__name__)
FEATURE_NAMES = list(SEQUENCE_FEATURES)


class OnlineStoreLike(Protocol):
    def read(
        self, view: str, user_ids: Sequence[str], feature_names: Sequence[str]
    ) -> list[dict[str, Any] | None]: ...


class StoreUnavailableError(RuntimeError):
    """The online feature store could not be read."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    items: list[tuple[str, float]]
    fallback: bool
    reason: str | None


class Recommender:
    """Scores one user with one model bundle. Thread-safe (no mutable state except the store circuit breaker)."""

    def __init__(
        self,
        store: OnlineStoreLike,
        metrics: Metrics,
        exclude_seen: bool = False,
        store_down_fallback: bool = False,
        store_retry_s: float = 0.5,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.exclude_seen = exclude_seen
        self.store_down_fallback = store_down_fallback
        self.store_retry_s = store_retry_s
        self._down_until = 0.0  # after a failed read, fail fast (no socket wait) until then

    def recommend(
        self, bundle: ModelBundle, user_id: str, k: int, exclude: Sequence[str] = ()
    ) -> Recommendation:
        try:
            row = self._read(bundle.sequence_view, user_id)
        except StoreUnavailableError:
            if not self.store_down_fallback:
                raise
            return self._fallback(bundle, k, exclude, "store_unavailable")
        if row is None or not row.get("seq_len"):
            return self._fallback(bundle, k, exclude, "no_history")
        t0 = time.perf_counter()
        try:
            seq = HybridSequence.from_features(user_id, row, max_len=bundle.spec.max_len)
            tokens, baskets = encode_sequence(seq, bundle.index, bundle.spec)
        except (ValueError, TypeError, KeyError) as exc:
            self.metrics.feature_errors.inc()
            log.warning("user %s: undecodable feature row in %s: %s", user_id, bundle.sequence_view, exc)
            return self._fallback(bundle, k, exclude, "bad_features")
        if not bool(tokens.any()):
            return self._fallback(bundle, k, exclude, "no_known_items")
        t1 = time.perf_counter()
        with torch.inference_mode():
            scores = bundle.module(tokens.unsqueeze(0), baskets.unsqueeze(0))[0]
            t2 = time.perf_counter()
            seen = torch.cat([tokens, baskets.flatten()]) if self.exclude_seen else None
            items = self._rank(bundle, scores, k, exclude, seen)
        t3 = time.perf_counter()
        self.metrics.observe_stage("encode", t1 - t0)
        self.metrics.observe_stage("model", t2 - t1)
        self.metrics.observe_stage("rank", t3 - t2)
        return Recommendation(items, False, None)

    def _read(self, view: str, user_id: str) -> dict[str, Any] | None:
        if self._down_until and time.monotonic() < self._down_until:
            raise StoreUnavailableError("online feature store unreachable (retrying shortly)")
        t0 = time.perf_counter()
        try:
            rows = self.store.read(view, [user_id], FEATURE_NAMES)
        except (RedisError, OSError) as exc:
            self.metrics.store_errors.inc()
            self._down_until = time.monotonic() + self.store_retry_s
            raise StoreUnavailableError(
                f"online feature store unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        self._down_until = 0.0
        dt = time.perf_counter() - t0
        self.metrics.feature_read.observe(dt)
        self.metrics.observe_stage("feature_read", dt)
        return rows[0] if rows else None

    def _fallback(self, bundle: ModelBundle, k: int, exclude: Sequence[str], reason: str) -> Recommendation:
        self.metrics.fallbacks.labels(reason=reason).inc()
        with torch.inference_mode():
            items = self._rank(bundle, bundle.popularity.clone(), k, exclude, None)
        return Recommendation(items, True, reason)

    @staticmethod
    def _rank(
        bundle: ModelBundle, scores: torch.Tensor, k: int, exclude: Sequence[str], seen: torch.Tensor | None
    ) -> list[tuple[str, float]]:
        """Top-k over the vocabulary without specials, excluded and (optionally) seen items; finite scores only."""
        scores[:N_SPECIALS] = -math.inf  # in place: the caller owns ``scores`` (a fresh output or a clone)
        if exclude:
            idx = [i for i in (bundle.index.get(x) for x in exclude) if i is not None]
            if idx:
                scores[torch.tensor(idx, dtype=torch.long)] = -math.inf
        if seen is not None:
            scores[seen] = -math.inf  # index 0 (padding) is already -inf
        values, indices = torch.topk(scores, min(k, scores.shape[0]))
        vocab = bundle.vocab
        return [
            (vocab[i], v) for v, i in zip(values.tolist(), indices.tolist(), strict=True) if math.isfinite(v)
        ]
