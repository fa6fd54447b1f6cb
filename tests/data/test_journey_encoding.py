"""Location codes round trip; DBSCAN pauses mapped to zones and purchases on a constructed track and against the
simulator's ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from omniseq.data.journey_encoding import BUY, EncodingConfig, detect_pauses, encode_journey, mapping_quality
from omniseq.data.sim.store_layout import CELL_M, GRID, decode_code, encode_cell
from omniseq.data.sim.store_plans import store
from omniseq.data.sim.store_sim import StoreSimulator, category_of


def test_codes_round_trip_and_are_hierarchical() -> None:
    codes = {encode_cell((r, c)): (r, c) for r in range(GRID) for c in range(GRID)}
    assert len(codes) == GRID * GRID and all(len(code) == 6 for code in codes)
    assert all(decode_code(code) == cell for code, cell in codes.items())
    # the four cells of one 1 m square share five characters; cells 16 m apart differ in the first
    assert len({encode_cell((r, c))[:5] for r in (10, 11) for c in (20, 21)}) == 1
    assert encode_cell((0, 0))[0] != encode_cell((40, 0))[0]
    for bad in ("AEIMQ", "AEIMQUX", "EEIMQU", "aeimqu"):
        with pytest.raises(ValueError):
            decode_code(bad)
    with pytest.raises(ValueError):
        encode_cell((64, 0))


def _track(points: list[tuple[tuple[int, int], float]]) -> tuple[np.ndarray, np.ndarray]:
    """1 Hz samples: walk in straight lines between cells at 1 m/s, pausing ``s`` seconds at each."""
    xy: list[np.ndarray] = []
    for k, (cell, stay) in enumerate(points):
        here = np.array(cell, dtype=float) * CELL_M
        if k:
            prev = np.array(points[k - 1][0], dtype=float) * CELL_M
            steps = max(1, int(np.linalg.norm(here - prev) / 1.0))
            xy += [prev + (here - prev) * (i + 1) / steps for i in range(steps)]
        xy += [here] * int(stay)
    arr = np.array(xy)
    return np.arange(len(arr), dtype=float), arr + np.random.default_rng(0).normal(0, 0.1, arr.shape)


def test_dbscan_pauses_map_to_zones_and_receipt_on_constructed_track() -> None:
    lay = store("A")
    buy_zone, look_zone = lay.zones[2], lay.zones[9]
    item = next(f"i{k}" for k in range(10_000) if category_of(f"i{k}") == buy_zone.name)
    t, xy = _track([(lay.entrance, 0), (buy_zone.faces[3], 20), ((28, 3), 0), (look_zone.faces[5], 8),
                    (lay.checkouts[0], 40), (lay.entrance, 0)])  # fmt: skip
    pauses = detect_pauses(t, xy)
    assert len(pauses) == 3
    from omniseq.data.journey_encoding import label_pauses

    label_pauses(lay, pauses, [item], EncodingConfig())
    assert [p.zone for p in pauses] == [2, 9, len(lay.zones)]
    assert [p.purchase for p in pauses] == [True, False, False]
    assert pauses[0].t1 - pauses[0].t0 >= 15


def test_encoding_words_and_mapping_quality_against_ground_truth() -> None:
    lay = store("A")
    baskets = [(f"u{k}", tuple(f"x{k}-{i}" for i in range(1 + k % 4))) for k in range(12)]
    journeys = list(StoreSimulator(lay).stream(iter(baskets), 12))
    words, _ = encode_journey(lay, journeys[0])
    codes = [w for w in words if w != BUY]
    assert all(lay.walkable(decode_code(c)) for c in codes)  # map-matched onto walkable cells
    assert words.count(BUY) == len({p.zone for p in journeys[0].pauses if p.kind == "purchase"})
    q = mapping_quality(lay, journeys, EncodingConfig())
    assert q["pause_recall"] > 0.9 and q["zone_accuracy"] > 0.9
    assert q["purchase_precision"] > 0.9 and q["purchase_recall"] > 0.9
