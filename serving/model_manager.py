"""One model family's champion and the champion watcher.

The manager swaps *one reference* to the champion's bundle (for the next-item family a
:class:`serving.bundle.ModelBundle`), so a request that took the old bundle finishes on it while new requests get
the new one. A new champion is loaded and checked by the family's loader (which raises
:class:`serving.bundle.ModelLoadError`) *before* the swap. A version that fails is logged, counted
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
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from models.registry import DEFAULT_FAMILY, ModelRegistry
from serving.bundle import ModelLoadError, load_bundle
from serving.metrics import Metrics

log = logging.getLogger(__name__)


class LoadedModel(Protocol):
    """What every family's bundle has: the registered version it was loaded from and its model name."""

    @property
    def version(self) -> str: ...

    @property
    def model_name(self) -> str: ...


B = TypeVar("B", bound=LoadedModel)


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
