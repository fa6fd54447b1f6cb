"""Point-in-time-correct training sets (both engines agree; nothing written after the label time leaks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.feature_rows import T0, instore_features, sequence_features
from omniseq.features.offline import OfflineWriter
from omniseq.features.online import Row
from omniseq.features.training import build_training_set, label_rows
from omniseq.schema import OnlineEvent, StoreTransaction
from omniseq.settings import StackSettings

SEQ = "user_hybrid_seq_v1"
MIN = 60_000


def ev(user: str, i: int, ts: int, item: str = "") -> OnlineEvent:
    return OnlineEvent(f"e{user}{i}", user, item or f"i{i}", "click", ts, "s1")


def test_label_protocol() -> None:
    hist: dict[str, list[OnlineEvent | StoreTransaction]] = {
        "a": [ev("a", 1, 1000 + T0), StoreTransaction("t", "a", ("x",), 1500 + T0, "st"), ev("a", 2, 2000 + T0),
              ev("a", 3, 3000 + T0), ev("a", 4, 4000 + T0)],
        "b": [ev("b", 1, 5000 + T0)],
    }  # fmt: skip
    df = label_rows(hist)
    assert list(df[df.user_id == "a"].split) == ["train", "train", "valid", "test"]
    assert list(df[df.user_id == "a"].label_ts_ms) == [T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000]
    assert list(df[df.user_id == "b"].split) == ["test"]


def test_bad_labels_are_named(tmp_path: Path) -> None:
    settings = StackSettings(run_dir=tmp_path)
    with pytest.raises(ValueError, match="label_ts_ms"):
        build_training_set(settings, pd.DataFrame({"user_id": ["u"]}), SEQ)
    with pytest.raises(ValueError, match="integer epoch"):
        build_training_set(settings, pd.DataFrame({"user_id": ["u"], "label_ts_ms": [1.5]}), SEQ)
    with pytest.raises(KeyError, match="unknown feature view"):
        build_training_set(settings, pd.DataFrame({"user_id": ["u"], "label_ts_ms": [T0]}), "nope_v1")


def _seq_rows(user: str, n: int) -> list[Row]:
    """The states of one user's sequence after each of ``n`` behaviours (one row per behaviour)."""
    rows = []
    for k in range(1, n + 1):
        f = sequence_features(user, k, 50, seed=7)
        rows.append(Row(user, f, f["last_ts"]))
    return rows


def _write_history(settings: StackSettings) -> dict[str, list[Row]]:
    writer = OfflineWriter(settings.dir("offline"))
    hist = {u: _seq_rows(u, 6) for u in ("pa", "pb")}
    for rows in hist.values():
        # the last row is written later (a separate append) -- it must never leak into earlier labels
        writer.write(SEQ, rows[:-1], created_ms=T0)
        writer.write(SEQ, rows[-1:], created_ms=T0 + MIN)
    return hist


def _check_pit(df: pd.DataFrame, hist: dict[str, list[Row]]) -> None:
    for _, r in df.iterrows():
        before = [f for _, f, ts in hist.get(r.user_id, []) if ts < r.label_ts_ms]
        if not before:
            assert r.seq_len is None or pd.isna(r.seq_len)
            continue
        assert r.last_ts < r.label_ts_ms
        assert {k: r[k] for k in before[-1]} == before[-1]


@pytest.mark.integration
def test_point_in_time_no_leak(applied_store: Any, feature_settings: StackSettings) -> None:
    hist = _write_history(feature_settings)
    labels = []
    for u, rows in hist.items():
        for (
            _,
            _,
            ts,
        ) in rows:  # exactly at a row's time (that row must be excluded), just after, and before all
            labels += [(u, ts), (u, ts + 1), (u, rows[0].ts_ms - 1)]
    labels.append(("nobody", T0 + 10 * MIN))
    df_labels = pd.DataFrame(labels, columns=["user_id", "label_ts_ms"])
    df_labels["extra"] = range(len(df_labels))
    parquet = build_training_set(feature_settings, df_labels, SEQ)
    feast = build_training_set(applied_store, df_labels, SEQ)
    assert list(parquet.extra) == list(range(len(df_labels)))
    _check_pit(parquet, hist)
    _check_pit(feast, hist)
    for col in ("tok_items", "tok_ts", "basket_offsets"):
        assert [x if isinstance(x, list) else None for x in parquet[col]] == [
            x if isinstance(x, list) else None for x in feast[col]
        ]
    # a label just after the newest row sees it; exactly at it does not
    last = hist["pa"][-1]
    at = parquet[(parquet.user_id == "pa") & (parquet.label_ts_ms == last.ts_ms)].iloc[0]
    after = parquet[(parquet.user_id == "pa") & (parquet.label_ts_ms == last.ts_ms + 1)].iloc[0]
    assert at.seq_len == 5 and after.seq_len == 6


@pytest.mark.integration
def test_ttl_and_created_tiebreak(applied_store: Any, feature_settings: StackSettings) -> None:
    view = "user_instore_agg_v1"
    writer = OfflineWriter(feature_settings.dir("offline"))
    old, new = instore_features(1, T0), instore_features(2, T0)
    writer.write(view, [Row("tt", old, T0)], created_ms=T0)
    writer.write(view, [Row("tt", new, T0)], created_ms=T0 + 5)  # same event time, created later: wins
    labels = pd.DataFrame({"user_id": ["tt", "tt"], "label_ts_ms": [T0 + 1, T0 + 400 * 86_400_000]})
    for source in (feature_settings, applied_store):
        df = build_training_set(source, labels, view, settings=feature_settings)
        assert df.iloc[0].store_visits == new["store_visits"]
        assert df.iloc[0].last_store_id == new["last_store_id"]
    # two views at once: Feast's full feature names
    both = build_training_set(
        feature_settings, labels, ["user_instore_agg_v1:store_visits", f"{SEQ}:seq_len"]
    )
    assert list(both.columns[-2:]) == ["user_instore_agg_v1__store_visits", f"{SEQ}__seq_len"]


@pytest.mark.integration
def test_ttl_on_aggregate_view(applied_store: Any, feature_settings: StackSettings) -> None:
    view = "user_online_agg_10m_v1"
    writer = OfflineWriter(feature_settings.dir("offline"))
    row = {
        "n_view": 1,
        "n_click": 0,
        "n_add_to_cart": 0,
        "n_purchase": 0,
        "n_events": 1,
        "last_online_ts": T0,
    }
    writer.write(view, [Row("ag", row, T0)], created_ms=T0)
    labels = pd.DataFrame({"user_id": ["ag", "ag"], "label_ts_ms": [T0 + 5 * MIN, T0 + 11 * MIN]})
    for source in (feature_settings, applied_store):
        df = build_training_set(source, labels, view, settings=feature_settings)
        assert df.iloc[0].n_events == 1
        assert df.iloc[1].n_events is None or pd.isna(df.iloc[1].n_events)  # the 10 min window has expired
