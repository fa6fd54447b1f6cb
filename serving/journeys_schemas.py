"""Bodies of ``POST /journeys/simulate`` (strict: no coercion, no unknown fields)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.schemas import Integral

MAX_JOURNEYS = 50


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    store_id: Literal["A", "B"] = Field(description="the store whose journeys are generated")
    n: Integral = Field(10, ge=1, le=MAX_JOURNEYS, description=f"number of journeys (1..{MAX_JOURNEYS})")
    seed: Integral = Field(0, ge=0, le=2**31 - 1, description="sampling seed (same seed, same journeys)")


class Purchase(BaseModel):
    point: int = Field(description="index into cells of the point the purchase follows")
    zone: int
    category: str
    item: str


class GeneratedJourneyOut(BaseModel):
    journey_id: str
    store_id: str
    codes: list[str] = Field(description="six-character location codes, one per 3 s step")
    cells: list[list[int]] = Field(description="(row, col) of each code on the 50 cm grid")
    purchases: list[Purchase]
    receipt_items: list[str]


class SimulateResponse(BaseModel):
    store_id: str
    model_version: str
    journeys: list[GeneratedJourneyOut]
