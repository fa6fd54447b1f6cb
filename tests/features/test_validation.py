"""Validation before writing: every defect is rejected with a reason, quarantined and counted; none dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from feature_repo.views import VIEWS
from omniseq.features.testing import T0, sample_row
from omniseq.features.validation import (
    FeatureValidationSettings,
    FeatureValidator,
    Quarantine,
    check_row,
)
from omniseq.settings import StackSettings

NOW = T0 + 3_600_000
SEQ = "user_hybrid_seq_v1"


def seq_row(**changes: Any) -> tuple[str, dict[str, Any], int]:
    uid, feats, ts = sample_row(SEQ, "u1", 3, n_behaviours=30)
    assert 4 in feats["tok_types"], "the sample must hold a basket"
    return uid, {**feats, **changes}, ts


@pytest.mark.parametrize("view_name", sorted(VIEWS))
def test_valid_rows_pass(view_name: str) -> None:
    for seed in range(5):
        uid, feats, ts = sample_row(view_name, f"u{seed}", seed, n_behaviours=5 + 30 * seed)
        assert check_row(view_name, uid, feats, ts, NOW) is None


def _bad_rows() -> list[tuple[str, tuple[Any, Any, Any], str]]:
    uid, f, ts = seq_row()
    n = f["seq_len"]
    long = sample_row("user_hybrid_seq_v2", "u", 1, n_behaviours=80)[1]
    return [
        ("seq_len > max_len", ("u", long, long["last_ts"]), "list_length"),
        ("tok_items shorter", (uid, {**f, "tok_items": f["tok_items"][1:]}, ts), "list_length"),
        ("string in int list", (uid, {**f, "tok_ts": [*f["tok_ts"][:-1], "x"]}, ts), "type"),
        ("bool as int", (uid, {**f, "seq_len": True}, ts), "type"),
        ("negative", (uid, {**f, "tok_ts": [-1] * n, "last_ts": -1}, ts), "range"),
        ("type code 7", (uid, {**f, "tok_types": [7] * n}, ts), "range"),
        ("ts decreasing", (uid, {**f, "tok_ts": f["tok_ts"][::-1]}, ts), "sequence"),
        ("csr end", (uid, {**f, "basket_items": f["basket_items"][:-1]}, ts), "csr"),
        ("csr start", (uid, {**f, "basket_offsets": [1, *f["basket_offsets"][1:]]}, ts), "csr"),
        ("stores", (uid, {**f, "basket_stores": []}, ts), "list_length"),
        ("event time != last_ts", (uid, f, ts + 5), "timestamp"),
        ("future", (uid, f, NOW + 61_000), "future"),
        ("seconds not ms", (uid, f, ts // 1000), "timestamp"),
        ("missing", (uid, {k: v for k, v in f.items() if k != "seq_len"}, ts), "missing_feature"),
        ("unknown", (uid, {**f, "extra": 1}, ts), "unknown_feature"),
        ("empty user", ("", f, ts), "user_id"),
        (
            "n_events",
            ("u", {**sample_row("user_online_agg_1h_v1", "u", 1)[1], "n_events": 10**6}, T0),
            "aggregate",
        ),
    ]


@pytest.mark.parametrize(("label", "row", "code"), _bad_rows(), ids=[b[0] for b in _bad_rows()])
def test_defects_are_named(label: str, row: tuple[Any, Any, Any], code: str) -> None:
    view_name = "user_online_agg_1h_v1" if label == "n_events" else SEQ
    invalid = check_row(view_name, *row, now_ms=NOW)
    assert invalid is not None, label
    assert invalid.code == code, invalid
    assert invalid.detail


def test_mean_basket_size_and_skew() -> None:
    uid, f, ts = sample_row("user_instore_agg_v1", "u", 2)
    bad = check_row("user_instore_agg_v1", uid, {**f, "mean_basket_size": 0.5}, ts, NOW)
    assert bad is not None and bad.code == "aggregate" and "mean_basket_size" in bad.detail
    assert check_row(SEQ, *seq_row()[:2], NOW + 30_000, now_ms=NOW) is not None  # != last_ts
    u, feats, ts2 = seq_row()
    assert check_row(SEQ, u, feats, ts2, now_ms=ts2 - 30_000, max_skew_ms=60_000) is None
    assert check_row(SEQ, u, feats, ts2, now_ms=ts2 - 30_000, max_skew_ms=10_000).code == "future"  # type: ignore[union-attr]


def test_quarantine_and_counts(tmp_path: Path) -> None:
    settings = StackSettings(run_dir=tmp_path)
    validator = FeatureValidator(
        Quarantine.for_settings(settings),
        settings=FeatureValidationSettings(feature_max_clock_skew_ms=0),
        clock=lambda: NOW / 1000,
    )
    good = [seq_row(), sample_row(SEQ, "u2", 9)]
    bad = [seq_row(seq_len=-1), ("", good[0][1], good[0][2]), (good[0][0], good[0][1], NOW + 1)]
    kept = validator.filter(SEQ, [good[0], bad[0], good[1], bad[1], bad[2]])
    assert kept == good
    quarantined = validator.quarantine.read(SEQ)
    assert [q["reason"] for q in quarantined] == ["range", "user_id", "future"]
    assert all(q["detail"] and q["view"] == SEQ for q in quarantined)
    assert quarantined[0]["features"]["seq_len"] == -1
    assert validator.quarantine.path(SEQ).is_relative_to(tmp_path / "quarantine" / "features")
    snap = validator.counter.snapshot()
    assert snap["accepted"] == {SEQ: 2}
    assert snap["rejected"] == {f"{SEQ}:future": 1, f"{SEQ}:range": 1, f"{SEQ}:user_id": 1}
    assert validator.counter.total_rejected + snap["accepted"][SEQ] == 5  # nothing silently dropped


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNISEQ_FEATURE_MAX_CLOCK_SKEW_MS", "5")
    assert FeatureValidationSettings().feature_max_clock_skew_ms == 5
    with pytest.raises(ValueError):
        FeatureValidationSettings(unknown_key=1)  # type: ignore[call-arg]
