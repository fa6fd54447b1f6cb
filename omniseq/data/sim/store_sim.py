"""The in-store journey simulator: a shopper walks a :class:`~omniseq.data.sim.store_layout.StoreLayout` with a list.

Per journey ``k`` (all draws from a generator seeded by ``(seed, store, k)``, so any journey can be regenerated
alone and output never depends on how a stream is consumed):

1. **List.** The ``k``-th basket of the basket source (the omnichannel simulator's in-store baskets by default,
   or Ta-Feng / Dunnhumby baskets read with :func:`omniseq.data.load`), at most ``max_items`` items. Each item is
   shelved in one category (:func:`category_of`: a stable hash of the item id through a Zipf-like category
   popularity), so the list becomes a set of target zones.
2. **Plan.** Targets visited greedily nearest-first from the entrance, with probability ``p_swap`` of two
   consecutive stops exchanged (a detour); ``browse_zones`` extra zones (Poisson) are inserted where the shopper
   only looks; with probability ``p_wander`` per leg the shopper first walks to a random aisle cell.
3. **Walk.** A* between stops around shelves; a per-shopper speed ``~ N(speed_mean, speed_std)`` m/s, varied per
   leg by ``speed_leg_jitter``; at each target a *purchase* pause (``purchase_pause_s`` range), at each browse
   zone a *look* pause (``look_pause_s``); then a checkout pause and the walk back to the entrance.
4. **Observe.** Positions sampled every ``1 / sample_hz`` s along the walk, plus Gaussian noise ``noise_m``
   (the indoor positioning error). The receipt (a :class:`StoreTransaction`) lists what was bought.

Ground truth (:class:`Pause` list: when, where, which zone, look / purchase / checkout, which items) is kept beside
the observations and never used by the encoder, only to measure it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from omniseq.data.registry import load
from omniseq.data.sim.store_layout import CATEGORIES, CELL_M, Cell, StoreLayout, astar
from omniseq.schema import StoreTransaction

PauseKind = Literal["purchase", "look", "checkout"]
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC: journeys start here plus 90 s per journey index


@dataclass(frozen=True)
class StoreSimConfig:
    """Every knob of the journey simulator (see the module docstring for how each is used)."""

    seed: int = 0
    sample_hz: float = 1.0  # positioning samples per second
    noise_m: float = 0.25  # std of the Gaussian position noise, metres
    speed_mean: float = 1.0  # m/s
    speed_std: float = 0.15
    speed_leg_jitter: float = 0.15  # relative std of the speed of one leg
    max_items: int = 6  # at most this many list items (basket prefix)
    browse_zones: float = 1.0  # Poisson mean of extra look-only zones
    p_swap: float = 0.2  # chance that two consecutive stops are visited in the other order
    p_wander: float = 0.1  # chance per leg of a detour through a random aisle cell
    purchase_pause_s: tuple[float, float] = (12.0, 30.0)
    look_pause_s: tuple[float, float] = (5.0, 10.0)
    checkout_pause_s: tuple[float, float] = (30.0, 60.0)
    user_prefix: str = "instore"

    def __post_init__(self) -> None:
        if self.sample_hz <= 0 or self.noise_m < 0 or self.speed_mean <= 0.2 or self.max_items < 1:
            raise ValueError("StoreSimConfig: sample_hz > 0, noise_m >= 0, speed_mean > 0.2, max_items >= 1")


@dataclass(frozen=True)
class Pause:
    """Ground truth: the shopper stood at ``cell`` from ``t0`` to ``t1`` (seconds since the journey start)."""

    t0: float
    t1: float
    cell: Cell
    zone: int  # zone index, -1 at the checkout
    kind: PauseKind
    items: tuple[str, ...] = ()


@dataclass
class Journey:
    """One simulated visit: observations (``t`` s, ``xy`` metres, row/col order) and the hidden truth."""

    journey_id: str
    store_id: str
    t: np.ndarray  # [N] seconds since start, fixed step
    xy: np.ndarray  # [N, 2] observed (noisy) positions in metres: (row * 0.5, col * 0.5)
    true_xy: np.ndarray = field(repr=False)  # [N, 2] noiseless positions
    pauses: list[Pause] = field(default_factory=list)
    receipt: StoreTransaction | None = None


def category_of(item: str, categories: tuple[str, ...] = CATEGORIES) -> str:
    """The category an item is shelved in: a stable hash through a Zipf-like popularity (weights ``1/(k+2)``)."""
    w = np.array([1.0 / (k + 2) for k in range(len(categories))])
    cdf = np.cumsum(w / w.sum())
    u = (zlib.crc32(item.encode()) % 1_000_003) / 1_000_003
    return categories[min(int(np.searchsorted(cdf, u, side="right")), len(categories) - 1)]


def baskets_from(source: str, root: str | None = None) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(user_id, items)`` of the in-store baskets of a dataset (``simulator``, ``tafeng``, ``dunnhumby``, ...)."""
    opts: dict[str, int] = {"users": 100_000} if source == "simulator" else {}
    for txn in load(source, root, **opts).store_transactions():
        yield txn.user_id, txn.items


