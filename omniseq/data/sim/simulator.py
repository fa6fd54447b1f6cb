"""The omnichannel simulator: PARSRec's basket model (Appendix A) extended to two channels.

Per user (all draws from a generator seeded by ``(seed, user index)``, so output never depends on chunking):

* a profile: group ``g`` (its category covariance Sigma_g), channel type and store propensity, home store, visit
  rhythm, start time, category taste; and the base product utilities ``omega_c ~ N(0, tau^2 Omega_c0)``;
* a sequence of visits separated by exponential gaps; each visit is an in-store trip with probability equal to the
  store propensity, else an online session;
* an in-store trip: basket size ``n`` from the truncated Weibull law; the ``n`` categories with the highest
  utility ``alpha_c + taste_c + eps_c`` (``eps ~ N(0, Sigma_g)``, Eq. 3); in each, the product maximising
  ``eta_j = omega_j - beta * price_j + gamma_j`` (Eq. 5, multinomial probit);
* an online session: intent categories chosen like a basket's (at most one per category); each view picks an
  intent category and a product by Eq. 5; a view is clicked with ``p_click``, a click carted with ``p_cart``,
  and carted items are bought at checkout with ``p_purchase``; events are separated by log-normal gaps;
* the known in-store -> online effect: after a basket ``B``, each later online session (until the next basket)
  adds ``store_complement_boost * w`` to the category utility of complements of ``B``'s categories (Sigma_g > 0)
  and subtracts ``store_repeat_penalty * w`` from the product utility of the items in ``B``, where
  ``w = exp(-hours since B / store_effect_decay_hours)``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from omniseq.data.sim.config import SimulatorConfig
from omniseq.data.sim.world import World
from omniseq.schema import Behaviour, EventType, OnlineEvent, StoreTransaction

USER_STREAM: Final[int] = 0x05E2
HOUR_MS: Final[int] = 3_600_000


@dataclass(frozen=True)
class UserProfile:
    index: int
    user_id: str
    group: int
    channel: str  # "online_only" | "store_only" | "both"
    store_propensity: float  # P(a visit is an in-store trip)
    home_store: int
    visit_gap_ms: float
    start_ms: int
    taste: np.ndarray = field(repr=False)  # per-category utility offset


@dataclass
class SimUser:
    profile: UserProfile
    behaviours: list[Behaviour]  # time-ordered (schema.sort_key order)
    visits: int = 0
    store_trips: int = 0

    @property
    def user_id(self) -> str:
        return self.profile.user_id


@dataclass
class _Basket:
    ts_ms: int
    complements: np.ndarray  # bool [C]
    bought: list[tuple[int, int]]  # (category, product)


class Simulator:
    """Seeded, deterministic generator of hybrid histories; ``users(start, stop)`` streams them in memory."""

    def __init__(self, cfg: SimulatorConfig | None = None) -> None:
        self.cfg = cfg or SimulatorConfig()
        self.world = World.build(self.cfg)
        self._base_ms = int(
            dt.datetime.combine(self.cfg.start_date, dt.time(), tzinfo=dt.UTC).timestamp() * 1000
        )
        self._base_util = -self.cfg.price_beta * self.world.prices  # [C, V]

    @staticmethod
    def user_id(index: int) -> str:
        return f"u{index:08d}"

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.cfg.seed, USER_STREAM, index]))

    def _profile(self, index: int, rng: np.random.Generator) -> UserProfile:
        c = self.cfg
        group = int(rng.integers(c.n_groups))
        u = rng.random()
        propensity = float(rng.beta(c.store_propensity_a, c.store_propensity_b))
        channel = (
            "online_only"
            if u < c.online_only_share
            else "store_only"
            if u < c.online_only_share + c.store_only_share
            else "both"
        )
        if channel != "both":
            propensity = 0.0 if channel == "online_only" else 1.0
        home = int(rng.integers(c.n_stores))
        gap = c.visit_gap_hours * HOUR_MS * float(rng.lognormal(0.0, c.visit_gap_user_sigma))
        start = self._base_ms + int(rng.random() * c.start_spread_days * 24 * HOUR_MS)
        taste = rng.standard_normal(c.n_categories) * c.user_category_std
        return UserProfile(index, self.user_id(index), group, channel, propensity, home, gap, start, taste)

    def profile(self, index: int) -> UserProfile:
        """The profile of user ``index`` (the same one :meth:`users` uses)."""
        return self._profile(index, self._rng(index))

    def users(self, start: int, stop: int) -> Iterator[SimUser]:
        """Users ``start <= index < stop``, each generated independently of the others."""
        for index in range(start, stop):
            yield self.user(index)

    def behaviours(self, start: int, stop: int) -> Iterator[Behaviour]:
        for user in self.users(start, stop):
            yield from user.behaviours

    def user(self, index: int) -> SimUser:
        rng = self._rng(index)
        prof = self._profile(index, rng)
        z = rng.standard_normal(self._base_util.shape)
        util = self._base_util + np.einsum(
            "cij,cj->ci", self.world.omega_sqrt, z
        )  # [C, V] omega - beta*price
        out = SimUser(prof, [])
        t = prof.start_ms
        basket: _Basket | None = None
        n_visits = 1 + int(rng.poisson(self.cfg.visits_mean - 1))
        for k in range(n_visits):
            if k:
                t += 1 + int(rng.exponential(prof.visit_gap_ms))
            out.visits += 1
            if rng.random() < prof.store_propensity:
                out.store_trips += 1
                txn, basket = self._store_trip(prof, rng, util, t, k)
                out.behaviours.append(txn)
            else:
                events = self._session(prof, rng, util, t, k, basket)
                out.behaviours.extend(events)
                t = events[-1].ts_ms
        return out

    # --- choice models -------------------------------------------------------------------------------------------

    def _category_utility(self, prof: UserProfile, rng: np.random.Generator) -> np.ndarray:
        eps = self.world.sigma_chol[prof.group] @ rng.standard_normal(self.cfg.n_categories)
        return np.asarray(self.cfg.category_alpha + prof.taste + eps)

    def _product(self, rng: np.random.Generator, util: np.ndarray, c: int, penalty: np.ndarray | None) -> int:
        eta = util[c] + self.cfg.choice_noise_std * rng.standard_normal(util.shape[1])
        if penalty is not None:
            eta = eta - penalty[c]
        return int(np.argmax(eta))

    @staticmethod
    def _top(values: np.ndarray, n: int) -> np.ndarray:
        return np.argsort(-values, kind="stable")[:n]

    # --- visits --------------------------------------------------------------------------------------------------

    def _store_trip(
        self, prof: UserProfile, rng: np.random.Generator, util: np.ndarray, t: int, k: int
    ) -> tuple[StoreTransaction, _Basket]:
        n = self.world.basket_size(rng)
        cats = self._top(self._category_utility(prof, rng), n)
        bought = [(int(c), self._product(rng, util, int(c), None)) for c in cats]
        home = rng.random() < self.cfg.home_store_prob
        store = prof.home_store if home else int(rng.integers(self.cfg.n_stores))
        txn = StoreTransaction(
            txn_id=f"{prof.user_id}-t{k}",
            user_id=prof.user_id,
            items=tuple(self.world.item_ids[c][j] for c, j in bought),
            ts_ms=t,
            store_id=f"store-{store:03d}",
        )
        return txn, _Basket(t, self.world.complements_of(cats, prof.group), bought)

    def _session(
        self,
        prof: UserProfile,
        rng: np.random.Generator,
        util: np.ndarray,
        t: int,
        k: int,
        basket: _Basket | None,
    ) -> list[OnlineEvent]:
        cfg = self.cfg
        cat_util = self._category_utility(prof, rng)
        penalty = None
        if basket is not None:
            w = math.exp(-(t - basket.ts_ms) / (cfg.store_effect_decay_hours * HOUR_MS))
            cat_util = cat_util + cfg.store_complement_boost * w * basket.complements
            penalty = np.zeros_like(util)
            for c, j in basket.bought:
                penalty[c, j] = cfg.store_repeat_penalty * w
        n_int = min(cfg.n_categories, 1 + int(rng.poisson(cfg.session_categories_mean - 1)))
        intents = self._top(cat_util, n_int)
        n_views = 1 + int(rng.poisson(cfg.session_views_mean - 1))
        cats = intents[rng.integers(n_int, size=n_views)]
        eta = util[cats] + cfg.choice_noise_std * rng.standard_normal((n_views, util.shape[1]))
        if penalty is not None:
            eta -= penalty[cats]
        products = np.argmax(eta, axis=1)
        funnel = rng.random((n_views, 3))  # click, cart, purchase draws per view
        # at most 4 events per view: one gap per event after the first
        gaps = rng.lognormal(math.log(cfg.event_gap_median_s * 1000), cfg.event_gap_sigma, size=4 * n_views)
        session = f"{prof.user_id}-s{k}"
        events: list[OnlineEvent] = []
        cart: list[tuple[str, bool]] = []

        def emit(item: str, etype: EventType) -> None:
            nonlocal t
            if events:
                t += max(1, int(gaps[len(events) - 1]))
            events.append(OnlineEvent(f"{session}-e{len(events)}", prof.user_id, item, etype, t, session))

        for v in range(n_views):
            item = self.world.item_ids[int(cats[v])][int(products[v])]
            emit(item, "view")
            if funnel[v, 0] < cfg.p_click:
                emit(item, "click")
                if funnel[v, 1] < cfg.p_cart:
                    emit(item, "add_to_cart")
                    cart.append((item, bool(funnel[v, 2] < cfg.p_purchase)))
        for item, bought in cart:
            if bought:
                emit(item, "purchase")
        return events
