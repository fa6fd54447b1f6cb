"""What the routes depend on, resolved from ``app.state`` (tests swap them with ``app.dependency_overrides``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from serving.bundle import ModelBundle
from serving.metrics import Metrics
from serving.model_manager import ModelManager
from serving.recommender import Recommender
from serving.settings import ServingSettings


@dataclass
class Services:
    """Everything a request handler needs; built by the lifespan (or by a test)."""

    settings: ServingSettings
    metrics: Metrics
    manager: ModelManager[ModelBundle]  # the next-item family (POST /recommend)
    recommender: Recommender
    redis: Any  # redis.Redis: pinged by /readyz
    managers: dict[str, ModelManager[Any]] = field(
        default_factory=dict
    )  # other model families, by family name

    def family(self, name: str) -> ModelManager[Any]:
        """The model manager of one family (``next_item`` is :attr:`manager`)."""
        return self.manager if name == self.manager.family else self.managers[name]


class ServicesNotReadyError(RuntimeError):
    """The app is serving before its lifespan set up the services."""


async def get_services(request: Request) -> Services:
    """Async on purpose: a plain ``def`` dependency costs every request a thread-pool hop."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ServicesNotReadyError("the server is starting: model and feature store are not set up yet")
    return services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]  # a route's ``services`` parameter


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]
