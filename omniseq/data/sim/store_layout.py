"""Store floor plans on a 50 cm grid, the six-character hierarchical location code, and A* paths.

A :class:`StoreLayout` is a boolean grid (``True`` = shelf, impassable) of ``rows x cols`` cells of
:data:`CELL_M` metres, an entrance, checkout cells, and product *zones*: each zone is one category of products on
one stretch of a shelf, reached from its *face* cells (the walkable cells beside that stretch). Every walkable cell
also belongs to one *region* (the nearest zone by walking distance, or the entrance / checkout area), which is what
trajectory distributions are counted over.

Location code (seed arXiv 2407.11081: "a six-character hierarchical grid"; the paper's alphabet and ordering are not
available, so this one is ours): the floor is a 64 x 64 quadtree; level ``k`` (0..5) picks one quadrant with the
letter ``LEVEL_ALPHABETS[k][2 * row_bit + col_bit]``, so each level has its own four letters (``A-D``, ``E-H``, ...,
``U-X``) and a prefix of ``k`` letters names a square of ``32 / 2**k`` metres. Byte-level BPE can then learn merges
of coarse prefixes shared by nearby cells.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import numpy as np

CELL_M: Final[float] = 0.5
LEVELS: Final[int] = 6
GRID: Final[int] = 2**LEVELS  # 64 cells = 32 m per side
LEVEL_ALPHABETS: Final[tuple[str, ...]] = ("ABCD", "EFGH", "IJKL", "MNOP", "QRST", "UVWX")
ENTRANCE_REGION: Final[str] = "entrance"
CHECKOUT_REGION: Final[str] = "checkout"
CATEGORIES: Final[tuple[str, ...]] = (
    "produce", "bakery", "dairy", "meat", "fish", "frozen", "drinks", "snacks",
    "household", "personal_care", "baby", "pet", "canned", "pasta_rice", "breakfast", "alcohol",
)  # fmt: skip

Cell = tuple[int, int]  # (row, col)


def encode_cell(cell: Cell) -> str:
    """The six-character code of grid cell ``(row, col)`` (both in ``0..63``)."""
    r, c = cell
    if not (0 <= r < GRID and 0 <= c < GRID):
        raise ValueError(f"cell {cell} is outside the {GRID}x{GRID} code grid")
    out = []
    for k in range(LEVELS):
        shift = LEVELS - 1 - k
        out.append(LEVEL_ALPHABETS[k][2 * ((r >> shift) & 1) + ((c >> shift) & 1)])
    return "".join(out)


def decode_code(code: str) -> Cell:
    """Inverse of :func:`encode_cell`; raises ``ValueError`` on anything that is not a valid code."""
    if len(code) != LEVELS:
        raise ValueError(f"location code {code!r} must have {LEVELS} characters")
    r = c = 0
    for k, ch in enumerate(code):
        q = LEVEL_ALPHABETS[k].find(ch)
        if q < 0:
            raise ValueError(f"location code {code!r}: {ch!r} is not a level-{k} letter")
        r, c = 2 * r + (q >> 1), 2 * c + (q & 1)
    return r, c


@dataclass(frozen=True)
class Zone:
    name: str  # the category shelved there
    shelf: tuple[Cell, ...]
    faces: tuple[Cell, ...]  # walkable cells from which the zone's products are picked


@dataclass
class StoreLayout:
    """A floor plan: ``shelf[r, c]`` True where a shelf stands; the border is a wall (shelf)."""

    store_id: str
    shelf: np.ndarray
    entrance: Cell
    checkouts: tuple[Cell, ...]
    zones: tuple[Zone, ...]
    region_of: np.ndarray = field(init=False, repr=False)  # int per cell: region index, -1 on shelves
    zone_at: dict[Cell, int] = field(init=False, repr=False)  # face cell -> zone index

    def __post_init__(self) -> None:
        rows, cols = self.shelf.shape
        if rows > GRID or cols > GRID:
            raise ValueError(f"store {self.store_id}: {rows}x{cols} exceeds the {GRID}x{GRID} code grid")
        for cell in (self.entrance, *self.checkouts, *(f for z in self.zones for f in z.faces)):
            if not self.walkable(cell):
                raise ValueError(f"store {self.store_id}: {cell} must be walkable")
        self.zone_at = {f: i for i, z in enumerate(self.zones) for f in z.faces}
        self.region_of = self._regions()

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.shelf.shape[0]), int(self.shelf.shape[1])

    @property
    def regions(self) -> tuple[str, ...]:
        """Region names: the zones (in order), then entrance and checkout."""
        return (*(z.name for z in self.zones), ENTRANCE_REGION, CHECKOUT_REGION)

    def zone_index(self, name: str) -> int:
        return next(i for i, z in enumerate(self.zones) if z.name == name)

    def inside(self, cell: Cell) -> bool:
        return 0 <= cell[0] < self.shelf.shape[0] and 0 <= cell[1] < self.shelf.shape[1]

    def walkable(self, cell: Cell) -> bool:
        return self.inside(cell) and not bool(self.shelf[cell])

    def _regions(self) -> np.ndarray:
        """Multi-source BFS from every zone's faces, the entrance and the checkouts (walking distance)."""
        out = np.full(self.shelf.shape, -1, dtype=np.int64)
        queue: deque[Cell] = deque()
        seeds = [(f, i) for i, z in enumerate(self.zones) for f in z.faces]
        seeds += [(self.entrance, len(self.zones))] + [(c, len(self.zones) + 1) for c in self.checkouts]
        for cell, idx in seeds:
            out[cell] = idx
            queue.append(cell)
        while queue:
            cell = queue.popleft()
            for nxt in self.neighbours(cell, diagonal=False):
                if out[nxt] < 0:
                    out[nxt] = out[cell]
                    queue.append(nxt)
        return out

    def neighbours(self, cell: Cell, diagonal: bool = True) -> Iterable[Cell]:
        r, c = cell
        for dr, dc in _STEPS if diagonal else _STEPS[:4]:
            nxt = (r + dr, c + dc)
            if not self.walkable(nxt):
                continue
            if dr and dc and not (self.walkable((r + dr, c)) and self.walkable((r, c + dc))):
                continue  # no corner cutting past a shelf
            yield nxt

    def nearest_walkable(self, r: float, c: float) -> Cell:
        """The walkable cell nearest to a continuous position given in cell units (map matching)."""
        cell = (min(max(round(r), 0), self.shape[0] - 1), min(max(round(c), 0), self.shape[1] - 1))
        if self.walkable(cell):
            return cell
        free = np.argwhere(~self.shelf)
        d = (free[:, 0] - r) ** 2 + (free[:, 1] - c) ** 2
        best = free[int(np.argmin(d))]
        return int(best[0]), int(best[1])

    def crosses_shelf(self, a: Cell, b: Cell) -> bool:
        """True if the straight segment between two cells touches a shelf or leaves the store."""
        return any(not self.walkable(cell) for cell in line_cells(a, b))


