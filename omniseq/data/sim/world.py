"""The simulator's global ground truth (PARSRec Appendix A): categories, their covariance per user group,
product correlation matrices, prices and the truncated Weibull basket-size law.

Everything here is drawn once from the master seed and shared by all users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from omniseq.data.sim.config import SimulatorConfig

RELATIONS: Final[tuple[str, ...]] = ("complement", "independent", "substitute")
WORLD_STREAM: Final[int] = 0x5EED


def category_blocks(n_categories: int, sizes: list[int]) -> list[list[int]]:
    """Consecutive blocks of categories with sizes cycled from ``sizes`` (the last one may be cut short)."""
    blocks, start, k = [], 0, 0
    while start < n_categories:
        size = sizes[k % len(sizes)]
        blocks.append(list(range(start, min(start + size, n_categories))))
        start += size
        k += 1
    return blocks


def group_relations(n_blocks: int, group: int) -> list[str]:
    """The relation of each block for a user group: the pattern is rotated per group, so groups differ."""
    return [RELATIONS[(b + group) % len(RELATIONS)] for b in range(n_blocks)]


def category_covariance(cfg: SimulatorConfig, group: int) -> np.ndarray:
    """Sigma of a group: block-diagonal, unit diagonal, off-diagonals by the block's relation."""
    blocks = category_blocks(cfg.n_categories, cfg.block_sizes)
    value = {"complement": cfg.complement_corr, "independent": 0.0, "substitute": cfg.substitute_corr}
    sigma = np.eye(cfg.n_categories)
    for block, rel in zip(blocks, group_relations(len(blocks), group), strict=True):
        for i in block:
            for j in block:
                if i != j:
                    sigma[i, j] = value[rel]
    if np.linalg.eigvalsh(sigma).min() <= 1e-9:
        raise ValueError(
            f"category covariance of group {group} is not positive definite: substitute_corr "
            f"{cfg.substitute_corr} is too negative for blocks of size {max(cfg.block_sizes)} "
            f"(need > {-1 / (max(cfg.block_sizes) - 1):.3f})"
        )
    return sigma


def vine_correlation(d: int, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """A random correlation matrix by the vine method (Lewandowski, Kurowicka & Joe 2009).

    Partial correlations are drawn from Beta(a, b) on [0, 1] (PARSRec: Beta(0.2, 1): mostly weak, some strong
    positive correlations between product utilities, i.e. various degrees of competition), then converted to
    correlations along the C-vine and the rows/columns randomly permuted.
    """
    partial = np.zeros((d, d))
    corr = np.eye(d)
    for k in range(d - 1):
        partial[k, k + 1 :] = rng.beta(a, b, size=d - k - 1)
        p = partial[k, k + 1 :].copy()
        for l in range(k - 1, -1, -1):  # noqa: E741
            p = p * np.sqrt((1 - partial[l, k + 1 :] ** 2) * (1 - partial[l, k] ** 2)) + (
                partial[l, k + 1 :] * partial[l, k]
            )
        corr[k, k + 1 :] = p
        corr[k + 1 :, k] = p
    perm = rng.permutation(d)
    return corr[np.ix_(perm, perm)]


def psd_sqrt(m: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L @ L.T == m`` for a positive semi-definite ``m`` (eigen-decomposition)."""
    w, v = np.linalg.eigh(m)
    return np.asarray(v * np.sqrt(np.clip(w, 0.0, None)))


def weibull_cdf(x: float, shape: float, scale: float) -> float:
    return 1.0 - math.exp(-((max(x, 0.0) / scale) ** shape))


def basket_size_pmf(cfg: SimulatorConfig) -> dict[int, float]:
    """P(n) of basket sizes: ``n = ceil(x)``, ``x ~ Weibull(shape, scale)``, truncated to [basket_min, basket_max]."""
    k, lam = cfg.basket_weibull_shape, cfg.basket_weibull_scale
    raw = {
        n: weibull_cdf(n, k, lam) - weibull_cdf(n - 1, k, lam)
        for n in range(cfg.basket_min, cfg.basket_max + 1)
    }
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("the Weibull basket-size law puts no mass on [basket_min, basket_max]")
    return {n: p / total for n, p in raw.items()}


@dataclass
class World:
    """Global parameters drawn from the master seed."""

    cfg: SimulatorConfig
    sigma_chol: np.ndarray  # [G, C, C] Cholesky factors of each group's category covariance
    complement: np.ndarray  # [G, C, C] bool: Sigma_g[c, c'] > 0 and c != c'
    omega_sqrt: np.ndarray  # [C, V, V] tau_c * sqrt of the product correlation Omega_c0
    prices: np.ndarray  # [C, V]
    item_ids: list[list[str]]  # [C][V]
    size_values: np.ndarray  # basket sizes with nonzero probability
    size_cdf: np.ndarray  # their cumulative probabilities

    @staticmethod
    def build(cfg: SimulatorConfig) -> World:
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, WORLD_STREAM]))
        sigmas = np.stack([category_covariance(cfg, g) for g in range(cfg.n_groups)])
        eye = np.eye(cfg.n_categories, dtype=bool)
        v = cfg.items_per_category
        omega = np.stack(
            [
                cfg.product_tau * psd_sqrt(vine_correlation(v, cfg.vine_beta_a, cfg.vine_beta_b, rng))
                for _ in range(cfg.n_categories)
            ]
        )
        base = rng.lognormal(cfg.base_price_mu, cfg.base_price_sigma, size=cfg.n_categories)
        prices = rng.uniform(base[:, None] / 2, 2 * base[:, None], size=(cfg.n_categories, v))
        pmf = basket_size_pmf(cfg)
        return World(
            cfg=cfg,
            sigma_chol=np.linalg.cholesky(sigmas),
            complement=(sigmas > 1e-12) & ~eye,
            omega_sqrt=omega,
            prices=prices,
            item_ids=[[f"c{c:02d}-i{j:03d}" for j in range(v)] for c in range(cfg.n_categories)],
            size_values=np.array(list(pmf), dtype=np.int64),
            size_cdf=np.cumsum(list(pmf.values())),
        )

    def category_of(self, item_id: str) -> int:
        """The category index of a simulated item id (``c<cat>-i<item>``)."""
        try:
            return int(item_id.split("-", 1)[0][1:])
        except (ValueError, IndexError) as exc:
            raise ValueError(f"not a simulated item id: {item_id!r}") from exc

    def complements_of(self, categories: list[int] | np.ndarray, group: int) -> np.ndarray:
        """Bool mask over categories: complements (Sigma > 0) of any of ``categories``, excluding themselves."""
        cats = np.asarray(categories, dtype=np.int64)
        mask = (
            self.complement[group][cats].any(axis=0) if cats.size else np.zeros(self.cfg.n_categories, bool)
        )
        mask[cats] = False
        return np.asarray(mask)

    def basket_size(self, rng: np.random.Generator) -> int:
        idx = int(np.searchsorted(self.size_cdf, rng.random() * self.size_cdf[-1], side="right"))
        return int(self.size_values[min(idx, len(self.size_values) - 1)])
