"""Loaded models and the champion watcher.

A :class:`ModelBundle` is everything one model version needs to answer a request (TorchScript module, vocabulary,
input spec, feature view names, popularity fallback). It is immutable; the manager swaps *one reference* to the
champion's bundle, so a request that took the old bundle finishes on it while new requests get the new one.

A new champion is loaded, checked (a forward pass on a dummy batch through the real encoder: output shape [B, V],
finite item scores) and warmed up *before* the swap. A version that fails any of that is logged, counted
(``omniseq_model_swaps_total{result="failure"}``) and not retried until ``champion.json`` changes again; the old
model keeps serving. At start-up (nothing loaded yet) a champion that does not load is replaced by the newest
earlier version of the family that does; :attr:`ModelManager.degraded` says so (``/readyz``, and the
``omniseq_model_degraded`` gauge).

Versions named in a request are bounded: only the ``recent`` newest versions of the family (or the champion) can
be named, loads run in a worker thread, and at most one load per ``load_interval_s`` starts (others get
:class:`LoadRateLimitedError`, HTTP 429), so cycling through versions cannot turn every request into a model load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import torch

from feature_repo.views import BASKET_CODE
from models.ann import load_item_index
from models.export import RETRIEVAL_METHODS, load_torchscript
from models.inputs import N_SPECIALS, InputSpec, encode_sequence, vocab_index
from models.registry import DEFAULT_FAMILY, ModelRegistry, ModelVersion
from omniseq.features.sequence import HybridSequence, Token
from serving.fallback import popularity_scores
from serving.metrics import Metrics
from serving.scoring import ItemScorer

log = logging.getLogger(__name__)


class LoadedModel(Protocol):
    """What every family's bundle has: the registered version it was loaded from and its model name."""

    @property
    def version(self) -> str: ...

    @property
    def model_name(self) -> str: ...


B = TypeVar("B", bound=LoadedModel)


class ModelLoadError(RuntimeError):
    """A model version could not be loaded or failed its smoke check."""


class UnknownModelError(LookupError):
    """No registered version or model name matches the request."""


class BrokenModelError(RuntimeError):
    """The requested version is registered but fails to load or its smoke check (not retried until a swap)."""


class NoModelError(RuntimeError):
    """No champion is loaded (nothing promoted yet, or its load failed)."""


class LoadRateLimitedError(RuntimeError):
    """Another version was loaded too recently; the client should retry after :attr:`retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, eq=False)
class ModelBundle:
    version: str
    model_name: str
    manifest: Mapping[str, Any]
    module: torch.jit.ScriptModule
    vocab: list[str]
    index: dict[str, int]
    spec: InputSpec
    sequence_view: str
    feature_versions: dict[str, str]
    popularity: torch.Tensor  # [V], specials -inf
    popularity_source: str
    scorer: ItemScorer | None = None  # models exporting user_repr/item_embeddings: cache + retrieval

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def _spec_from_manifest(manifest: Mapping[str, Any], where: str) -> InputSpec:
    raw = manifest.get("input_spec")
    if not isinstance(raw, Mapping):
        raise ModelLoadError(f"{where}: manifest has no input_spec mapping")
    try:
        return InputSpec.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{where}: bad input_spec {dict(raw)}: {exc}") from exc


def _sequence_view(manifest: Mapping[str, Any], where: str) -> tuple[str, dict[str, str]]:
    fv = manifest.get("feature_versions")
    if not isinstance(fv, Mapping) or not isinstance(fv.get("sequence"), str):
        raise ModelLoadError(f"{where}: manifest feature_versions has no 'sequence' view name")
    return fv["sequence"], {str(k): str(v) for k, v in fv.items()}


def dummy_batch(
    bundle_vocab: list[str], index: dict[str, int], spec: InputSpec, batch: int
) -> tuple[Any, Any]:
    """A batch of ``batch`` synthetic histories (items of the vocabulary plus one basket) through the real
    encoder: what the smoke check runs."""
    items = bundle_vocab[N_SPECIALS:]
    rows_t, rows_b = [], []
    for b in range(batch):
        n = max(1, min(len(items), spec.max_len) - b)
        tokens = [Token(b % 4, 1_700_000_000_000 + i, items[(i + b) % len(items)]) for i in range(n)]
        tokens.insert(0, Token(BASKET_CODE, 1_699_999_999_000, "", tuple(items[:3]), "store-0"))
        seq = HybridSequence(f"smoke-{b}", spec.max_len, tokens[-spec.max_len :])
        t, bk = encode_sequence(seq, index, spec)
        rows_t.append(t)
        rows_b.append(bk)
    return torch.stack(rows_t), torch.stack(rows_b)


def smoke_check(module: Any, vocab: list[str], index: dict[str, int], spec: InputSpec, batch: int) -> None:
    """Run a forward pass on a dummy batch; raise :class:`ModelLoadError` unless scores are [B, V] and finite."""
    tokens, baskets = dummy_batch(vocab, index, spec, batch)
    with torch.inference_mode():
        out = module(tokens, baskets)
    if not isinstance(out, torch.Tensor):
        raise ModelLoadError(f"smoke check: forward returned {type(out).__name__}, expected a Tensor")
    if tuple(out.shape) != (batch, len(vocab)):
        raise ModelLoadError(
            f"smoke check: scores have shape {tuple(out.shape)}, expected {(batch, len(vocab))}"
        )
    if not out.is_floating_point() or not bool(torch.isfinite(out[:, N_SPECIALS:]).all()):
        raise ModelLoadError("smoke check: item scores are not all finite floats")


def _optimized(module: Any, vocab: list[str], index: dict[str, int], spec: InputSpec) -> Any:
    """Frozen + inference-optimised copy of the module when that works and gives the same scores; else the module."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            keep = [m for m in RETRIEVAL_METHODS if hasattr(module, m)]
            frozen = torch.jit.freeze(module.eval(), preserved_attrs=keep)
            opt = torch.jit.optimize_for_inference(frozen, other_methods=keep)
        tokens, baskets = dummy_batch(vocab, index, spec, 1)
        with torch.inference_mode():
            same = torch.allclose(
                module(tokens, baskets), opt(tokens, baskets), rtol=1e-4, atol=1e-4, equal_nan=True
            )
        return opt if same else module
    except Exception as exc:  # an unoptimisable module still serves, unoptimised
        log.info("model not optimised for inference (%s); serving it as exported", exc)
        return module


