"""Load-and-smoke-check of a registered version with the loader the API would use: what a promotion runs before it
flips the champion pointer, so a version that does not load is never made champion."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from models.registry import DEFAULT_FAMILY, ModelVersion
from serving.bundle import ModelLoadError, load_bundle
from serving.families import FAMILIES
from serving.settings import ServingSettings


def loader_for(family: str, settings: ServingSettings) -> Callable[[ModelVersion], Any] | None:
    """The API's loader of ``family`` (None when the API serves no such family)."""
    if family == DEFAULT_FAMILY:
        return partial(load_bundle, smoke_batch=settings.smoke_batch, optimize=False)

    for f in FAMILIES:
        if f.name == family:
            return f.make_loader(settings)
    return None


def verify_version(mv: ModelVersion, settings: ServingSettings | None = None) -> str:
    """Load ``mv`` and run its smoke check as the server would; raise :class:`ModelLoadError` saying what is
    wrong. Returns what was checked (one line)."""
    loader = loader_for(mv.family, settings or ServingSettings())
    if loader is None:
        raise ModelLoadError(f"version {mv.version}: the API serves no model family {mv.family!r}")
    try:
        bundle = loader(mv)
    except ModelLoadError:
        raise
    except Exception as exc:  # a family loader that raised something else: still a failed check
        raise ModelLoadError(f"version {mv.version}: {type(exc).__name__}: {exc}") from exc
    return f"{mv.version} loads and passes the {mv.family} smoke check ({getattr(bundle, 'model_name', '?')})"
