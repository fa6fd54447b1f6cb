"""The feature contract of the Feast project ``omniseq`` as plain data: the one source of truth for the Feast objects
(:mod:`feature_repo.definitions`), the pipeline's columns, Flink SQL types and window SQL, what the Java operators
are told (``pipeline.job.operator_config``), the Redis codec and the training-set builder.

Versions are separate feature views named ``<base>_v<N>`` (Feast's own versioning is online-only and
experimental): both versions are registered, written and served side by side, online and offline. A model
manifest records the exact view names it was trained on in ``feature_versions`` (e.g.
``{"sequence": "user_hybrid_seq_v1"}``); :func:`resolve_feature_refs` turns that into Feast feature references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final, Literal

Dtype = Literal["int64", "float64", "string", "int64_list", "string_list"]
PROJECT: Final[str] = "omniseq"
USER_JOIN_KEY: Final[str] = "user_id"
TIMESTAMP_FIELD: Final[str] = "event_timestamp"  # offline rows: the newest behaviour in the row
CREATED_FIELD: Final[str] = "created_timestamp"  # offline rows: when the row was written
# tok_types codes of the sequence views: an online event's type, or an in-store basket
EVENT_TYPE_CODES: Final[dict[str, int]] = {"view": 0, "click": 1, "add_to_cart": 2, "purchase": 3}
BASKET_CODE: Final[int] = 4
# the online-aggregate views' columns: a count per event type (feature -> the type code it counts), the total and
# the recency (the row's event time); the window SQL of the pipeline is rendered from these
ONLINE_COUNTS: Final[dict[str, int]] = {f"n_{t}": code for t, code in EVENT_TYPE_CODES.items()}
ONLINE_TOTAL: Final[str] = "n_events"
ONLINE_RECENCY: Final[str] = "last_online_ts"
# the Flink SQL type of each dtype (the pipeline's table columns)
SQL_TYPES: Final[dict[str, str]] = {
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "string": "STRING",
    "int64_list": "ARRAY<BIGINT>",
    "string_list": "ARRAY<STRING>",
}


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    dtype: Dtype
    description: str
    min_value: float | None = None  # numeric features (and list elements): inclusive lower bound

    @property
    def sql_type(self) -> str:
        """The feature's Flink SQL type."""
        return SQL_TYPES[self.dtype]


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """One versioned feature view (entity ``user``)."""

    base: str  # e.g. "user_hybrid_seq"
    version: int
    kind: Literal["sequence", "online_agg", "instore_agg"]
    features: tuple[FeatureSpec, ...]
    description: str
    window: str  # "last 50 tokens", "10m hop / 1m slide", ...
    source: str  # which stream feeds it
    max_len: int | None = None  # sequence views: tokens kept
    ttl: timedelta | None = None  # offline as-of lookback (None: unlimited)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.base}_v{self.version}"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def dtypes(self) -> dict[str, Dtype]:
        return {f.name: f.dtype for f in self.features}

    @property
    def event_time_feature(self) -> str:
        """The feature that holds the row's event time (epoch ms): the newest behaviour the row contains."""
        return _EVENT_TIME[self.kind]

    def sql_columns(self) -> list[tuple[str, str]]:
        """``(feature, Flink SQL type)`` in contract order."""
        return [(f.name, f.sql_type) for f in self.features]

    def all_tags(self) -> dict[str, str]:
        return {"version": f"v{self.version}", "window": self.window, "source": self.source, **self.tags}


_SEQ_DOCS: Final[dict[str, tuple[Dtype, str]]] = {
    "tok_items": ("string_list", "per token: raw item id of an online event, '' for a basket token"),
    "tok_types": ("int64_list", "per token: 0 view, 1 click, 2 add_to_cart, 3 purchase, 4 in-store basket"),
    "tok_ts": ("int64_list", "per token: epoch milliseconds, non-decreasing"),
    "basket_items": ("string_list", "raw item ids of every basket token, concatenated in token order"),
    "basket_offsets": ("int64_list", "CSR offsets into basket_items (number of basket tokens + 1)"),
    "basket_stores": ("string_list", "per basket token: the store id"),
    "seq_len": ("int64", "number of tokens"),
    "last_ts": ("int64", "epoch ms of the newest token (the row's event time)"),
}


# the sequence views' columns, in this order (the codec in omniseq/features/sequence.py reads and writes them)
SEQUENCE_FEATURES: Final[tuple[str, ...]] = tuple(_SEQ_DOCS)


def _sequence_features() -> tuple[FeatureSpec, ...]:
    out = []
    for name in SEQUENCE_FEATURES:
        dtype, doc = _SEQ_DOCS[name]
        low = 0.0 if dtype in ("int64", "int64_list") else None
        out.append(FeatureSpec(name, dtype, doc, low))
    return tuple(out)


