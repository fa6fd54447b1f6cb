"""Measuring what the simulator promises: the test oracle of `tests/data/test_simulator.py` (and `docs/DATA.md`).

:func:`store_effect_rates` measures the in-store -> online effect from the generated behaviours alone plus the
known ground truth (item categories and each group's complement structure): over online sessions that follow an
in-store basket, the share of viewed items whose category complements the last basket, and the share that
repeat an item of the last basket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omniseq.data.sim.simulator import Simulator
from omniseq.schema import OnlineEvent, StoreTransaction


@dataclass
class EffectRates:
    views_after_basket: int = 0
    complement_views: int = 0
    repeat_views: int = 0
    baseline_complement_share: float = (
        0.0  # share of categories that are complements (chance level, averaged)
    )

    @property
    def complement_rate(self) -> float:
        return self.complement_views / self.views_after_basket if self.views_after_basket else 0.0

    @property
    def repeat_rate(self) -> float:
        return self.repeat_views / self.views_after_basket if self.views_after_basket else 0.0


def store_effect_rates(sim: Simulator, start: int, stop: int) -> EffectRates:
    """View events in online sessions after a basket: how many hit complements / repeat its items."""
    out = EffectRates()
    chance: list[float] = []
    world = sim.world
    for user in sim.users(start, stop):
        mask: np.ndarray | None = None
        bought: set[str] = set()
        for b in user.behaviours:
            if isinstance(b, StoreTransaction):
                cats = [world.category_of(i) for i in b.items]
                mask = world.complements_of(cats, user.profile.group)
                bought = set(b.items)
            elif isinstance(b, OnlineEvent) and b.event_type == "view" and mask is not None:
                out.views_after_basket += 1
                out.complement_views += bool(mask[world.category_of(b.item_id)])
                out.repeat_views += b.item_id in bought
                chance.append(float(mask.mean()))
    out.baseline_complement_share = float(np.mean(chance)) if chance else 0.0
    return out


def channel_mix(sim: Simulator, start: int, stop: int) -> dict[str, float]:
    """Observed store trips vs. their expectation under each user's propensity (sum of p * visits)."""
    trips, expected, var, visits = 0, 0.0, 0.0, 0
    for user in sim.users(start, stop):
        p = user.profile.store_propensity
        trips += user.store_trips
        visits += user.visits
        expected += p * user.visits
        var += p * (1 - p) * user.visits
    return {"store_trips": trips, "expected": expected, "std": var**0.5, "visits": visits}
