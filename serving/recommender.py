"""The hot path of ``POST /recommend``: one online-store read, encode, the user representation, top-k.

Kept lean on purpose (latency goal p99 <= 5 ms): tensors are built by the shared encoder, masking and ranking are
single torch ops, no pandas. For models that export a user representation, a per-process :class:`UserCache` skips
decode, encode and the forward pass while the user's stored row is unchanged, and :class:`serving.scoring.ItemScorer`
ranks the catalogue (full product, or ANN retrieval then exact scoring). Before all that, the
:class:`~serving.answer_cache.AnswerCache` sends the serialised answer again when the row is byte-identical to the one
it came from. Every stage is timed into ``omniseq_recommend_stage_seconds``.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from redis.exceptions import RedisError

from feature_repo.views import SEQUENCE_FEATURES
from models.inputs import N_SPECIALS, encode_sequence
from omniseq.features.sequence import HybridSequence
from serving.answer_cache import AnswerCache
from serving.bundle import ModelBundle
from serving.explain import explain
from serving.metrics import Metrics

log = logging.getLogger(__name__)
FEATURE_NAMES = list(SEQUENCE_FEATURES)


class OnlineStoreLike(Protocol):
    def read(
        self, view: str, user_ids: Sequence[str], feature_names: Sequence[str]
    ) -> list[dict[str, Any] | None]: ...

    def read_raw(
        self, view: str, user_ids: Sequence[str], feature_names: Sequence[str]
    ) -> list[tuple[bytes | None, ...] | None]: ...

    def decode_raw(
        self, view: str, reply: tuple[bytes | None, ...] | None, feature_names: Sequence[str]
    ) -> dict[str, Any] | None: ...


class StoreUnavailableError(RuntimeError):
    """The online feature store could not be read."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    items: list[tuple[str, float]]
    fallback: bool
    reason: str | None
    explanations: list[list[dict[str, Any]]] | None = None


@dataclass(frozen=True, slots=True)
class _Encoded:
    """One user's decoded row under one model: what a cache hit skips (decode, encode, the forward pass)."""

    reply: tuple[bytes | None, ...]  # the stored row, byte for byte (its last field is the newest timestamp)
    seq: HybridSequence
    tokens: torch.Tensor
    baskets: torch.Tensor
    h: torch.Tensor | None  # the user representation (models that export one)


