"""The two store floor plans (``A`` and ``B``) and the layout what-if (swap where two categories are shelved).

* Store **A**: 18 m x 14 m, four horizontal shelf runs (1 m deep, 10 m long) with 2 m aisles; each long side of a
  run carries two zones, so 16 zones for the 16 categories. Entrance bottom-left, three checkouts bottom-right.
* Store **B**: 22 m x 20 m (a larger store), four *vertical* shelf runs, the same 16 categories in a different
  order, entrance bottom-right and checkouts bottom-left: same products, different walking patterns.

The outer border is a wall (impassable). Checkout counters are shelf cells beside the checkout cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from omniseq.data.sim.store_layout import CATEGORIES, Cell, StoreLayout, Zone

Rect = tuple[int, int, int, int]  # r0, c0, r1, c1 inclusive

STORE_IDS: tuple[str, ...] = ("A", "B")


def _zones_of_run(shelf: Rect, horizontal: bool) -> list[tuple[tuple[Cell, ...], tuple[Cell, ...]]]:
    """Four zones per run: each long side split in two halves; returns (shelf cells, face cells) per zone."""
    r0, c0, r1, c1 = shelf
    out = []
    if horizontal:
        mid = (c0 + c1 + 1) // 2
        for face_row, shelf_row in ((r0 - 1, r0), (r1 + 1, r1)):
            for a, b in ((c0, mid - 1), (mid, c1)):
                out.append(
                    (
                        tuple((shelf_row, c) for c in range(a, b + 1)),
                        tuple((face_row, c) for c in range(a, b + 1)),
                    )
                )
    else:
        mid = (r0 + r1 + 1) // 2
        for face_col, shelf_col in ((c0 - 1, c0), (c1 + 1, c1)):
            for a, b in ((r0, mid - 1), (mid, r1)):
                out.append(
                    (
                        tuple((r, shelf_col) for r in range(a, b + 1)),
                        tuple((r, face_col) for r in range(a, b + 1)),
                    )
                )
    return out


def build_layout(
    store_id: str,
    shape: tuple[int, int],
    runs: Sequence[Rect],
    horizontal: bool,
    placement: Sequence[str],
    entrance: Cell,
    checkouts: Sequence[Cell],
    counters: Sequence[Rect],
) -> StoreLayout:
    """A layout from shelf runs; ``placement[k]`` is the category of the k-th zone (runs in order, 4 per run)."""
    shelf = np.zeros(shape, dtype=bool)
    shelf[0, :] = shelf[-1, :] = shelf[:, 0] = shelf[:, -1] = True
    for r0, c0, r1, c1 in [*runs, *counters]:
        shelf[r0 : r1 + 1, c0 : c1 + 1] = True
    slots = [z for run in runs for z in _zones_of_run(run, horizontal)]
    if len(placement) != len(slots) or set(placement) != set(CATEGORIES):
        raise ValueError(f"store {store_id}: placement must list each of the {len(slots)} categories once")
    zones = tuple(Zone(cat, s, f) for cat, (s, f) in zip(placement, slots, strict=True))
    return StoreLayout(store_id, shelf, entrance, tuple(checkouts), zones)


_B_ORDER = (7, 12, 0, 9, 3, 14, 5, 10, 1, 15, 6, 13, 2, 8, 4, 11)


def store(store_id: str, placement: Sequence[str] | None = None) -> StoreLayout:
    """Store ``"A"`` or ``"B"`` (optionally with another category placement, see :func:`swap_zones`)."""
    if store_id == "A":
        return build_layout(
            "A",
            (36, 28),
            runs=[(5, 4, 6, 23), (11, 4, 12, 23), (17, 4, 18, 23), (23, 4, 24, 23)],
            horizontal=True,
            placement=placement or CATEGORIES,
            entrance=(34, 2),
            checkouts=((31, 14), (31, 18), (31, 22)),
            counters=[(32, 13, 33, 15), (32, 17, 33, 19), (32, 21, 33, 23)],
        )
    if store_id == "B":
        return build_layout(
            "B",
            (44, 40),
            runs=[(6, 7, 33, 8), (6, 15, 33, 16), (6, 23, 33, 24), (6, 31, 33, 32)],
            horizontal=False,
            placement=placement or [CATEGORIES[i] for i in _B_ORDER],
            entrance=(42, 37),
            checkouts=((38, 4), (38, 9), (38, 14)),
            counters=[(39, 3, 41, 5), (39, 8, 41, 10), (39, 13, 41, 15)],
        )
    raise ValueError(f"unknown store {store_id!r}; choose one of {', '.join(STORE_IDS)}")


def swap_zones(layout: StoreLayout, a: str, b: str) -> StoreLayout:
    """The what-if layout: the same store with categories ``a`` and ``b`` exchanging shelf places."""
    names = [z.name for z in layout.zones]
    for name in (a, b):
        if name not in names:
            raise ValueError(f"unknown category {name!r}; choose from {', '.join(names)}")
    ia, ib = names.index(a), names.index(b)
    names[ia], names[ib] = names[ib], names[ia]
    return store(layout.store_id, names)