def load_bundle(mv: ModelVersion, smoke_batch: int = 2, optimize: bool = True) -> ModelBundle:
    """Load one registered version and smoke-check it; raises :class:`ModelLoadError` saying what is wrong."""
    where = f"model version {mv.version}"
    manifest = dict(mv.manifest)
    spec = _spec_from_manifest(manifest, where)
    view, feature_versions = _sequence_view(manifest, where)
    try:
        vocab = [str(v) for v in mv.vocab()]
        module = load_torchscript(mv.model_path)
    except Exception as exc:  # torch raises RuntimeError/ValueError/... for a corrupt archive
        raise ModelLoadError(f"{where}: cannot load {Path(mv.model_path).name}: {exc}") from exc
    if len(vocab) <= N_SPECIALS:
        raise ModelLoadError(f"{where}: vocabulary has {len(vocab)} entries, no items")
    try:
        index = vocab_index(vocab)
        smoke_check(module, vocab, index, spec, smoke_batch)
        if optimize:
            module = _optimized(module, vocab, index, spec)
        smoke_check(module, vocab, index, spec, 1)  # warms up the profiling executor at serving shape
        smoke_check(module, vocab, index, spec, 1)
        popularity, source = popularity_scores(Path(mv.path), index, len(vocab))
        scorer = make_scorer(module, Path(mv.path), vocab, index, spec)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{where}: {exc}") from exc
    except Exception as exc:
        raise ModelLoadError(f"{where}: smoke check failed: {type(exc).__name__}: {exc}") from exc
    return ModelBundle(
        version=str(mv.version),
        model_name=str(manifest.get("model_name", "unknown")),
        manifest=manifest,
        module=module,
        vocab=vocab,
        index=index,
        spec=spec,
        sequence_view=view,
        feature_versions=feature_versions,
        popularity=popularity,
        popularity_source=source,
        scorer=scorer,
    )


