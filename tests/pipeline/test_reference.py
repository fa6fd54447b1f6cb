from __future__ import annotations

from omniseq.schema import OnlineEvent, StoreTransaction
from pipeline.config import MINUTE_MS, PipelineSettings, WindowSpec
from tests.pipeline.reference import dedup, expected_online, hop_windows, latest_per_user

T0 = 1_700_000_040_000  # 40 s past a minute boundary


def _ev(i: int, user: str, ts: int, etype: str = "view") -> OnlineEvent:
    return OnlineEvent(f"e{i}", user, f"i{i}", etype, ts, "s")  # type: ignore[arg-type]


def test_an_event_falls_in_size_over_slide_windows() -> None:
    spec = WindowSpec(view="w", size_ms=10 * MINUTE_MS, slide_ms=MINUTE_MS)
    rows = hop_windows([_ev(1, "u", T0)], spec)
    assert len(rows) == spec.size_ms // spec.slide_ms
    for r in rows:
        assert r.window_end - spec.size_ms <= T0 < r.window_end
        assert r.window_end % spec.slide_ms == 0
        assert r.features["n_events"] == r.features["n_view"] == 1


def test_watermark_limits_fired_windows() -> None:
    spec = WindowSpec(view="w", size_ms=2 * MINUTE_MS, slide_ms=MINUTE_MS)
    events = [_ev(1, "u", T0), _ev(2, "u", T0 + MINUTE_MS, "click")]
    fired = hop_windows(events, spec, watermark_ms=T0 + MINUTE_MS)
    assert all(r.window_end - 1 <= T0 + MINUTE_MS for r in fired)
    assert len(fired) < len(hop_windows(events, spec))


def test_latest_window_per_user_is_the_newest_end() -> None:
    spec = WindowSpec(view="w", size_ms=2 * MINUTE_MS, slide_ms=MINUTE_MS)
    events = [_ev(1, "u", T0), _ev(2, "u", T0 + 5 * MINUTE_MS, "purchase")]
    latest = latest_per_user(hop_windows(events, spec))["u"]
    assert (
        latest["n_purchase"] == 1
        and latest["n_events"] == 1
        and latest["last_online_ts"] == T0 + 5 * MINUTE_MS
    )


def test_expected_online_dedups_and_joins_baskets_in_time_order() -> None:
    cfg = PipelineSettings(seq_views={"seq": 3})
    e1, e2 = _ev(1, "u", T0), _ev(2, "u", T0 + 2000)
    basket = StoreTransaction("t1", "u", ("a", "b"), T0 + 1000, "s1")
    out = expected_online([e1, e2, e1, basket], cfg)  # duplicate e1, basket arrives last but sits in between
    assert out["seq"]["u"]["tok_types"] == [0, 4, 0]
    assert out["seq"]["u"]["basket_items"] == ["a", "b"]
    assert out[cfg.instore_view]["u"]["store_visits"] == 1
    assert len(dedup([e1, e1, basket, basket])) == 2
