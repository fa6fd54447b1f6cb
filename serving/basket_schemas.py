"""Request and response bodies of ``POST /basket/complete`` (strict, like :mod:`serving.schemas`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from omniseq.schema import MAX_ID_LEN
from serving.schemas import MAX_K, Integral

MAX_BASKET_ITEMS = 100


class BasketCompleteRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=MAX_ID_LEN, description="raw user id")
    basket: list[str] = Field(
        default_factory=list,
        max_length=MAX_BASKET_ITEMS,
        description="raw item ids already in the basket, in any order (unknown ids are reported, not fatal)",
    )
    k: Integral = Field(10, ge=1, le=MAX_K, description="number of items to return")
    exclude_items: list[str] = Field(
        default_factory=list, max_length=1000, description="raw item ids that must not be recommended"
    )
    model: str | None = Field(
        None, min_length=1, max_length=200, description="a registered basket model version or model name"
    )


class Because(BaseModel):
    item_id: str = Field(description="a basket item, or '<history>' for the start-of-basket slot")
    weight: float = Field(description="attention weight (heads averaged); the weights of one answer sum to 1")


class CompletedItem(BaseModel):
    item_id: str
    score: float
    because: list[Because] = Field(
        description="the attention weights of the step that scored this item, largest first"
    )


class BasketCompleteResponse(BaseModel):
    user_id: str
    items: list[CompletedItem]
    unknown_items: list[str] = Field(description="basket items the model does not know (ignored)")
    history_items: int = Field(description="past items of the user the answer used (from the online store)")
    history_status: str = Field(description="ok | no_history | store_unavailable | bad_features")
    model_version: str
    feature_versions: dict[str, str]
    fallback: bool = Field(description="true when the answer is the popularity fallback, not the model's")
    fallback_reason: str | None = Field(None, description="no_signal: no known basket item and no history")
