"""The storefront page for people and the JSON it reads.

- ``GET /storefront``: one static HTML page (no build chain; a little JavaScript) that shows a customer's hybrid
  timeline, the champion's recommendations (and other families' tabs when their endpoints exist), versions,
  freshness, and polls for changes.
- ``GET /storefront/config``: the page's tabs, read from the app's OpenAPI schema.
- ``GET /users/random``: a random customer of the online store (by default one with both channels).
- ``GET /users/{user_id}/timeline``: the customer's online events and in-store baskets, newest first, from the same
  online feature row the model reads.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from omniseq.features.online import RedisOnlineStore
from omniseq.schema import MAX_ID_LEN
from serving.dependencies import Services, ServicesDep
from serving.schemas import ErrorResponse
from serving.storefront import (
    SEQUENCE_VIEWS,
    NoCustomerFoundError,
    PageConfig,
    RandomUserResponse,
    TimelineResponse,
    UnknownCustomerError,
    page_tabs,
    sample_user,
    sequence_view,
    timeline,
)

STATIC = FilePath(__file__).parent / "static"
POLL_MS = 1500

router = APIRouter(tags=["storefront"])
ViewQuery = Annotated[
    str | None,
    Query(
        description="a sequence feature view (default: the champion's)",
        pattern=f"^({'|'.join(SEQUENCE_VIEWS)})$",
    ),
]
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "unknown customer"},
    422: {"model": ErrorResponse, "description": "invalid parameters or an undecodable feature row"},
    503: {"model": ErrorResponse, "description": "the online feature store is unreachable"},
}


@cache
def _page() -> str:
    return (STATIC / "storefront.html").read_text()


def _store(services: Services) -> RedisOnlineStore:
    return RedisOnlineStore(services.redis, project=services.settings.feature_project)


def _view(services: Services, requested: str | None) -> str:
    bundle = services.manager.current
    return sequence_view(bundle.sequence_view if bundle else None, requested)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": None}, status_code=status)


@router.get("/storefront", response_class=HTMLResponse, include_in_schema=False)
async def storefront_page() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get("/storefront/config", response_model=PageConfig, summary="Tabs and links of the storefront page")
async def storefront_config(request: Request) -> PageConfig:
    tabs, explain = page_tabs(request.app.openapi())
    links = {"API docs": "/docs", "metrics": "/metrics", "readiness": "/readyz"}
    return PageConfig(tabs=tabs, explain=explain, poll_ms=POLL_MS, links=links)


@router.get("/users/random", response_model=RandomUserResponse, responses=ERRORS, summary="A random customer")
async def random_user(
    services: ServicesDep,
    both_channels: Annotated[
        bool, Query(description="only customers with online and in-store behaviour")
    ] = True,
    view: ViewQuery = None,
) -> Response:
    try:
        name = _view(services, view)
    except ValueError as exc:
        return _error(422, str(exc))
    try:
        pick = await run_in_threadpool(sample_user, _store(services), name, both_channels)
    except NoCustomerFoundError as exc:
        return _error(404, str(exc))
    return JSONResponse(pick.model_dump())


@router.get(
    "/users/{user_id}/timeline",
    response_model=TimelineResponse,
    responses=ERRORS,
    summary="A customer's online events and in-store baskets, newest first",
)
async def user_timeline(
    services: ServicesDep,
    user_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LEN)],
    view: ViewQuery = None,
) -> Response:
    bundle = services.manager.current
    try:
        name = _view(services, view)
    except ValueError as exc:
        return _error(422, str(exc))
    version = bundle.version if bundle else None
    try:
        body = await run_in_threadpool(timeline, _store(services), name, user_id, version)
    except UnknownCustomerError as exc:
        return _error(404, str(exc))
    except ValueError as exc:
        return _error(422, f"customer {user_id!r}: undecodable feature row in {name}: {exc}")
    return JSONResponse(body.model_dump())