class UserCache:
    """Per-process LRU of user representations, keyed by (model version, user).

    An entry is used only when the row just read from the online store is byte-identical to the row it was
    computed from — the same ``_ts`` (the row's newest timestamp) *and* the same contents, so a late behaviour
    inserted behind the newest one invalidates it too. Every request still reads the row (one HMGET), so the
    cache can never serve a representation older than the user's newest feature row."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], _Encoded] = OrderedDict()

    def get(self, version: str, user_id: str, reply: tuple[bytes | None, ...]) -> _Encoded | None:
        entry = self._entries.get((version, user_id))
        if entry is None or entry.reply != reply:
            return None
        self._entries.move_to_end((version, user_id))
        return entry

    def put(self, version: str, user_id: str, entry: _Encoded) -> None:
        if self.size <= 0:
            return
        self._entries[(version, user_id)] = entry
        self._entries.move_to_end((version, user_id))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Recommender:
    """Scores one user with one model bundle. Runs on the event loop (single-threaded): the user and answer caches
    and the store circuit breaker are its only mutable state."""

    def __init__(
        self,
        store: OnlineStoreLike,
        metrics: Metrics,
        exclude_seen: bool = False,
        store_down_fallback: bool = False,
        store_retry_s: float = 0.5,
        user_cache_size: int = 0,
        explain_behaviours: int = 20,
        explain_top: int = 3,
        answer_cache_size: int = 0,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.exclude_seen = exclude_seen
        self.store_down_fallback = store_down_fallback
        self.store_retry_s = store_retry_s
        self.cache = UserCache(user_cache_size)
        self.answers = AnswerCache(answer_cache_size)
        self.explain_behaviours = explain_behaviours
        self.explain_top = explain_top
        self._down_until = 0.0  # after a failed read, fail fast (no socket wait) until then

    def respond(
        self,
        bundle: ModelBundle,
        user_id: str,
        k: int,
        exclude: Sequence[str],
        explain: bool,
        channel: str,
        render: Callable[[Recommendation], bytes],
    ) -> bytes:
        """The serialised answer (``render`` turns a :class:`Recommendation` into the response body): sent again
        from the :class:`~serving.answer_cache.AnswerCache` while the user's stored row is byte-identical to the
        one it was computed from, else computed (and kept, unless it is a fallback)."""
        try:
            reply = self._read(bundle.sequence_view, user_id)
        except StoreUnavailableError:
            if not self.store_down_fallback:
                raise
            return render(self._fallback(bundle, k, exclude, "store_unavailable", explain))
        if reply is None:
            return render(self._fallback(bundle, k, exclude, "no_history", explain))
        shape = (channel, k, tuple(exclude), explain)
        if self.answers.enabled:
            body = self.answers.get(bundle.version, user_id, reply, shape)
            if body is not None:
                self.metrics.answer_hit.inc()
                return body
        rec = self._recommend(bundle, user_id, reply, k, exclude, explain)
        body = render(rec)
        if self.answers.enabled and not rec.fallback:
            self.metrics.answer_miss.inc()
            self.answers.put(bundle.version, user_id, reply, shape, body)
        return body

    def _recommend(
        self,
        bundle: ModelBundle,
        user_id: str,
        reply: tuple[bytes | None, ...],
        k: int,
        exclude: Sequence[str],
        explain: bool,
    ) -> Recommendation:
        t0 = time.perf_counter()
        enc = self.cache.get(bundle.version, user_id, reply) if bundle.scorer is not None else None
        if enc is None:
            got = self._encode(bundle, user_id, reply)
            if isinstance(got, str):
                return self._fallback(bundle, k, exclude, got, explain)
            enc = got
            if bundle.scorer is not None:
                self.metrics.user_miss.inc()
        else:
            self.metrics.user_hit.inc()
        t1 = time.perf_counter()
        self.metrics.observe_stage("encode", t1 - t0)
        with torch.inference_mode():
            items = self._score(bundle, enc, user_id, reply, k, exclude)
            why = self._explain(bundle, enc, items) if explain else None
        return Recommendation([(bundle.vocab[i], v) for v, i in items], False, None, why)

    def _encode(self, bundle: ModelBundle, user_id: str, reply: tuple[bytes | None, ...]) -> _Encoded | str:
        """Decode and encode the row (a fallback reason instead when it has nothing the model can use)."""
        try:
            row = self.store.decode_raw(bundle.sequence_view, reply, FEATURE_NAMES)
            if row is None or not row.get("seq_len"):
                return "no_history"
            seq = HybridSequence.from_features(user_id, row, max_len=bundle.spec.max_len)
            tokens, baskets = encode_sequence(seq, bundle.index, bundle.spec)
        except (ValueError, TypeError, KeyError) as exc:
            self.metrics.feature_errors.inc()
            log.warning("user %s: undecodable feature row in %s: %s", user_id, bundle.sequence_view, exc)
            return "bad_features"
        if not bool(tokens.any()):
            return "no_known_items"
        return _Encoded(reply, seq, tokens, baskets, None)

    def _score(
        self,
        bundle: ModelBundle,
        enc: _Encoded,
        user_id: str,
        reply: tuple[bytes | None, ...],
        k: int,
        exclude: Sequence[str],
    ) -> list[tuple[float, int]]:
        t1 = time.perf_counter()
        scorer = bundle.scorer
        seen = torch.cat([enc.tokens, enc.baskets.flatten()]) if self.exclude_seen else None
        if scorer is None:
            scores = bundle.module(enc.tokens.unsqueeze(0), enc.baskets.unsqueeze(0))[0]
            t2 = time.perf_counter()
            items = self._rank(bundle, scores, k, exclude, seen)
        else:
            if enc.h is None:
                h = scorer.represent(bundle.module, enc.tokens, enc.baskets)
                enc = _Encoded(enc.reply, enc.seq, enc.tokens, enc.baskets, h)
                self.cache.put(bundle.version, user_id, enc)
            assert enc.h is not None
            t2 = time.perf_counter()
            banned = self._banned(bundle, exclude, seen)
            values, indices = scorer.top(enc.h, k, banned)
            items = [(v, i) for v, i in zip(values, indices, strict=True) if math.isfinite(v)]
        t3 = time.perf_counter()
        self.metrics.observe_stage("model", t2 - t1)
        self.metrics.observe_stage("rank", t3 - t2)
        return items

    def _explain(
        self, bundle: ModelBundle, enc: _Encoded, items: list[tuple[float, int]]
    ) -> list[list[dict[str, Any]]]:
        t0 = time.perf_counter()
        why = explain(
            bundle.module, bundle.scorer, bundle.spec, bundle.index, enc.seq, [i for _, i in items],
            self.explain_behaviours, self.explain_top,
        )  # fmt: skip
        self.metrics.observe_stage("explain", time.perf_counter() - t0)
        return why

    @staticmethod
    def _banned(bundle: ModelBundle, exclude: Sequence[str], seen: torch.Tensor | None) -> list[int]:
        banned = [i for i in (bundle.index.get(x) for x in exclude) if i is not None]
        if seen is not None:
            banned += [i for i in seen.tolist() if i >= N_SPECIALS]
        return banned

    def _read(self, view: str, user_id: str) -> tuple[bytes | None, ...] | None:
        if self._down_until and time.monotonic() < self._down_until:
            raise StoreUnavailableError("online feature store unreachable (retrying shortly)")
        t0 = time.perf_counter()
        try:
            rows = self.store.read_raw(view, [user_id], FEATURE_NAMES)
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

    def _fallback(
        self, bundle: ModelBundle, k: int, exclude: Sequence[str], reason: str, explain: bool = False
    ) -> Recommendation:
        self.metrics.fallbacks.labels(reason=reason).inc()
        with torch.inference_mode():
            items = self._rank(bundle, bundle.popularity.clone(), k, exclude, None)
        ranked = [(bundle.vocab[i], v) for v, i in items]
        return Recommendation(ranked, True, reason, [[] for _ in items] if explain else None)

    @staticmethod
    def _rank(
        bundle: ModelBundle, scores: torch.Tensor, k: int, exclude: Sequence[str], seen: torch.Tensor | None
    ) -> list[tuple[float, int]]:
        """Top-k (score, index) over the vocabulary without specials, excluded and (optionally) seen items; finite
        scores only."""
        scores[:N_SPECIALS] = -math.inf  # in place: the caller owns ``scores`` (a fresh output or a clone)
        if exclude:
            idx = [i for i in (bundle.index.get(x) for x in exclude) if i is not None]
            if idx:
                scores[torch.tensor(idx, dtype=torch.long)] = -math.inf
        if seen is not None:
            scores[seen] = -math.inf  # index 0 (padding) is already -inf
        values, indices = torch.topk(scores, min(k, scores.shape[0]))
        return [(v, i) for v, i in zip(values.tolist(), indices.tolist(), strict=True) if math.isfinite(v)]
