"""Request and response bodies of the HTTP API (they are the OpenAPI schema at ``/openapi.json``).

Requests are strict: no type coercion (``"10"`` is not an integer) and no unknown fields, so a mistyped request
gets a 422 that names the field instead of a guess.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from omniseq.schema import MAX_ID_LEN

MAX_K = 100


def _integral(value: Any) -> Any:
    """JSON Schema counts 10.0 as an integer; accept it as 10 (strings and booleans stay errors)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integral = Annotated[int, BeforeValidator(_integral)]


class RecommendRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=MAX_ID_LEN, description="raw user id")
    k: Integral = Field(10, ge=1, le=MAX_K, description="number of items to return")
    exclude_items: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="raw item ids that must not be recommended (unknown ids are ignored)",
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="a registered model version, or a model name (its newest version); default: the champion",
    )
    channel: Literal["online", "store"] = Field(
        "online",
        description="where the recommendations are shown: online (next-item family) or store (cross-channel "
        "family, C2Rec); a model named in 'model' must belong to that channel's family",
    )
    explain: bool = Field(
        False, description="also return, per item, the past behaviours that drove it (costs one batched pass)"
    )


class Driver(BaseModel):
    """One past behaviour that raised an item's score: an online event or a whole in-store basket."""

    kind: Literal["online", "in_store"]
    ts_ms: int
    weight: float = Field(
        description="share of the item's positive score drops when each behaviour is left out"
    )
    score_drop: float = Field(description="the item's score minus its score without this behaviour")
    item_id: str | None = Field(None, description="online: the item")
    event_type: str | None = Field(None, description="online: view | click | add_to_cart | purchase")
    items: list[str] | None = Field(None, description="in_store: the basket's items")
    store_id: str | None = Field(None, description="in_store: the store")


class ScoredItem(BaseModel):
    item_id: str
    score: float
    because: list[Driver] | None = Field(None, description="with explain: true, the strongest drivers first")


class RecommendResponse(BaseModel):
    user_id: str
    items: list[ScoredItem]
    model_version: str
    model_name: str = Field(description="the model (architecture) of the version that answered")
    channel: str = Field(description="the channel the items are for: online or store")
    feature_versions: dict[str, str]
    fallback: bool = Field(description="true when the answer is the popularity fallback, not the model's")
    fallback_reason: str | None = Field(
        None, description="no_history | no_known_items | bad_features | store_unavailable"
    )


class ErrorResponse(BaseModel):
    detail: str = Field(description="what is wrong, in words")
    errors: list[dict[str, Any]] | None = Field(None, description="per-field validation errors, when any")


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    ready: bool
    model_version: str | None
    store: str = Field(description="ok | cold (reachable but empty) | unreachable")
    detail: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="degraded but serving: champion not loadable, most answers fallbacks",
    )
