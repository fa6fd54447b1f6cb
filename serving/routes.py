"""HTTP routes: ``POST /recommend``, ``GET /healthz``, ``GET /readyz``, ``GET /metrics``."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from serving.bundle import ModelBundle
from serving.cross_channel import CHANNEL_FAMILIES
from serving.dependencies import ServicesDep, get_metrics
from serving.metrics import CONTENT_TYPE, Metrics
from serving.model_manager import ModelManager
from serving.recommender import Recommendation
from serving.schemas import ErrorResponse, HealthResponse, ReadyResponse, RecommendRequest, RecommendResponse

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "malformed request"},
    401: {"model": ErrorResponse, "description": "missing or invalid API key (when keys are configured)"},
    408: {"model": ErrorResponse, "description": "request body not received within the read timeout"},
    429: {
        "model": ErrorResponse,
        "description": "per-client rate limit, or a named version loaded too recently",
    },
    404: {"model": ErrorResponse, "description": "unknown model version or name"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    422: {"model": ErrorResponse, "description": "invalid request fields"},
    503: {
        "model": ErrorResponse,
        "description": "no model loaded, or the online feature store is unreachable",
    },
}


@router.post(
    "/recommend", response_model=RecommendResponse, responses=ERRORS, summary="Top-k items for a user"
)
async def recommend(req: RecommendRequest, services: ServicesDep) -> Response:
    manager: ModelManager[ModelBundle] = services.family(CHANNEL_FAMILIES[req.channel])
    bundle = await manager.bundle(req.model)
    # inline on the event loop: ~1 ms of CPU, cheaper than a thread hop (the store read has a short timeout)
    body = services.recommender.respond(
        bundle, req.user_id, req.k, req.exclude_items, req.explain, req.channel, partial(render, req, bundle)
    )
    return Response(body, media_type="application/json")


def render(req: RecommendRequest, bundle: ModelBundle, rec: Recommendation) -> bytes:
    """The response body of one answer (a :class:`RecommendResponse`, built as plain JSON: no model objects)."""
    items = [{"item_id": i, "score": s} for i, s in rec.items]
    for item, why in zip(items, rec.explanations or (), strict=False):
        item["because"] = why
    payload = {
        "user_id": req.user_id,
        "items": items,
        "model_version": bundle.version,
        "model_name": bundle.model_name,
        "channel": req.channel,
        "feature_versions": bundle.feature_versions,
        "fallback": rec.fallback,
        "fallback_reason": rec.reason,
    }
    return json.dumps(payload).encode()


@router.get("/healthz", response_model=HealthResponse, summary="The process is alive")
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "not ready"}},
    summary="A model is loaded and the online store answers",
)
def readyz(services: ServicesDep) -> JSONResponse:
    """Not ready: no model, or the online store unreachable or empty (cold). Ready with warnings: the served
    version is not the champion (it does not load), or most answers are ``no_known_items`` fallbacks."""
    bundle = services.manager.current
    problems, warnings = [], []
    if bundle is None:
        problems.append(f"no model loaded ({services.manager.last_error or 'no champion promoted yet'})")
    for manager in (services.manager, *services.managers.values()):
        if manager.degraded:
            warnings.append(f"{manager.family}: {manager.degraded}")
    try:
        keys = int(services.redis.dbsize())
        store = "ok" if keys > 0 else "cold"
        if keys == 0:
            problems.append(
                "online store is empty (Redis restarted without its data?): every user gets fallbacks; refill "
                "it with 'omniseq features materialize' (docs/RUNBOOK.md)"
            )
    except Exception as exc:  # any failure to answer means not ready
        store = "unreachable"
        problems.append(f"online store unreachable: {type(exc).__name__}: {exc}")
    unknown, answers = services.metrics.no_known_counts()
    s = services.settings
    if answers >= s.no_known_items_min_answers and unknown / answers > s.no_known_items_warn_share:
        warnings.append(
            f"{unknown / answers:.0%} of {answers:.0f} answers since the last champion change were no_known_items "
            "fallbacks: the champion's vocabulary does not cover the users' items (trained on other data?)"
        )
    body = ReadyResponse(
        ready=not problems,
        model_version=bundle.version if bundle else None,
        store=store,
        detail="; ".join(problems) or None,
        warnings=warnings,
    )
    return JSONResponse(body.model_dump(), status_code=503 if problems else 200)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}
    },
    summary="Prometheus metrics",
)
async def metrics(m: Annotated[Metrics, Depends(get_metrics)]) -> Response:
    return Response(m.render(), media_type=CONTENT_TYPE)
