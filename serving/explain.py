"""Why an item was recommended: which past behaviours drove its score (``POST /recommend`` with ``explain: true``).

The attribution is *occlusion* (leave one behaviour out), computed with the served model itself: for each of the
user's newest behaviours ``j`` (an online event, or a whole in-store basket — a basket is one behaviour, explained as
a basket) the sequence is re-encoded without ``j`` through the same encoder, and the drop of each recommended item's
score, ``s_i(history) - s_i(history without j)``, is that behaviour's contribution to item ``i``. All variants run
as one batch. A behaviour's ``weight`` is its share of the item's positive drops (the weights of an item's drivers
sum to at most 1; behaviours that lowered the score are not drivers). Occlusion works for every architecture behind
the export contract (unlike raw attention weights, which only exist inside attention models and mix positions
across layers), at the price of one batched forward pass; its cost is measured by ``omniseq bench serve``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from feature_repo.views import EVENT_TYPE_CODES
from models.inputs import InputSpec, expand, indexed_units, layout_many
from omniseq.features.sequence import HybridSequence, Token
from serving.scoring import ItemScorer

EVENT_NAMES = {code: name for name, code in EVENT_TYPE_CODES.items()}


def _in_window(units: Sequence[tuple[int, Any]], spec: InputSpec, limit: int) -> list[int]:
    """Indices (into ``units``) of the newest ``limit`` behaviours that put at least one token in the window."""
    chosen: list[int] = []
    room = spec.max_len
    for j in range(len(units) - 1, -1, -1):
        n = len(expand([units[j][1]], spec))
        if n == 0:
            continue  # e.g. a basket when the model ignores baskets: it cannot have driven anything
        chosen.append(j)
        room -= n
        if room <= 0 or len(chosen) >= limit:
            break
    return chosen


def describe(token: Token) -> dict[str, Any]:
    if token.is_basket:
        return {
            "kind": "in_store",
            "items": list(token.basket),
            "store_id": token.store_id,
            "ts_ms": token.ts_ms,
        }
    return {
        "kind": "online",
        "item_id": token.item_id,
        "event_type": EVENT_NAMES.get(token.type_code, str(token.type_code)),
        "ts_ms": token.ts_ms,
    }


def explain(
    module: Any,
    scorer: ItemScorer | None,
    spec: InputSpec,
    index: dict[str, int],
    seq: HybridSequence,
    items: Sequence[int],
    max_behaviours: int = 20,
    top: int = 3,
) -> list[list[dict[str, Any]]]:
    """Per item of ``items`` (vocabulary indices) up to ``top`` drivers, strongest first."""
    if not items:
        return []
    units = indexed_units(seq, index)
    chosen = _in_window(units, spec, max_behaviours)
    if not chosen:
        return [[] for _ in items]
    plain = [u for _, u in units]
    variants = [plain] + [plain[:j] + plain[j + 1 :] for j in chosen]
    tokens, baskets, _ = layout_many([expand(v, spec) for v in variants], spec.max_len, spec.max_basket)
    with torch.inference_mode():
        if scorer is not None:
            scores = scorer.item_scores(module.user_repr(tokens, baskets), items)
        else:
            scores = module(tokens, baskets)[:, torch.as_tensor(list(items), dtype=torch.long)].float()
    drops = scores[0].unsqueeze(0) - scores[1:]  # [behaviours, items]
    out: list[list[dict[str, Any]]] = []
    for col in range(len(items)):
        d = drops[:, col].tolist()
        positive = sum(x for x in d if x > 0)
        ranked = sorted((r for r in range(len(chosen)) if d[r] > 0), key=lambda r: -d[r])[:top]
        out.append(
            [
                {
                    **describe(seq.tokens[units[chosen[r]][0]]),
                    "weight": round(d[r] / positive, 6),
                    "score_drop": round(d[r], 6),
                }
                for r in ranked
            ]
        )
    return out
