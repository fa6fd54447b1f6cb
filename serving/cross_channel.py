"""The cross-channel family (C2Rec, ``models/c2rec.py``): what answers ``POST /recommend`` with ``channel: "store"``.

A registered version of family ``cross_channel`` is a TorchScript module exported for the store channel
(``models.export.export_torchscript(model, path, channel="store")``) with the same contract as the next-item
family, ``forward(tokens, baskets) -> scores [B, V]``; it reads the same hybrid-sequence feature view. So it loads
into the same :class:`~serving.bundle.ModelBundle` (same smoke check, warm-up, hot swap) and is scored by
the same :class:`~serving.recommender.Recommender`; the loader only insists that the version serves the store
channel. ``GET /channels`` says which version answers each channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from models.registry import ModelVersion
from serving.bundle import ModelBundle, ModelLoadError, load_bundle
from serving.dependencies import ServicesDep
from serving.settings import ServingSettings

FAMILY = "cross_channel"
CHANNEL_FAMILIES = {"online": "next_item", "store": FAMILY}

router = APIRouter()


def make_loader(settings: ServingSettings) -> Callable[[ModelVersion], ModelBundle]:
    def load(mv: ModelVersion) -> ModelBundle:
        served = mv.manifest.get("channel")
        if served != "store":
            raise ModelLoadError(f"model version {mv.version}: serves channel {served!r}, expected 'store'")
        return load_bundle(mv, smoke_batch=settings.smoke_batch, optimize=settings.optimize_model)

    return load


class ChannelInfo(BaseModel):
    channel: str
    family: str
    model_version: str | None
    model_name: str | None


@router.get("/channels", response_model=list[ChannelInfo], summary="Which model answers each channel")
def channels(services: ServicesDep) -> list[dict[str, Any]]:
    out = []
    for channel, family in CHANNEL_FAMILIES.items():
        bundle = services.family(family).current
        out.append(
            {
                "channel": channel,
                "family": family,
                "model_version": bundle.version if bundle else None,
                "model_name": bundle.model_name if bundle else None,
            }
        )
    return out
