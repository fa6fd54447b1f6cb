"""Request and response bodies of ``POST /next-basket`` (strict, like every other request of the API)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from omniseq.schema import MAX_ID_LEN
from serving.schemas import Integral

MAX_BASKET_K = 50


class NextBasketRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=MAX_ID_LEN, description="raw user id")
    k: Integral = Field(
        10, ge=1, le=MAX_BASKET_K, description="at most this many items of the decoded basket"
    )
    model: str | None = Field(
        None, min_length=1, max_length=200, description="a registered next_basket version or model name"
    )


class BasketItem(BaseModel):
    item_id: str
    probability: float = Field(
        description="the decoder's probability of this item at the step it was emitted"
    )


class DaysToNext(BaseModel):
    predicted: float = Field(description="days from the latest basket to the next purchase")
    low: float = Field(description="predicted + the 10 % residual quantile of the training run (>= 0)")
    high: float = Field(description="predicted + the 90 % residual quantile of the training run")


class NextBasketResponse(BaseModel):
    user_id: str
    items: list[BasketItem] = Field(
        description="the decoded next basket, in decoding order (variable size <= k)"
    )
    days_to_next_purchase: DaysToNext
    history_baskets: int = Field(description="baskets read from the online store for this user")
    known_user: bool = Field(description="false: the model has no user embedding for this id (cold start)")
    model_version: str
    feature_versions: dict[str, str]
