"""Algorithms 1 and 2 of the LENS paper on constructed cases with a known answer."""

from __future__ import annotations

import pytest
import torch

from models.lens_jobs import (
    CustomerForecast,
    detect_anomalies,
    jaccard_distance,
    kmeans,
    oos_alerts,
    predicted_demand,
    prediction_distance,
    schedule_lookup,
    simulated_resupply,
)


def test_prediction_distance() -> None:
    assert jaccard_distance(["a", "b"], ["b", "c"]) == pytest.approx(2 / 3)
    assert jaccard_distance([], []) == 0.0
    # basket distance 0, time error |2 - 4| / (2 + 4 + 1) = 2/7 -> mean 1/7
    assert prediction_distance(["a"], ["a"], 2.0, 4.0) == pytest.approx(1 / 7)


def test_kmeans_separates_two_blobs() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(10, 3, generator=g) * 0.05 + 5, torch.randn(10, 3, generator=g) * 0.05 - 5])
    labels = kmeans(x, 2).tolist()
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1 and labels[0] != labels[10]


def test_anomaly_is_relative_to_the_cluster() -> None:
    # cluster A (embeddings near +e1): predictions usually good (d_A ~ 0.2); customer a7 suddenly at 0.9.
    # cluster B (near +e2): customers who are always hard to predict (d_A ~ 0.85); b3 at 0.9 is normal for B.
    g = torch.Generator().manual_seed(1)
    emb_a = torch.tensor([1.0, 0, 0]) + torch.randn(10, 3, generator=g) * 0.02
    emb_b = torch.tensor([0, 1.0, 0]) + torch.randn(10, 3, generator=g) * 0.02
    dist_a = [0.2, 0.22, 0.18, 0.21, 0.19, 0.2, 0.23, 0.9, 0.2, 0.17]
    dist_b = [0.85, 0.8, 0.88, 0.9, 0.83, 0.86, 0.84, 0.87, 0.82, 0.85]
    users = [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)]
    out = detect_anomalies(users, dist_a + dist_b, torch.cat([emb_a, emb_b]), n_clusters=2)
    assert [r.user_id for r in out if r.is_anomaly] == ["a7"]
    assert len({r.cluster for r in out[:10]}) == 1 and out[0].cluster != out[10].cluster
    assert next(r for r in out if r.user_id == "b3").score < 3.5
    with pytest.raises(ValueError):
        detect_anomalies(users[:3], [0.1, 0.2], torch.zeros(3, 2))


def test_small_clusters_flag_nobody() -> None:
    out = detect_anomalies(
        ["x", "y", "z"], [0.0, 0.0, 1.0], torch.eye(3)[[0, 0, 0]], n_clusters=1, min_cluster=5
    )
    assert not any(r.is_anomaly for r in out)


def test_oos_alerts_by_hand() -> None:
    forecasts = [
        CustomerForecast("u1", "s1", ["milk", "bread"], [2.0, 1.0], 1.4),  # day 1
        CustomerForecast("u2", "s1", ["milk"], [1.0], 1.9),  # day 1
        CustomerForecast("u3", "s1", ["milk"], [5.0], 3.0),  # day 3
        CustomerForecast("u4", "s2", ["milk"], [1.0], 0.2),  # day 0, other store
        CustomerForecast("u5", "s1", ["milk"], [9.0], 7.0),  # beyond the 5-day horizon: ignored
    ]
    demand = predicted_demand(forecasts, n_days=5)
    assert demand == {
        ("s1", "milk", 1): 3.0,
        ("s1", "bread", 1): 1.0,
        ("s1", "milk", 3): 5.0,
        ("s2", "milk", 0): 1.0,
    }
    schedule = {("s1", "milk", 1): 2.0, ("s1", "bread", 1): 1.0, ("s1", "milk", 3): 6.0}
    alerts = oos_alerts(demand, schedule_lookup(schedule))
    got = {(a.store_id, a.item_id, a.day): a.residual for a in alerts}
    assert got == {("s1", "milk", 1): -1.0, ("s2", "milk", 0): -1.0}  # bread exactly covered, day 3 covered


def test_simulated_resupply_is_the_mean_daily_rate() -> None:
    lines = [("s1", "milk", 3.0), ("s1", "milk", 4.0), ("s1", "eggs", 1.0)]
    rate = simulated_resupply(lines, history_days=7.0)
    assert rate("s1", "milk", 0) == 1.0 and rate("s1", "eggs", 5) == 1.0 and rate("s2", "milk", 0) == 0.0
    assert simulated_resupply(lines, 7.0, factor=2.0)("s1", "milk", 0) == 2.0