_STEPS: Final[tuple[tuple[int, int], ...]] = (
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (1, -1),
    (-1, 1),
    (-1, -1),
)


def line_cells(a: Cell, b: Cell) -> list[Cell]:
    """Cells on the segment from ``a`` to ``b`` (Bresenham, both ends included)."""
    (r0, c0), (r1, c1) = a, b
    dr, dc = abs(r1 - r0), -abs(c1 - c0)
    sr, sc = (1 if r1 > r0 else -1), (1 if c1 > c0 else -1)
    err, out = dr + dc, []
    while True:
        out.append((r0, c0))
        if (r0, c0) == (r1, c1):
            return out
        e2 = 2 * err
        if e2 >= dc:
            err += dc
            r0 += sr
        if e2 <= dr:
            err += dr
            c0 += sc


def astar(layout: StoreLayout, start: Cell, goal: Cell) -> list[Cell]:
    """Shortest 8-connected path around shelves (octile heuristic); raises if ``goal`` cannot be reached."""
    if not (layout.walkable(start) and layout.walkable(goal)):
        raise ValueError(f"A*: {start} or {goal} is not walkable")

    def h(cell: Cell) -> float:
        dr, dc = abs(cell[0] - goal[0]), abs(cell[1] - goal[1])
        return max(dr, dc) + (math.sqrt(2) - 1) * min(dr, dc)

    came: dict[Cell, Cell] = {}
    cost = {start: 0.0}
    heap = [(h(start), 0.0, start)]
    while heap:
        _, g, cell = heapq.heappop(heap)
        if cell == goal:
            path = [cell]
            while path[-1] in came:
                path.append(came[path[-1]])
            return path[::-1]
        if g > cost[cell]:
            continue
        for nxt in layout.neighbours(cell):
            step = math.sqrt(2) if nxt[0] != cell[0] and nxt[1] != cell[1] else 1.0
            if g + step < cost.get(nxt, math.inf):
                cost[nxt] = g + step
                came[nxt] = cell
                heapq.heappush(heap, (g + step + h(nxt), g + step, nxt))
    raise ValueError(f"A*: no path from {start} to {goal} in store {layout.store_id}")
