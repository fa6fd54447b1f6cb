"""Feast objects (entities, feature views, feature services) built from :mod:`feature_repo.views`.

``feature_repo/repo.py`` calls :func:`build_definitions` so that ``feast apply`` (the CLI) sees them as
module globals; :func:`omniseq.features.store.apply` registers the same objects programmatically.

Offline source of a view ``V``: a Feast ``FileSource`` on the folder ``<offline_dir>/V/`` holding Hive-style
partitions ``date=YYYY-MM-DD/part-*.parquet`` (columns ``user_id``, ``event_timestamp``, ``created_timestamp``
and the features). Feast's file offline store reads the folder with ``dask.dataframe.read_parquet``, which
reads every partition (verified by ``tests/features/test_store.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Float64, Int64, String

from feature_repo.views import (
    CREATED_FIELD,
    SERVICES,
    TIMESTAMP_FIELD,
    USER_JOIN_KEY,
    VIEWS,
    Dtype,
    ViewSpec,
)

FEAST_TYPES: dict[Dtype, Any] = {
    "int64": Int64,
    "float64": Float64,
    "string": String,
    "int64_list": Array(Int64),
    "string_list": Array(String),
}


@dataclass(frozen=True)
class Definitions:
    entities: list[Entity]
    feature_views: dict[str, FeatureView]
    services: dict[str, FeatureService]

    def objects(self) -> list[Any]:
        return [*self.entities, *self.feature_views.values(), *self.services.values()]


def build_entities() -> list[Entity]:
    return [
        Entity(name="user", join_keys=[USER_JOIN_KEY], value_type=ValueType.STRING, description="A shopper"),
        Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING, description="A raw item id"),
        Entity(
            name="store", join_keys=["store_id"], value_type=ValueType.STRING, description="A physical store"
        ),
    ]


def view_source_path(offline_dir: Path, view_name: str) -> Path:
    return Path(offline_dir).absolute() / view_name


def build_feature_view(spec: ViewSpec, user: Entity, offline_dir: Path) -> FeatureView:
    source = FileSource(
        name=f"{spec.name}_source",
        path=str(view_source_path(offline_dir, spec.name)),
        timestamp_field=TIMESTAMP_FIELD,
        created_timestamp_column=CREATED_FIELD,
        description=f"Parquet offline store of {spec.name} (date=YYYY-MM-DD partitions)",
    )
    return FeatureView(
        name=spec.name,
        entities=[user],
        ttl=spec.ttl or timedelta(0),
        schema=[
            Field(name=f.name, dtype=FEAST_TYPES[f.dtype], description=f.description) for f in spec.features
        ],
        source=source,
        online=True,
        description=spec.description,
        tags=spec.all_tags(),
    )


def build_definitions(offline_dir: Path) -> Definitions:
    """Every Feast object of the ``omniseq`` project, sources under ``offline_dir`` (made absolute)."""
    entities = build_entities()
    user = entities[0]
    views = {name: build_feature_view(spec, user, offline_dir) for name, spec in VIEWS.items()}
    services = {
        name: FeatureService(
            name=name,
            features=[views[v] for v in view_names],
            description=f"features of model family {name}: {', '.join(view_names)}",
            tags={"views": ",".join(view_names)},
        )
        for name, view_names in SERVICES.items()
    }
    return Definitions(entities, views, services)
