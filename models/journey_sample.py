"""Generated journeys as products: words -> points, purchases -> zone, category, item, and one receipt each.

A journey model bundle holds, per store, a TorchScript generator (eager modules work too), the tokenizer, a pool of
real prompts (the first 7 points of held journeys) and the per-category item catalogue of the training receipts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.journey_tokens import JourneyTokenizer
from models.journey_train import generate
from omniseq.data.journey_encoding import BUY, zone_near
from omniseq.data.sim.store_layout import CELL_M, StoreLayout, decode_code
from omniseq.data.sim.store_sim import START_MS
from omniseq.schema import StoreTransaction


@dataclass(frozen=True)
class GeneratedJourney:
    journey_id: str
    store_id: str
    words: list[str]
    cells: list[tuple[int, int]]
    purchases: list[dict[str, Any]]  # {"point": k, "zone": i, "category": c, "item": id}
    receipt: StoreTransaction | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "store_id": self.store_id,
            "codes": [w for w in self.words if w != BUY],
            "cells": [list(c) for c in self.cells],
            "purchases": self.purchases,
            "receipt_items": list(self.receipt.items) if self.receipt else [],
        }


def sample_journeys(
    module: Any,
    tok: JourneyTokenizer,
    layout: StoreLayout,
    prompts: Sequence[Sequence[str]],
    catalog: Mapping[str, Sequence[str]],
    n: int,
    seed: int,
    ts_ms: int = START_MS,
) -> list[GeneratedJourney]:
    """``n`` journeys from prompts drawn (seeded) from the pool; purchases become items of the zone's category."""
    if n < 1 or not prompts:
        raise ValueError("sample_journeys: n >= 1 and a non-empty prompt pool")
    rng = np.random.default_rng(seed)
    chosen = [list(prompts[int(i)]) for i in rng.integers(0, len(prompts), n)]
    cont = generate(module, [tok.encode(p) for p in chosen], seed=seed)
    out = []
    for k, (prompt, ids) in enumerate(zip(chosen, cont, strict=True)):
        words = prompt + tok.decode(ids)
        out.append(
            _journey(layout, words, catalog, rng, f"gen-{layout.store_id}-{seed}-{k}", ts_ms + k * 60_000)
        )
    return out


def _journey(
    layout: StoreLayout,
    words: list[str],
    catalog: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    jid: str,
    ts_ms: int,
) -> GeneratedJourney:
    cells: list[tuple[int, int]] = []
    purchases: list[dict[str, Any]] = []
    for w in words:
        if w != BUY:
            try:
                cells.append(decode_code(w))
            except ValueError:
                continue  # a malformed generated word: no point (counted as invalid by the evaluation)
            continue
        if not cells:
            continue
        z = zone_near(layout, (cells[-1][0] * CELL_M, cells[-1][1] * CELL_M), 1.5)
        if 0 <= z < len(layout.zones):
            cat = layout.zones[z].name
            pool = catalog.get(cat) or []
            item = str(pool[int(rng.integers(len(pool)))]) if pool else f"{cat}-item"
            purchases.append({"point": len(cells) - 1, "zone": z, "category": cat, "item": item})
    items = tuple(dict.fromkeys(p["item"] for p in purchases))
    receipt = (
        StoreTransaction(
            txn_id=jid, user_id=f"gen-{jid}", items=items, ts_ms=ts_ms, store_id=f"store-{layout.store_id}"
        )
        if items
        else None
    )
    return GeneratedJourney(jid, layout.store_id, words, cells, purchases, receipt)
