"""Every knob of the omnichannel simulator (documented in ``docs/DATA.md``).

Defaults marked *paper* follow PARSRec's Appendix A; the rest is the two-channel extension. Unknown keys are
rejected; every field can be overridden by an ``OMNISEQ_SIM_<FIELD>`` environment variable or a YAML file
(:meth:`SimulatorConfig.from_yaml`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from omniseq.settings import OmniseqSettings


class SimulatorConfig(OmniseqSettings):
    """Configuration of :class:`omniseq.data.sim.simulator.Simulator`."""

    model_config = SettingsConfigDict(env_prefix="OMNISEQ_SIM_", extra="forbid", validate_default=True)

    seed: int = Field(
        default=0, ge=0, description="master seed; each user's stream is derived from (seed, user index)"
    )

    # --- catalogue and category choice (paper: C = 20, |V_c| = 100, alpha_c = -0.5) ---------------------------
    n_categories: int = Field(
        default=20, ge=2, le=1000, description="C, number of disjoint product categories"
    )
    items_per_category: int = Field(default=100, ge=2, le=10_000, description="|V_c|, products per category")
    block_sizes: list[int] = Field(
        default=[2, 3, 4], description="sizes of the diagonal blocks of Sigma, cycled over C"
    )
    complement_corr: float = Field(
        default=0.6, gt=0, lt=1, description="off-diagonal of a complement block of Sigma"
    )
    substitute_corr: float = Field(
        default=-0.3, gt=-1, lt=0, description="off-diagonal of a substitute block of Sigma"
    )
    n_groups: int = Field(
        default=3, ge=1, le=100, description="user groups; each gets its own block relation pattern"
    )
    category_alpha: float = Field(default=-0.5, description="alpha_c, the constant category utility (paper)")
    user_category_std: float = Field(
        default=0.5,
        ge=0,
        description="std of a per-user category taste added to alpha_c (extension; 0 = paper)",
    )

    # --- product choice: multinomial probit, eta = omega - beta * price + gamma (paper values) -----------------
    product_tau: float = Field(
        default=2.0, gt=0, description="tau_c, std of the user's base product utility omega"
    )
    vine_beta_a: float = Field(
        default=0.2, gt=0, description="Beta(a, b) of the vine method's partial correlations"
    )
    vine_beta_b: float = Field(
        default=1.0, gt=0, description="Beta(a, b) of the vine method's partial correlations"
    )
    price_beta: float = Field(default=0.1, ge=0, description="beta_c, price disutility per unit price")
    choice_noise_std: float = Field(
        default=1.0, ge=0, description="sigma_c, std of the per-choice noise gamma"
    )
    base_price_mu: float = Field(default=0.5, description="category base price ~ LogNormal(mu, sigma)")
    base_price_sigma: float = Field(
        default=0.1, ge=0, description="category base price ~ LogNormal(mu, sigma)"
    )

    # --- basket sizes: Weibull(shape, scale), ceil, truncated to [min, max] (paper: 0.80, 1.47, 2..10) ---------
    basket_weibull_shape: float = Field(
        default=0.80, gt=0, description="k of Weibull(k, lambda); size = ceil(x)"
    )
    basket_weibull_scale: float = Field(default=1.47, gt=0, description="lambda of Weibull(k, lambda)")
    basket_min: int = Field(default=2, ge=1, description="smaller baskets are filtered (truncated law)")
    basket_max: int = Field(default=10, ge=1, description="larger baskets are filtered (truncated law)")

    # --- users, channels and time ------------------------------------------------------------------------------
    online_only_share: float = Field(
        default=0.3, ge=0, le=1, description="share of users who never visit a store"
    )
    store_only_share: float = Field(
        default=0.15, ge=0, le=1, description="share of users who never shop online"
    )
    store_propensity_a: float = Field(
        default=2.0, gt=0, description="others: P(visit is in-store) ~ Beta(a, b)"
    )
    store_propensity_b: float = Field(
        default=3.0, gt=0, description="others: P(visit is in-store) ~ Beta(a, b)"
    )
    visits_mean: float = Field(
        default=12.0, ge=1, description="mean visits (sessions + store trips): 1 + Poisson(mean-1)"
    )
    visit_gap_hours: float = Field(default=60.0, gt=0, description="mean hours between visits (exponential)")
    visit_gap_user_sigma: float = Field(
        default=0.5, ge=0, description="per-user LogNormal(0, s) factor on that mean"
    )
    start_date: dt.date = Field(
        default=dt.date(2024, 1, 1), description="first user's earliest possible activity (UTC)"
    )
    start_spread_days: float = Field(
        default=30.0, ge=0, description="users start uniformly within this many days"
    )
    n_stores: int = Field(default=20, ge=1, description="stores 'store-000'..; each user has a home store")
    home_store_prob: float = Field(
        default=0.8, ge=0, le=1, description="P(a store trip goes to the home store)"
    )

    # --- online sessions: a funnel view -> click -> add_to_cart -> purchase -----------------------------------
    session_views_mean: float = Field(
        default=6.0, ge=1, description="views per session: 1 + Poisson(mean - 1)"
    )
    session_categories_mean: float = Field(
        default=1.5, ge=1, description="intent categories: 1 + Poisson(mean - 1)"
    )
    p_click: float = Field(default=0.35, ge=0, le=1, description="P(click | view)")
    p_cart: float = Field(default=0.3, ge=0, le=1, description="P(add_to_cart | click)")
    p_purchase: float = Field(default=0.6, ge=0, le=1, description="P(purchase at checkout | add_to_cart)")
    event_gap_median_s: float = Field(
        default=25.0, gt=0, description="seconds between funnel events: LogNormal median"
    )
    event_gap_sigma: float = Field(default=0.8, ge=0, description="... and log-std")

    # --- the known in-store -> online effect -------------------------------------------------------------------
    store_complement_boost: float = Field(
        default=1.5,
        ge=0,
        description="category-utility boost, in later online sessions, of complements of a basket",
    )
    store_repeat_penalty: float = Field(
        default=2.0,
        ge=0,
        description="product-utility penalty, in later online sessions, of items just bought in store",
    )
    store_effect_decay_hours: float = Field(
        default=72.0, gt=0, description="both effects scale by exp(-hours / this)"
    )

    @field_validator("block_sizes")
    @classmethod
    def _blocks(cls, v: list[int]) -> list[int]:
        if not v or any(b < 1 for b in v):
            raise ValueError("block_sizes must be a non-empty list of positive sizes")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SimulatorConfig:
        if not 1 <= self.basket_min <= self.basket_max <= self.n_categories:
            raise ValueError("need 1 <= basket_min <= basket_max <= n_categories (one item per category)")
        if self.online_only_share + self.store_only_share > 1:
            raise ValueError("online_only_share + store_only_share must be <= 1")
        return self


#: PARSRec's synthetic setting (Appendix A, Table 1): two user groups with different category covariances, no
#: per-user category taste, baskets only (every user shops in store), about 208 baskets per user (mean basket size
#: 3.4), i.e. about 5.8M actions for 8,192 users. ``SimulatorConfig(**PARSREC_PAPER)``.
PARSREC_PAPER: dict[str, Any] = {
    "n_groups": 2,
    "user_category_std": 0.0,
    "online_only_share": 0.0,
    "store_only_share": 1.0,
    "visits_mean": 208.0,
}