def _online_agg_features() -> tuple[FeatureSpec, ...]:
    counts = [
        FeatureSpec(n, "int64", f"{n.removeprefix('n_')} events in the window", 0) for n in ONLINE_COUNTS
    ]
    return (
        *counts,
        FeatureSpec(ONLINE_TOTAL, "int64", "online events in the window", 0),
        FeatureSpec(ONLINE_RECENCY, "int64", "epoch ms of the newest online event (recency)", 0),
    )


_INSTORE_FEATURES: Final[tuple[FeatureSpec, ...]] = (
    FeatureSpec("store_visits", "int64", "in-store transactions (baskets) so far", 0),
    FeatureSpec("store_items", "int64", "items bought in store so far", 0),
    FeatureSpec("mean_basket_size", "float64", "store_items / store_visits", 0),
    FeatureSpec("last_store_id", "string", "store of the newest basket"),
    FeatureSpec("last_store_ts", "int64", "epoch ms of the newest basket", 0),
)


_EVENT_TIME: Final[dict[str, str]] = {
    "sequence": "last_ts",
    "online_agg": ONLINE_RECENCY,
    "instore_agg": "last_store_ts",
}


def _build_views() -> dict[str, ViewSpec]:
    seq = _sequence_features()
    specs = [
        ViewSpec("user_hybrid_seq", 1, "sequence", seq,
                 "Hybrid behaviour sequence: last 50 tokens (online events and in-store baskets), raw item ids",
                 "last 50 tokens", "clickstream+instore", max_len=50),
        ViewSpec("user_hybrid_seq", 2, "sequence", seq,
                 "Hybrid behaviour sequence: last 90 tokens (the seed's max length), raw item ids",
                 "last 90 tokens", "clickstream+instore", max_len=90),
        ViewSpec("user_online_agg_10m", 1, "online_agg", _online_agg_features(),
                 "Online event counts per type over a 10 min HOP window (1 min slide) and recency",
                 "10m hop / 1m slide", "clickstream", ttl=timedelta(minutes=10)),
        ViewSpec("user_online_agg_1h", 1, "online_agg", _online_agg_features(),
                 "Online event counts per type over a 1 h HOP window (5 min slide) and recency",
                 "1h hop / 5m slide", "clickstream", ttl=timedelta(hours=1)),
        ViewSpec("user_instore_agg", 1, "instore_agg", _INSTORE_FEATURES,
                 "In-store aggregates: visits, items, mean basket size, last store visit",
                 "all history", "instore"),
    ]  # fmt: skip
    return {s.name: s for s in specs}


VIEWS: Final[dict[str, ViewSpec]] = _build_views()

# Feature services per model family: service name -> view names (all features of each view).
SERVICES: Final[dict[str, tuple[str, ...]]] = {
    "sasrec_online": ("user_hybrid_seq_v1",),
    "sasrec_online_v2": ("user_hybrid_seq_v2",),
    "store_encoder": ("user_hybrid_seq_v1", "user_instore_agg_v1"),
    "store_encoder_v2": ("user_hybrid_seq_v2", "user_instore_agg_v1"),
    "ranking_context": ("user_online_agg_10m_v1", "user_online_agg_1h_v1", "user_instore_agg_v1"),
}


def view(name: str) -> ViewSpec:
    """The spec of a feature view by its versioned name; a clear error for an unknown one."""
    try:
        return VIEWS[name]
    except KeyError:
        raise KeyError(f"unknown feature view {name!r}; known: {', '.join(sorted(VIEWS))}") from None


def feature_refs(view_name: str, feature_names: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Feast references ``view:feature`` (all features of the view by default)."""
    spec = view(view_name)
    names = list(feature_names) if feature_names is not None else list(spec.feature_names)
    unknown = [n for n in names if n not in spec.feature_names]
    if unknown:
        raise KeyError(f"feature view {view_name!r} has no feature(s) {unknown}; it has {spec.feature_names}")
    return [f"{view_name}:{n}" for n in names]


def resolve_feature_refs(feature_versions: Mapping[str, str]) -> list[str]:
    """A model manifest's ``feature_versions`` (role -> exact view name) as Feast feature references.

    >>> resolve_feature_refs({"sequence": "user_hybrid_seq_v2"})[:1]
    ['user_hybrid_seq_v2:tok_items']
    """
    if not feature_versions:
        raise ValueError("feature_versions is empty: a model must record the feature views it was trained on")
    refs: list[str] = []
    for role, name in feature_versions.items():
        if not isinstance(name, str):
            raise TypeError(f"feature_versions[{role!r}] must be a view name string, got {name!r}")
        refs.extend(feature_refs(name))
    return refs
