"""Prometheus metrics of the server (one registry per app, so several apps in one process do not collide) and
the ASGI middleware that counts and times every request by route template and status.

With several uvicorn workers every process has its own registry; a scrape of ``/metrics`` sees one worker.

Importing feast (the online store needs its protobufs) sets ``PROMETHEUS_MULTIPROC_DIR`` for Feast's own gunicorn
server, which silently turns every prometheus_client metric created later into an mmap file shared *by name* by
all registries of the process. :class:`Metrics` switches value storage back to plain in-process values.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import values as prom_values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# fine buckets below 10 ms: the latency goal is p99 <= 5 ms
LATENCY_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
)  # fmt: skip
STAGE_BUCKETS = (
    0.00005,
    0.0001,
    0.0002,
    0.0004,
    0.0007,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.01,
    0.05,
    0.25,
)
STAGES = ("feature_read", "encode", "model", "rank", "explain")
UNMATCHED = "<unmatched>"
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every metric the server exports."""

    def __init__(self) -> None:
        prom_values.ValueClass = prom_values.MutexValue  # see the module docstring
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "omniseq_http_requests_total",
            "HTTP requests by route template and status",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "omniseq_http_request_duration_seconds",
            "HTTP request latency by route template and status (server side)",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.feature_read = Histogram(
            "omniseq_feature_read_seconds",
            "online store read latency (one pipelined Redis round trip + decoding)",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "omniseq_recommend_stage_seconds",
            "where /recommend spends its time: feature_read, encode, model, rank",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "omniseq_recommend_fallback_total",
            "answers served by the popularity fallback",
            ["reason"],
            registry=r,
        )
        self.store_errors = Counter(
            "omniseq_feature_store_errors_total",
            "online store reads that failed (store unreachable)",
            registry=r,
        )
        self.feature_errors = Counter(
            "omniseq_feature_decode_errors_total", "feature rows that could not be decoded", registry=r
        )
        self.model_info = Gauge(
            "omniseq_model_info",
            "each model family's serving champion (value 1)",
            ["family", "version", "model_name"],
            registry=r,
        )
        self.swaps = Counter(
            "omniseq_model_swaps_total",
            "champion changes picked up by the watchers",
            ["family", "result"],
            registry=r,
        )
        self.user_cache = Counter(
            "omniseq_user_cache_total",
            "user representation cache lookups (hit: same feature row as cached; miss: new or changed row)",
            ["result"],
            registry=r,
        )
        self.user_hit = self.user_cache.labels(result="hit")
        self.user_miss = self.user_cache.labels(result="miss")
        self.answer_cache = Counter(
            "omniseq_answer_cache_total",
            "finished-answer cache lookups (hit: same feature row, model version and request shape as a cached "
            "answer; miss: computed and kept)",
            ["result"],
            registry=r,
        )
        self.answer_hit = self.answer_cache.labels(result="hit")
        self.answer_miss = self.answer_cache.labels(result="miss")
        self.degraded = Gauge(
            "omniseq_model_degraded",
            "1 while a family serves another version than its registry champion (the champion does not load)",
            ["family"],
            registry=r,
        )
        self.no_known_items_share = Gauge(
            "omniseq_recommend_no_known_items_share",
            "share of /recommend answers since the last champion change that fell back because none of the "
            "user's items is in the model's vocabulary (a champion trained on other data)",
            registry=r,
        )
        self.no_known_items_share.set_function(self.no_known_share)
        self.stage_children = {s: self.stage.labels(stage=s) for s in STAGES}
        self._info: dict[str, tuple[str, str, str]] = {}
        self._share_base = (0.0, 0.0)

    def set_champion(self, family: str, version: str, model_name: str) -> None:
        if family in self._info:
            with warnings.catch_warnings():  # "not implemented in multi-process mode": we are not in it
                warnings.simplefilter("ignore", UserWarning)
                self.model_info.remove(*self._info[family])
        self._info[family] = (family, version, model_name)
        if family == "next_item":
            self._share_base = self._answers()
        self.model_info.labels(family=family, version=version, model_name=model_name).set(1)

    def _answers(self) -> tuple[float, float]:
        """(no_known_items fallbacks, /recommend 200 answers) so far."""
        unknown = _sample(self.fallbacks, {"reason": "no_known_items"})
        ok = _sample(self.requests, {"route": "/recommend", "status": "200"})
        return unknown, ok

    def no_known_counts(self) -> tuple[float, float]:
        """(no_known_items fallbacks, answers) since the next-item champion last changed."""
        unknown, ok = self._answers()
        return unknown - self._share_base[0], ok - self._share_base[1]

    def no_known_share(self) -> float:
        unknown, ok = self.no_known_counts()
        return unknown / ok if ok > 0 else 0.0

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.stage_children[stage].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _sample(counter: Counter, labels: dict[str, str]) -> float:
    """The ``_total`` value of one labelled child of ``counter`` (0 when it was never incremented)."""
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == labels:
                return float(sample.value)
    return 0.0


class RequestMetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request count and latency by route and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}  # (route, status) -> (counter, histogram)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            label = getattr(route, "path", None) or UNMATCHED
            key = (label, str(status))
            children = self._children.get(key)
            if children is None:  # labels() takes a lock and builds a key tuple: once per route and status
                m = self.metrics
                children = self._children[key] = (m.requests.labels(*key), m.latency.labels(*key))
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
