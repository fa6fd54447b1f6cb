"""From observed positions to journey text: DBSCAN pauses, purchase zones from the receipt, location-code words.

* :func:`detect_pauses`: DBSCAN (scikit-learn) over ``(row_m, col_m, t * time_scale)``, so points close in space
  *and* time cluster; a cluster lasting at least ``min_pause_s`` is a pause (the seed's 2.5 m radius is for the
  paper's sensor; ours is ``eps_m``).
* :func:`label_pauses`: each pause is mapped to the zone whose face is nearest to its centre (within
  ``zone_radius_m``; the checkout area is its own label), then the receipt decides which pauses were purchases:
  every receipt item's category names a zone, and the longest pause at that zone is the purchase.
* :func:`journey_words`: the track every ``step_s`` seconds, map-matched to walkable cells, as six-character codes;
  the word :data:`BUY` follows the point nearest the middle of each purchase pause.
* :func:`mapping_quality`: detected pauses against the simulator's ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN

from omniseq.data.sim.store_layout import CELL_M, CHECKOUT_REGION, StoreLayout, encode_cell
from omniseq.data.sim.store_sim import Journey, category_of

BUY = "$"


@dataclass(frozen=True)
class EncodingConfig:
    eps_m: float = 0.9
    time_scale: float = 0.15  # metres per second of time distance in the DBSCAN metric
    min_samples: int = 4
    min_pause_s: float = 4.0
    zone_radius_m: float = 1.5
    step_s: float = 3.0


@dataclass
class DetectedPause:
    t0: float
    t1: float
    centre: tuple[float, float]  # metres
    zone: int  # zone index; -1 none; len(zones) for the checkout area
    purchase: bool = False


def detect_pauses(
    t: np.ndarray, xy: np.ndarray, cfg: EncodingConfig = EncodingConfig()
) -> list[DetectedPause]:
    """Pauses of one track (time order), from DBSCAN clusters that last ``min_pause_s`` or more."""
    if len(t) < cfg.min_samples:
        return []
    feats = np.column_stack([xy, t * cfg.time_scale])
    labels = DBSCAN(eps=cfg.eps_m, min_samples=cfg.min_samples).fit_predict(feats)
    out = []
    for lab in sorted(set(labels.tolist()) - {-1}):
        idx = np.flatnonzero(labels == lab)
        t0, t1 = float(t[idx].min()), float(t[idx].max())
        if t1 - t0 >= cfg.min_pause_s:
            c = xy[idx].mean(axis=0)
            out.append(DetectedPause(t0, t1, (float(c[0]), float(c[1])), -1))
    return sorted(out, key=lambda p: p.t0)


def zone_near(layout: StoreLayout, centre: tuple[float, float], radius_m: float) -> int:
    """Index of the zone whose face is nearest to ``centre`` (metres) within ``radius_m``; the checkout area is
    ``len(zones)``; -1 if nothing is near."""
    best, best_d = -1, radius_m
    for cell, z in layout.zone_at.items():
        d = float(np.hypot(cell[0] * CELL_M - centre[0], cell[1] * CELL_M - centre[1]))
        if d <= best_d:
            best, best_d = z, d
    if best < 0:
        for cell in layout.checkouts:
            if np.hypot(cell[0] * CELL_M - centre[0], cell[1] * CELL_M - centre[1]) <= radius_m:
                return len(layout.zones)
    return best


def label_pauses(
    layout: StoreLayout, pauses: list[DetectedPause], receipt_items: Sequence[str], cfg: EncodingConfig
) -> list[DetectedPause]:
    """Sets ``zone`` and ``purchase`` in place (and returns the list)."""
    for p in pauses:
        p.zone = zone_near(layout, p.centre, cfg.zone_radius_m)
    for z in sorted({layout.zone_index(category_of(i)) for i in receipt_items}):
        at_zone = [p for p in pauses if p.zone == z]
        if at_zone:
            max(at_zone, key=lambda p: p.t1 - p.t0).purchase = True
    return pauses


def encode_journey(
    layout: StoreLayout, journey: Journey, cfg: EncodingConfig = EncodingConfig()
) -> tuple[list[str], list[DetectedPause]]:
    """The journey's words and its labelled pauses."""
    pauses = detect_pauses(journey.t, journey.xy, cfg)
    label_pauses(layout, pauses, journey.receipt.items if journey.receipt else (), cfg)
    return journey_words(layout, journey.t, journey.xy, pauses, cfg.step_s), pauses


def journey_words(
    layout: StoreLayout, t: np.ndarray, xy: np.ndarray, pauses: list[DetectedPause], step_s: float
) -> list[str]:
    every = max(1, round(step_s / float(t[1] - t[0]))) if len(t) > 1 else 1
    keep = np.arange(0, len(t), every)
    words: list[str] = []
    buys = sorted((p.t0 + p.t1) / 2 for p in pauses if p.purchase)
    for k, i in enumerate(keep):
        cell = layout.nearest_walkable(xy[i, 0] / CELL_M, xy[i, 1] / CELL_M)
        words.append(encode_cell(cell))
        nxt = t[keep[k + 1]] if k + 1 < len(keep) else np.inf
        while buys and buys[0] < (t[i] + nxt) / 2:
            words.append(BUY)
            buys.pop(0)
    return words


def mapping_quality(
    layout: StoreLayout, journeys: Sequence[Journey], cfg: EncodingConfig
) -> dict[str, float]:
    """Detected pauses vs the simulator's ground truth: pause recall / precision (time overlap), zone accuracy
    of matched pauses, and purchase precision / recall at zone level (per journey, zone sets)."""
    n_true = n_det = matched = zone_ok = 0
    tp = fp = fn = 0
    for j in journeys:
        pauses = encode_journey(layout, j, cfg)[1]
        n_true += len(j.pauses)
        n_det += len(pauses)
        used: set[int] = set()
        for truth in j.pauses:
            hit = next(
                (k for k, p in enumerate(pauses) if k not in used and p.t0 <= truth.t1 and truth.t0 <= p.t1),
                None,
            )
            if hit is None:
                continue
            used.add(hit)
            matched += 1
            want = len(layout.zones) if truth.kind == "checkout" else truth.zone
            zone_ok += int(pauses[hit].zone == want)
        true_buy = {p.zone for p in j.pauses if p.kind == "purchase"}
        det_buy = {p.zone for p in pauses if p.purchase}
        tp += len(true_buy & det_buy)
        fp += len(det_buy - true_buy)
        fn += len(true_buy - det_buy)
    return {
        "pause_recall": matched / max(n_true, 1),
        "pause_precision": matched / max(n_det, 1),
        "zone_accuracy": zone_ok / max(matched, 1),
        "purchase_precision": tp / max(tp + fp, 1),
        "purchase_recall": tp / max(tp + fn, 1),
    }


__all__ = ["BUY", "CHECKOUT_REGION", "EncodingConfig", "encode_journey", "mapping_quality"]
