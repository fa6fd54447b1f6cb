"""The store simulator: layouts, A* paths around shelves, determinism, and pause / purchase ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from omniseq.data.sim.store_layout import CELL_M, astar
from omniseq.data.sim.store_plans import STORE_IDS, store, swap_zones
from omniseq.data.sim.store_sim import StoreSimConfig, StoreSimulator, category_of

BASKETS = [(f"u{k}", tuple(f"item{k * 7 + i}" for i in range(1 + k % 5))) for k in range(12)]


@pytest.mark.parametrize("sid", STORE_IDS)
def test_layouts_have_zones_on_shelf_faces(sid: str) -> None:
    lay = store(sid)
    assert len({z.name for z in lay.zones}) == len(lay.zones) == 16
    for z in lay.zones:
        for face, shelf in zip(z.faces, z.shelf, strict=True):
            assert lay.walkable(face) and not lay.walkable(shelf)
            assert abs(face[0] - shelf[0]) + abs(face[1] - shelf[1]) == 1
    assert (lay.region_of[~lay.shelf] >= 0).all()  # every walkable cell is reachable and has a region


def test_store_b_differs_from_a_and_swap_moves_only_two_zones() -> None:
    a, b = store("A"), store("B")
    assert a.shape != b.shape and [z.name for z in a.zones] != [z.name for z in b.zones]
    moved = swap_zones(a, "drinks", "snacks")
    changed = [i for i, (x, y) in enumerate(zip(a.zones, moved.zones, strict=True)) if x.name != y.name]
    assert len(changed) == 2 and moved.zones[changed[0]].faces == a.zones[changed[0]].faces
    with pytest.raises(ValueError):
        swap_zones(a, "drinks", "nope")


@pytest.mark.parametrize("sid", STORE_IDS)
def test_astar_paths_never_cross_shelves(sid: str) -> None:
    lay = store(sid)
    rng = np.random.default_rng(0)
    free = np.argwhere(~lay.shelf)
    for _ in range(25):
        a, b = (tuple(int(x) for x in free[rng.integers(len(free))]) for _ in range(2))
        path = astar(lay, a, b)  # type: ignore[arg-type]
        assert path[0] == a and path[-1] == b
        for p, q in zip(path, path[1:], strict=False):
            assert lay.walkable(q) and max(abs(p[0] - q[0]), abs(p[1] - q[1])) == 1
            assert lay.walkable((p[0], q[1])) and lay.walkable((q[0], p[1]))  # no corner cut past a shelf


@pytest.mark.parametrize("sid", STORE_IDS)
def test_true_track_stays_off_shelves_and_samples_at_fixed_rate(sid: str) -> None:
    lay = store(sid)
    sim = StoreSimulator(lay, StoreSimConfig(sample_hz=2.0))
    for j in sim.stream(iter(BASKETS), 6):
        assert np.allclose(np.diff(j.t), 0.5)
        cells = np.floor(j.true_xy / CELL_M + 0.5).astype(int)  # nearest cell centre
        assert all(lay.walkable((int(r), int(c))) for r, c in cells)
        assert np.abs(j.xy - j.true_xy).std() > 0.05  # noise was added


def test_seeded_and_independent_of_stream_position() -> None:
    lay = store("A")
    one = list(StoreSimulator(lay, StoreSimConfig(seed=3)).stream(iter(BASKETS), 5))
    two = list(StoreSimulator(lay, StoreSimConfig(seed=3)).stream(iter(BASKETS), 5))
    alone = StoreSimulator(lay, StoreSimConfig(seed=3)).journey(4, *BASKETS[4])
    other = StoreSimulator(lay, StoreSimConfig(seed=4)).journey(4, *BASKETS[4])
    for x, y in zip(one, two, strict=True):
        assert np.array_equal(x.xy, y.xy) and x.pauses == y.pauses and x.receipt == y.receipt
    assert np.array_equal(one[4].xy, alone.xy)
    assert not np.array_equal(one[4].xy[: len(other.xy)], other.xy[: len(one[4].xy)])


def test_pause_ground_truth_matches_receipt() -> None:
    lay = store("B")
    cfg = StoreSimConfig(browse_zones=2.0)
    kinds: set[str] = set()
    for j in StoreSimulator(lay, cfg).stream(iter(BASKETS), 12):
        bought = [i for p in j.pauses if p.kind == "purchase" for i in p.items]
        assert j.receipt is not None and sorted(j.receipt.items) == sorted(set(bought))
        assert set(j.receipt.items) <= set(BASKETS[int(j.journey_id.split("-")[-1])][1][: cfg.max_items])
        assert [p.kind for p in j.pauses].count("checkout") == 1
        for p in j.pauses:
            kinds.add(p.kind)
            assert p.t1 > p.t0
            if p.kind == "purchase":
                assert p.items and all(category_of(i) == lay.zones[p.zone].name for i in p.items)
                assert p.cell in lay.zones[p.zone].faces
            else:
                assert not p.items
    assert kinds == {"purchase", "look", "checkout"}
