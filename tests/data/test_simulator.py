"""The simulator: determinism, the statistics it promises, the in-store -> online effect, config validation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from omniseq.data import Simulator, SimulatorConfig
from omniseq.data.sim.world import basket_size_pmf, category_covariance, vine_correlation
from omniseq.schema import OnlineEvent, StoreTransaction, sort_key
from tests.data.sim_stats import channel_mix, store_effect_rates

SMALL: dict[str, Any] = {"n_categories": 12, "items_per_category": 30}


def test_same_seed_same_output_and_users_independent() -> None:
    a = Simulator(SimulatorConfig(seed=3, **SMALL))
    b = Simulator(SimulatorConfig(seed=3, **SMALL))
    assert list(a.behaviours(0, 40)) == list(b.behaviours(0, 40))
    # a user does not depend on which range it is generated in
    assert a.user(25).behaviours == next(iter(b.users(25, 26))).behaviours
    assert list(a.behaviours(0, 10)) != list(Simulator(SimulatorConfig(seed=4, **SMALL)).behaviours(0, 10))


def test_histories_are_ordered_and_valid_funnels() -> None:
    sim = Simulator(SimulatorConfig(seed=1, **SMALL))
    for user in sim.users(0, 60):
        seq = user.behaviours
        assert seq == sorted(seq, key=sort_key)
        assert all(b.user_id == user.user_id for b in seq)
        sessions: dict[str, list[OnlineEvent]] = {}
        for b in seq:
            if isinstance(b, OnlineEvent):
                sessions.setdefault(b.session_id, []).append(b)
        for events in sessions.values():
            assert events[0].event_type == "view"
            viewed = {e.item_id for e in events if e.event_type == "view"}
            carted = {e.item_id for e in events if e.event_type == "add_to_cart"}
            assert {e.item_id for e in events if e.event_type == "click"} <= viewed
            assert {e.item_id for e in events if e.event_type == "purchase"} <= carted


def test_basket_sizes_follow_truncated_weibull() -> None:
    cfg = SimulatorConfig(seed=2, online_only_share=0.0, store_only_share=1.0, **SMALL)
    sizes = Counter(
        len(b.items) for b in Simulator(cfg).behaviours(0, 300) if isinstance(b, StoreTransaction)
    )
    n = sum(sizes.values())
    assert n > 3000
    pmf = basket_size_pmf(cfg)
    assert set(sizes) <= set(pmf)
    tv = 0.5 * sum(abs(sizes[k] / n - p) for k, p in pmf.items())
    assert tv < 0.03, (tv, sizes)
    # one item per category: every basket is a set of distinct categories
    assert pmf[2] == pytest.approx(0.43, abs=0.01)  # the paper's Weibull(0.80, 1.47) truncated to 2..10


def test_channel_mix_follows_propensity() -> None:
    cfg = SimulatorConfig(seed=5, online_only_share=0.2, store_only_share=0.1, **SMALL)
    sim = Simulator(cfg)
    mix = channel_mix(sim, 0, 400)
    assert abs(mix["store_trips"] - mix["expected"]) < 4 * mix["std"]
    kinds = Counter(sim.profile(i).channel for i in range(400))
    assert kinds["online_only"] / 400 == pytest.approx(0.2, abs=0.06)
    assert kinds["store_only"] / 400 == pytest.approx(0.1, abs=0.05)
    for user in sim.users(0, 100):
        channels = {type(b) for b in user.behaviours}
        if user.profile.channel == "online_only":
            assert channels == {OnlineEvent}
        if user.profile.channel == "store_only":
            assert channels == {StoreTransaction}


def test_instore_effect_is_measurable() -> None:
    base: dict[str, Any] = {"seed": 11, "online_only_share": 0.0, "store_only_share": 0.0, **SMALL}
    off = store_effect_rates(
        Simulator(SimulatorConfig(**base, store_complement_boost=0, store_repeat_penalty=0)), 0, 150
    )
    on = store_effect_rates(
        Simulator(SimulatorConfig(**base, store_complement_boost=2.0, store_repeat_penalty=3.0)), 0, 150
    )
    assert off.views_after_basket > 1000
    # common random numbers: the same views exist in both runs, only their choices differ
    assert on.views_after_basket == off.views_after_basket
    assert on.complement_rate > 1.5 * off.complement_rate
    assert on.repeat_rate < 0.7 * off.repeat_rate


def test_category_covariance_blocks_and_groups() -> None:
    cfg = SimulatorConfig(n_categories=9, block_sizes=[2, 3, 4], n_groups=3, basket_max=5)
    sigmas = [category_covariance(cfg, g) for g in range(3)]
    assert (
        sigmas[0][0, 1] == cfg.complement_corr
        and sigmas[0][2, 3] == 0
        and sigmas[0][5, 6] == cfg.substitute_corr
    )
    assert sigmas[0][1, 2] == 0  # different blocks are independent
    assert not np.array_equal(sigmas[0], sigmas[1])
    with pytest.raises(ValueError, match="substitute_corr"):
        category_covariance(SimulatorConfig(block_sizes=[4], substitute_corr=-0.5), 0)


def test_vine_correlation_is_a_correlation_matrix() -> None:
    c = vine_correlation(40, 0.2, 1.0, np.random.default_rng(0))
    assert np.allclose(np.diag(c), 1) and np.allclose(c, c.T)
    assert np.linalg.eigvalsh(c).min() > -1e-9
    assert (c[~np.eye(40, dtype=bool)] >= -1e-12).all()  # positive partial correlations


def test_config_rejects_unknown_and_inconsistent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="store_boost"):
        SimulatorConfig(store_boost=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="basket_max"):
        SimulatorConfig(basket_max=30)
    with pytest.raises(ValidationError, match="p_click"):
        SimulatorConfig(p_click=1.5)
    yaml_file = tmp_path / "sim.yaml"
    yaml_file.write_text("seed: 9\nn_categories: 12\nbasket_max: 8\n")
    monkeypatch.setenv("OMNISEQ_SIM_P_CLICK", "0.5")
    cfg = SimulatorConfig.from_yaml(yaml_file)
    assert isinstance(cfg, SimulatorConfig)
    assert (cfg.seed, cfg.n_categories, cfg.basket_max, cfg.p_click) == (9, 12, 8, 0.5)
    yaml_file.write_text("sed: 9\n")
    with pytest.raises(ValidationError, match="sed"):
        SimulatorConfig.from_yaml(yaml_file)


def test_shipped_config_file_is_the_default() -> None:
    path = Path(__file__).resolve().parents[2] / "configs" / "simulator.yaml"
    assert SimulatorConfig.from_yaml(path) == SimulatorConfig()