def make_scorer(
    module: Any, folder: Path, vocab: list[str], index: dict[str, int], spec: InputSpec
) -> ItemScorer | None:
    """The catalogue scorer of a module that exports ``user_repr``/``item_embeddings`` (None for one that does
    not), with the version's ANN index when it has one. Checked like the module: the two halves must give the
    forward pass's scores on the dummy batch."""
    if not all(hasattr(module, m) for m in RETRIEVAL_METHODS):
        return None
    scorer = ItemScorer.build(module, None)
    if scorer.items.shape[0] != len(vocab):
        raise ModelLoadError(f"item_embeddings has {scorer.items.shape[0]} rows, the vocabulary {len(vocab)}")
    tokens, baskets = dummy_batch(vocab, index, spec, 1)
    with torch.inference_mode():
        full = module(tokens, baskets)[0, N_SPECIALS:]
        halves = (scorer.represent(module, tokens[0], baskets[0]) @ scorer.items.t())[N_SPECIALS:]
    if not torch.allclose(full.float(), halves, rtol=1e-4, atol=1e-4):
        raise ModelLoadError("smoke check: user_repr @ item_embeddings differs from the forward pass")
    ann = load_item_index(folder, len(vocab), scorer.items.shape[1])
    return scorer if ann is None else ItemScorer(scorer.items, None, ann)


def _mtime_ns(path: Path) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


def _age(mv: Any) -> tuple[str, int, str]:
    """Sort key, newest last: created_at (1 s resolution), then when the version folder was written."""
    return str(mv.manifest.get("created_at", "")), _mtime_ns(mv.path), str(mv.version)


def _version_of(entry: Any) -> str:
    return str(getattr(entry, "version", entry))


def _champion_stamp(path: Path) -> tuple[int, int, int, bytes] | None:
    try:
        st = path.stat()
        return (st.st_mtime_ns, st.st_size, st.st_ino, path.read_bytes())
    except FileNotFoundError:
        return None