class StoreSimulator:
    """Journeys in one store: :meth:`journey` (one, by index) and :meth:`stream` (a lazy sequence)."""

    def __init__(self, layout: StoreLayout, cfg: StoreSimConfig | None = None) -> None:
        self.layout = layout
        self.cfg = cfg or StoreSimConfig()
        self._aisle = np.argwhere(layout.region_of >= 0)
        self._paths: dict[tuple[Cell, Cell], list[Cell]] = {}

    def stream(
        self, baskets: Iterator[tuple[str, tuple[str, ...]]], n: int, start: int = 0
    ) -> Iterator[Journey]:
        """Journeys ``start .. start+n-1``, one per basket (baskets are consumed lazily, one per journey)."""
        for k, (user, items) in enumerate(baskets):
            if k >= n:
                return
            yield self.journey(start + k, user, items)

    def journey(self, index: int, user: str, items: tuple[str, ...]) -> Journey:
        cfg, lay = self.cfg, self.layout
        rng = np.random.default_rng([cfg.seed, ord(lay.store_id[0]), index])
        wanted: dict[int, list[str]] = {}
        for item in items[: cfg.max_items]:
            wanted.setdefault(lay.zone_index(category_of(item)), []).append(item)
        stops = self._plan(rng, wanted)
        speed = max(0.4, rng.normal(cfg.speed_mean, cfg.speed_std))
        track, pauses = self._walk(rng, stops, speed, wanted)
        t, true_xy = _sample(track, 1.0 / cfg.sample_hz)
        xy = true_xy + rng.normal(0.0, cfg.noise_m, true_xy.shape)
        bought = tuple(i for p in pauses for i in p.items)
        jid = f"{lay.store_id}-{cfg.seed}-{index}"
        receipt = None
        if bought:
            receipt = StoreTransaction(
                txn_id=f"journey-{jid}",
                user_id=f"{cfg.user_prefix}-{user}"[:128],
                items=tuple(dict.fromkeys(bought)),
                ts_ms=START_MS + index * 90_000 + int(t[-1] * 1000),
                store_id=f"store-{lay.store_id}",
            )
        return Journey(jid, lay.store_id, t, xy, true_xy, pauses, receipt)

    def _plan(self, rng: np.random.Generator, wanted: dict[int, list[str]]) -> list[tuple[int, PauseKind]]:
        """Stops as (zone, kind): nearest-first targets, random swaps, look-only zones inserted."""
        lay = self.layout
        todo, here, order = set(wanted), lay.entrance, []
        while todo:
            z = min(sorted(todo), key=lambda i: _dist(here, lay.zones[i].faces[len(lay.zones[i].faces) // 2]))
            order.append(z)
            todo.remove(z)
            here = lay.zones[z].faces[len(lay.zones[z].faces) // 2]
        for i in range(len(order) - 1):
            if rng.random() < self.cfg.p_swap:
                order[i], order[i + 1] = order[i + 1], order[i]
        stops: list[tuple[int, PauseKind]] = [(z, "purchase") for z in order]
        for _ in range(rng.poisson(self.cfg.browse_zones)):
            stops.insert(int(rng.integers(0, len(stops) + 1)), (int(rng.integers(len(lay.zones))), "look"))
        return stops

    def _walk(
        self,
        rng: np.random.Generator,
        stops: list[tuple[int, PauseKind]],
        speed: float,
        wanted: dict[int, list[str]],
    ) -> tuple[list[tuple[float, Cell]], list[Pause]]:
        """The piecewise-linear track as (time, cell) knots, and the pauses taken along it."""
        cfg, lay = self.cfg, self.layout
        track: list[tuple[float, Cell]] = [(0.0, lay.entrance)]
        pauses: list[Pause] = []
        goals: list[tuple[Cell, int, PauseKind]] = []
        for z, kind in stops:
            faces = lay.zones[z].faces
            goals.append((faces[int(rng.integers(len(faces)))], z, kind))
        goals.append((lay.checkouts[int(rng.integers(len(lay.checkouts)))], -1, "checkout"))
        goals.append((lay.entrance, -1, "purchase"))  # the way out (no pause)
        for i, (goal, z, kind) in enumerate(goals):
            v = speed * max(0.3, 1.0 + rng.normal(0.0, cfg.speed_leg_jitter))
            via = [goal]
            if rng.random() < cfg.p_wander:
                via.insert(0, tuple(int(x) for x in self._aisle[int(rng.integers(len(self._aisle)))]))  # type: ignore[arg-type]
            for target in via:
                for cell in self._path(track[-1][1], target)[1:]:
                    step = CELL_M * math.dist(cell, track[-1][1])
                    track.append((track[-1][0] + step / v, cell))
            if i == len(goals) - 1:
                break
            lo, hi = {
                "purchase": cfg.purchase_pause_s,
                "look": cfg.look_pause_s,
                "checkout": cfg.checkout_pause_s,
            }[kind]
            t0 = track[-1][0]
            t1 = t0 + float(rng.uniform(lo, hi))
            items = tuple(wanted.pop(z, [])) if kind == "purchase" else ()
            pauses.append(Pause(t0, t1, goal, z, kind if kind != "purchase" or items else "look", items))
            track.append((t1, goal))
        return track, pauses

    def _path(self, a: Cell, b: Cell) -> list[Cell]:
        if (a, b) not in self._paths:
            self._paths[(a, b)] = astar(self.layout, a, b)
        return self._paths[(a, b)]


def _dist(a: Cell, b: Cell) -> float:
    return math.dist(a, b)


def _sample(track: list[tuple[float, Cell]], dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions (metres) every ``dt`` s by linear interpolation between the track's knots."""
    knots_t = np.array([t for t, _ in track])
    knots = np.array([c for _, c in track], dtype=float) * CELL_M
    t = np.arange(0.0, knots_t[-1] + 1e-9, dt)
    xy = np.stack([np.interp(t, knots_t, knots[:, 0]), np.interp(t, knots_t, knots[:, 1])], axis=1)
    return t, xy
