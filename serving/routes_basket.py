"""``POST /basket/complete``: what completes this basket (PARSRec), with the attention that explains each item."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from serving.basket import BasketBundle, complete, read_history
from serving.basket_schemas import BasketCompleteRequest, BasketCompleteResponse
from serving.dependencies import ServicesDep
from serving.routes import ERRORS

FAMILY = "basket"
router = APIRouter()


@router.post(
    "/basket/complete",
    response_model=BasketCompleteResponse,
    responses=ERRORS,
    summary="The next items for a user's partial basket, each with the attention weights that produced it",
)
async def basket_complete(req: BasketCompleteRequest, services: ServicesDep) -> Response:
    manager = services.family(FAMILY)
    bundle: BasketBundle = await manager.bundle(req.model)
    history, status = read_history(services.recommender.store, bundle, req.user_id)
    done = complete(bundle, req.user_id, req.basket, req.k, req.exclude_items, history, status)
    payload = {
        "user_id": req.user_id,
        "items": done.items,
        "unknown_items": done.unknown_items,
        "history_items": done.history_items,
        "history_status": done.history_status,
        "model_version": bundle.version,
        "feature_versions": bundle.feature_versions,
        "fallback": done.fallback,
        "fallback_reason": done.reason,
    }
    return Response(json.dumps(payload), media_type="application/json")