class ModelManager(Generic[B]):
    """Holds one model family's champion bundle (swapped atomically) and a small cache of other versions of that
    family asked for by name. ``loader`` turns a registered version into the family's bundle (raising
    :class:`ModelLoadError` when it does not load or fails its smoke check)."""

    def __init__(
        self,
        registry: ModelRegistry,
        metrics: Metrics,
        cache_size: int = 4,
        loader: Callable[[Any], B] = load_bundle,  # type: ignore[assignment]
        family: str = DEFAULT_FAMILY,
        recent: int = 10,
        load_interval_s: float = 0.0,
        fallback_tries: int = 5,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.cache_size = cache_size
        self.loader = loader
        self.family = family
        self.recent = recent
        self.load_interval_s = load_interval_s
        self.fallback_tries = fallback_tries
        self._current: B | None = None
        self._stamp: tuple[int, int, int, bytes] | None = None
        self._cache: OrderedDict[str, B] = OrderedDict()
        self._broken: dict[str, str] = {}
        self._load_lock = threading.Lock()
        self._last_load = -math.inf
        self.last_error: str | None = None
        self.degraded: str | None = None  # why the served version is not the registry's champion

    @property
    def current(self) -> B | None:
        return self._current

    def refresh(self) -> bool:
        """Check ``champion.json``; load, check and swap to a new champion. True when a swap happened."""
        stamp = _champion_stamp(self.registry.champion_path(self.family))
        if stamp is None or stamp == self._stamp:
            return False
        with self._load_lock:
            if stamp == self._stamp:
                return False
            self._stamp = stamp  # a failed version is not retried until champion.json changes
            return self._swap_to_champion()

    def _swap_to_champion(self) -> bool:
        champion: str | None = None
        try:
            mv = self.registry.champion(self.family)
            if mv is None:
                return False
            champion = _version_of(mv)
            if self._current is not None and champion == self._current.version:
                return False
            bundle = self.loader(mv)
        except Exception as exc:
            self.last_error = str(exc)
            self.metrics.swaps.labels(family=self.family, result="failure").inc()
            log.error("champion not swapped, keeping %s: %s", self._current and self._current.version, exc)
            if self._current is None:
                return self._start_on_fallback(champion, str(exc))
            self._set_degraded(f"champion {champion or '?'} cannot be served ({exc}); still serving "
                               f"{self._current.version}")  # fmt: skip
            return False
        self._install(bundle)
        self._set_degraded(None)
        return True

    def _install(self, bundle: B) -> None:
        old, self._current = self._current, bundle  # the swap: one reference assignment
        self._cache.clear()  # name -> newest-version aliases may have changed
        self._broken.clear()
        self.last_error = None
        self.metrics.swaps.labels(family=self.family, result="success").inc()
        self.metrics.set_champion(self.family, bundle.version, bundle.model_name)
        log.info(
            "champion is now %s (%s; family %s), was %s",
            bundle.version, bundle.model_name, self.family, old and old.version,
        )  # fmt: skip

    def _set_degraded(self, reason: str | None) -> None:
        self.degraded = reason
        self.metrics.degraded.labels(family=self.family).set(0 if reason is None else 1)

    def _start_on_fallback(self, champion: str | None, error: str) -> bool:
        """Nothing is served yet and the champion does not load: serve the newest earlier version that does."""
        for mv in self._fallback_candidates(champion)[: self.fallback_tries]:
            try:
                bundle = self.loader(mv)
            except Exception as exc:
                log.warning("fallback candidate %s does not load either: %s", mv.version, exc)
                continue
            self._install(bundle)
            self.last_error = error
            self._set_degraded(f"champion {champion or '?'} cannot be served ({error}); serving the last "
                               f"version that loads, {mv.version}")  # fmt: skip
            log.error("%s", self.degraded)
            return True
        self._set_degraded(
            f"champion {champion or '?'} cannot be served ({error}) and no earlier version loads"
        )
        return False

    def _fallback_candidates(self, champion: str | None) -> list[Any]:
        """Other versions of the family: earlier champions first (``decisions.jsonl``), then newest first."""
        try:
            promoted = {str(d.get("challenger")) for d in self.registry.decisions() if d.get("promote")}
        except (OSError, ValueError):  # an unreadable decision log only loses the preference
            promoted = set()
        others = [mv for mv in self.registry.versions(self.family) if mv.version != champion]
        return sorted(others, key=lambda mv: (mv.version in promoted, *_age(mv)), reverse=True)

    def cached(self, name: str | None) -> B | None:
        """The bundle for ``name`` if it needs no loading (None = the champion)."""
        cur = self._current
        if name is None or (cur is not None and name == cur.version):
            return cur
        return self._cache.get(name)

    async def bundle(self, name: str | None) -> B:
        """The bundle for ``name`` (None = the champion) from an async route: a loaded one at once, otherwise the
        load (or its failure) runs in a worker thread, off the event loop."""
        loaded = self.cached(name)
        return loaded if loaded is not None else await asyncio.to_thread(self.resolve, name)

    def resolve(self, name: str | None) -> B:
        """The bundle for a version or model name, loading it if needed (blocking: call it off the event loop)."""
        bundle = self.cached(name)
        if bundle is not None:
            return bundle
        if name is None:
            raise NoModelError(f"no champion model is loaded ({self.last_error or 'none promoted yet'})")
        if name in self._broken:
            raise BrokenModelError(self._broken[name])
        mv = self._find(name)  # before the lock: unknown names never wait for a load
        with self._load_lock:
            loaded = self._cache.get(name) or self._cache.get(mv.version)
            cur = self._current
            if loaded is None and cur is not None and cur.version == mv.version:
                loaded = cur
            if loaded is not None:  # a name for a version that is already loaded: no load, no rate limit
                self._cache[name] = loaded
                return loaded
            wait = self._last_load + self.load_interval_s - time.monotonic()
            if wait > 0:
                raise LoadRateLimitedError(
                    f"model {name!r} is not loaded and another version was loaded {self.load_interval_s:g} s "
                    f"ago at most; retry in {wait:.1f} s",
                    wait,
                )
            self._last_load = time.monotonic()
            try:
                bundle = self.loader(mv)
            except ModelLoadError as exc:
                self._broken[name] = f"model {name!r} is registered but cannot be served: {exc}"
                raise BrokenModelError(self._broken[name]) from exc
            self._cache[name] = self._cache[mv.version] = bundle
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return bundle

    def _find(self, name: str) -> Any:
        if name in self.registry.broken():
            self._broken[name] = f"model version {name!r} is broken: its manifest cannot be read"
            raise BrokenModelError(self._broken[name])
        versions = list(self.registry.versions(self.family))
        champion = self._current.version if self._current is not None else None
        recent = sorted(versions, key=_age)[-self.recent :]
        for mv in versions:
            if mv.version == name:
                if mv in recent or mv.version == champion:
                    return mv
                raise UnknownModelError(
                    f"model version {name!r} is registered but older than the {self.recent} most recent "
                    f"versions of {self.family}; only those (and the champion) can be requested by name"
                )
        named = [mv for mv in recent if mv.manifest.get("model_name") == name]
        if not named:
            shown = ", ".join(mv.version for mv in versions[-10:]) or "none"
            raise UnknownModelError(
                f"unknown model {name!r}: not a recent registered version or model name (latest versions: {shown})"
            )
        return max(named, key=_age)

    async def watch(self, interval_s: float, stop: asyncio.Event) -> None:
        """Poll ``champion.json`` every ``interval_s`` until ``stop`` is set (loads run in a worker thread)."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # never let the watcher die
                log.exception("champion watcher")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
