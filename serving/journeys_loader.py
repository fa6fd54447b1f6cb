"""Loader of the ``journeys`` model family: a registered version -> a smoke-checked :class:`JourneyBundle`."""

from __future__ import annotations

from collections.abc import Callable

from models.journey_bundle import JourneyBundle, load_bundle
from models.journey_sample import sample_journeys
from models.registry import ModelVersion
from serving.bundle import ModelLoadError
from serving.settings import ServingSettings


def load_journeys(mv: ModelVersion) -> JourneyBundle:
    """Load every store's generator and generate one journey per store (the smoke check)."""
    try:
        stores = mv.manifest["input_spec"]["stores"]
        bundle = load_bundle(mv.path, mv.version, str(mv.manifest["model_name"]), stores)
        for sid, module in bundle.modules.items():
            sample_journeys(
                module, bundle.tokenizer, bundle.layouts[sid], bundle.prompts[sid], bundle.catalog, 1, 0
            )
    except Exception as exc:  # any broken file, key or module is a failed load, never a crash of the server
        raise ModelLoadError(f"journeys version {mv.version}: {type(exc).__name__}: {exc}") from exc
    return bundle


def make_loader(_: ServingSettings) -> Callable[[ModelVersion], JourneyBundle]:
    return load_journeys
