"""``create_app()``: the FastAPI recommendation server.

The lifespan opens the Redis client (short socket timeouts, redis-py reconnects by itself), loads the champion from
the model registry and starts the champion watcher; shutdown stops the watcher and closes the client.
Run it with ``omniseq serve`` (uvicorn, httptools, uvloop) or ``uvicorn --factory serving.app:create_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import redis
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from models.ann import set_search_threads
from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore
from serving.bundle import load_bundle
from serving.dependencies import Services, ServicesNotReadyError
from serving.families import FAMILIES
from serving.metrics import Metrics, RequestMetricsMiddleware
from serving.middleware import ApiKeyMiddleware, BodyLimitMiddleware, RateLimitMiddleware, scrub_paths
from serving.model_manager import (
    BrokenModelError,
    LoadRateLimitedError,
    ModelManager,
    NoModelError,
    UnknownModelError,
)
from serving.recommender import Recommender, StoreUnavailableError
from serving.routes import router
from serving.routes_page import router as page_router
from serving.settings import ServingSettings

log = logging.getLogger(__name__)


def build_services(settings: ServingSettings, metrics: Metrics) -> Services:
    """Open the Redis client and the registry; nothing is loaded yet (the lifespan does that)."""
    client = redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_password,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_connect_timeout_s,
    )
    loader = partial(load_bundle, smoke_batch=settings.smoke_batch, optimize=settings.optimize_model)
    bounds: dict[str, Any] = {
        "recent": settings.model_recent_versions,
        "load_interval_s": settings.model_load_interval_s,
        "fallback_tries": settings.model_fallback_tries,
    }
    manager = ModelManager(
        ModelRegistry(settings.dir("registry")), metrics, settings.model_cache_size, loader, **bounds
    )
    store = RedisOnlineStore(client, project=settings.feature_project)
    recommender = Recommender(
        store, metrics, settings.exclude_seen, settings.store_down_fallback, settings.store_retry_s,
        settings.user_cache_size, settings.explain_behaviours, settings.explain_top, settings.answer_cache_size,
    )  # fmt: skip
    managers: dict[str, ModelManager[Any]] = {
        f.name: ModelManager(
            manager.registry,
            metrics,
            settings.model_cache_size,
            f.make_loader(settings),
            family=f.name,
            **bounds,
        )
        for f in FAMILIES
    }
    return Services(settings, metrics, manager, recommender, client, managers)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ServingSettings = app.state.settings
    torch.set_num_threads(settings.torch_threads)
    set_search_threads(settings.torch_threads)  # faiss (ANN retrieval): its own OpenMP pool
    services: Services = build_services(settings, app.state.metrics)
    managers = [services.manager, *services.managers.values()]
    for manager in managers:
        await asyncio.to_thread(manager.refresh)
        if manager.current is None:
            reason = manager.last_error or "no champion promoted yet"
            log.warning("starting without a %s model: %s", manager.family, reason)
        elif manager.degraded:
            log.error("starting degraded (%s): %s", manager.family, manager.degraded)
    app.state.services = services
    stop = asyncio.Event()
    watchers = [asyncio.create_task(m.watch(settings.champion_poll_s, stop)) for m in managers]
    try:
        yield
    finally:
        stop.set()
        for watcher in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        app.state.services = None
        services.redis.close()


def describe_validation(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """One sentence per invalid field, and a JSON-safe copy of the errors."""
    parts, clean = [], []
    for e in errors:
        loc = [p for p in e.get("loc", ()) if p != "body"]
        name = ".".join(str(p) for p in loc) or "body"
        kind = e.get("type", "")
        if kind == "json_invalid":
            parts.append(f"request body is not valid JSON ({e.get('ctx', {}).get('error', 'decode error')})")
        elif kind == "missing":
            parts.append(f"field '{name}' is missing")
        elif kind == "extra_forbidden":
            parts.append(f"field '{name}' is not allowed")
        else:
            parts.append(f"field '{name}': {e.get('msg', 'invalid')}")
        clean.append(
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(kind)}
        )
    return "invalid request: " + "; ".join(parts), clean


def _error(
    status: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": scrub_paths(detail), "errors": errors}, status_code=status, headers=headers
    )


def add_exception_handlers(app: FastAPI) -> None:
    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail, errors = describe_validation(list(exc.errors()))
        return _error(422, detail, errors)

    async def unknown_model(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc))

    async def broken_model(_: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        return _error(503, str(exc))

    async def load_limited(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LoadRateLimitedError)
        return _error(429, str(exc), headers={"Retry-After": str(max(1, round(exc.retry_after_s + 0.5)))})

    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, f"internal error: {type(exc).__name__}")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(UnknownModelError, unknown_model)
    app.add_exception_handler(BrokenModelError, broken_model)
    app.add_exception_handler(LoadRateLimitedError, load_limited)
    for exc_type in (NoModelError, StoreUnavailableError, ServicesNotReadyError):
        app.add_exception_handler(exc_type, unavailable)
    app.add_exception_handler(Exception, internal)


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """The ASGI app. ``settings`` default to the environment (``OMNISEQ_*``)."""
    settings = settings or ServingSettings()
    app = FastAPI(
        title="omniseq recommendation API",
        version="1",
        description="Top-k recommendations from hybrid (online + in-store) behaviour sequences.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics = Metrics()
    app.state.services = None
    app.include_router(router)
    app.include_router(page_router)  # the storefront page and its JSON
    for family in FAMILIES:
        app.include_router(family.router)
    add_exception_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, read_timeout_s=settings.body_read_timeout_s
    )
    app.add_middleware(
        RateLimitMiddleware,
        rate_per_s=settings.rate_limit_per_s,
        burst=settings.rate_limit_burst,
        exempt_loopback=settings.rate_limit_exempt_loopback,
    )
    app.add_middleware(ApiKeyMiddleware, keys=settings.api_key_list(), header=settings.api_key_header)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)  # outermost: counts 401/429/413s too
    return app
