"""``POST /next-basket``: LENS's next basket and days to the next purchase for one user."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from feature_repo.views import SEQUENCE_FEATURES
from serving.dependencies import Services, ServicesDep
from serving.next_basket import NextBasketBundle, history_from_row, predict_next_basket
from serving.recommender import StoreUnavailableError
from serving.routes import ERRORS
from serving.schemas_next_basket import NextBasketRequest, NextBasketResponse

FAMILY = "next_basket"
log = logging.getLogger(__name__)
router = APIRouter()


def _read(services: Services, view: str, user_id: str) -> dict[str, Any] | None:
    try:
        rows = services.recommender.store.read(view, [user_id], list(SEQUENCE_FEATURES))
    except (RedisError, OSError) as exc:
        services.metrics.store_errors.inc()
        raise StoreUnavailableError(f"online feature store unreachable: {type(exc).__name__}: {exc}") from exc
    return rows[0] if rows else None


def answer(services: Services, bundle: NextBasketBundle, req: NextBasketRequest) -> dict[str, Any]:
    history = history_from_row(req.user_id, _read(services, bundle.sequence_view, req.user_id))
    out = predict_next_basket(bundle, history, req.k)
    return {
        "user_id": req.user_id,
        "items": [{"item_id": i, "probability": p} for i, p in out.items],
        "days_to_next_purchase": {"predicted": out.days, "low": out.interval[0], "high": out.interval[1]},
        "history_baskets": out.n_baskets,
        "known_user": out.known_user,
        "model_version": bundle.version,
        "feature_versions": bundle.feature_versions,
    }


@router.post(
    "/next-basket",
    response_model=NextBasketResponse,
    responses=ERRORS,
    summary="The next basket (LENS) and the days to the next purchase",
)
async def next_basket(req: NextBasketRequest, services: ServicesDep) -> dict[str, Any]:
    bundle: NextBasketBundle = await services.family(FAMILY).bundle(req.model)
    return await run_in_threadpool(answer, services, bundle, req)
