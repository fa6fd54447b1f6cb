"""How generated journeys compare with real ones: zone distributions, Jensen-Shannon divergence, validity.

* Trajectory distribution: the share of points in each region of the layout (the zones, entrance, checkout;
  see :class:`~omniseq.data.sim.store_layout.StoreLayout`), prompt points left out.
* Purchase distribution: the share of purchase words per zone (a purchase is placed at the zone whose face is
  nearest the point before it, within the encoder's ``zone_radius_m``).
* JS divergence, base-2 logarithm (so it lies in [0, 1]; lower is better): ``JSD = KL(P||M)/2 + KL(Q||M)/2``,
  ``M = (P + Q) / 2``. The seed does not name its log base or binning; these are ours.
* Validity: the share of generated steps that are not a valid code, land on a shelf or outside the store, or whose
  straight segment from the previous point crosses a shelf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from omniseq.data.journey_encoding import BUY, zone_near
from omniseq.data.sim.store_layout import CELL_M, Cell, StoreLayout, decode_code


def js_divergence(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon divergence (log base 2) between two histograms (normalised here; zero bins allowed)."""
    a, b = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if a.shape != b.shape or a.sum() <= 0 or b.sum() <= 0 or (a < 0).any() or (b < 0).any():
        raise ValueError("js_divergence: two non-negative histograms of the same length, each with mass")
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float((x[nz] * np.log2(x[nz] / m[nz])).sum())

    return max(0.0, 0.5 * kl(a) + 0.5 * kl(b))


@dataclass
class JourneyStats:
    """Counts over many journeys' words."""

    visits: np.ndarray  # per region
    purchases: np.ndarray  # per zone
    steps: int = 0
    invalid_steps: int = 0
    lengths: list[int] = field(default_factory=list)

    @property
    def invalid_share(self) -> float:
        return self.invalid_steps / max(self.steps, 1)


def journey_stats(
    layout: StoreLayout, journeys: Sequence[Sequence[str]], skip_points: int = 0, zone_radius_m: float = 1.5
) -> JourneyStats:
    """Region visits, purchases per zone and validity of word sequences (the first ``skip_points`` points of
    each are context only: not counted, but the first counted step is checked against the last of them)."""
    st = JourneyStats(np.zeros(len(layout.regions)), np.zeros(len(layout.zones)))
    for words in journeys:
        prev: Cell | None = None
        point = 0
        for w in words:
            if w == BUY:
                if prev is not None and point > skip_points:
                    z = zone_near(layout, (prev[0] * CELL_M, prev[1] * CELL_M), zone_radius_m)
                    if 0 <= z < len(layout.zones):
                        st.purchases[z] += 1
                continue
            point += 1
            cell = _cell(w)
            counted = point > skip_points
            if counted:
                st.steps += 1
                bad = cell is None or not layout.walkable(cell)
                bad = bad or (prev is not None and cell is not None and layout.crosses_shelf(prev, cell))
                st.invalid_steps += int(bad)
                if cell is not None and layout.walkable(cell):
                    st.visits[int(layout.region_of[cell])] += 1
            if cell is not None and layout.walkable(cell):
                prev = cell
        st.lengths.append(point)
    return st


def _cell(word: str) -> Cell | None:
    try:
        return decode_code(word)
    except ValueError:
        return None


def compare(layout: StoreLayout, real: JourneyStats, generated: JourneyStats) -> dict[str, float]:
    """JS divergences of trajectories and purchases, validity, mean length (generated vs real)."""
    out = {
        "js_trajectory": js_divergence(real.visits, generated.visits) if generated.visits.sum() else 1.0,
        "js_purchase": js_divergence(real.purchases, generated.purchases)
        if generated.purchases.sum()
        else 1.0,
        "invalid_step_share": generated.invalid_share,
        "real_invalid_step_share": real.invalid_share,
        "mean_points": float(np.mean(generated.lengths)) if generated.lengths else 0.0,
        "real_mean_points": float(np.mean(real.lengths)) if real.lengths else 0.0,
        "purchases_per_journey": float(generated.purchases.sum() / max(len(generated.lengths), 1)),
        "real_purchases_per_journey": float(real.purchases.sum() / max(len(real.lengths), 1)),
    }
    return {k: round(v, 6) for k, v in out.items()}
