"""The model families the API serves besides next-item recommendation.

Each :class:`Family` names its registry family, how to load one registered version (``make_loader(settings)``
returns ``loader(ModelVersion) -> bundle``, raising :class:`serving.bundle.ModelLoadError` when the version
does not load or fails its smoke check) and its routes. :func:`serving.app.build_services` makes one
:class:`~serving.model_manager.ModelManager` per family (own champion, hot swap, version cache) and
:func:`serving.app.create_app` includes each family's router. A family adds one entry to :data:`FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter

from models.registry import ModelVersion
from serving import (
    basket,
    cross_channel,
    journeys_loader,
    next_basket,
    routes_basket,
    routes_journeys,
    routes_next_basket,
)
from serving.settings import ServingSettings


@dataclass(frozen=True)
class Family:
    name: str  # the registry family (manifest key "family")
    make_loader: Callable[[ServingSettings], Callable[[ModelVersion], Any]]
    router: APIRouter


FAMILIES: tuple[Family, ...] = (
    Family("next_basket", next_basket.make_loader, routes_next_basket.router),  # LENS (issue 16)
    Family(routes_basket.FAMILY, basket.make_loader, routes_basket.router),  # PARSRec, POST /basket/complete
    Family("journeys", journeys_loader.make_loader, routes_journeys.router),  # in-store journeys (issue 18)
    Family(cross_channel.FAMILY, cross_channel.make_loader, cross_channel.router),  # channel "store" (C2Rec)
)
