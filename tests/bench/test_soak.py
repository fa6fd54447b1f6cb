"""The soak benchmark's per-minute book-keeping and report (the 10-minute run itself is `make soak`)."""

from __future__ import annotations

import argparse
import os

from bench.soak import Minute, report, rss_mb


def test_minute_counts_errors_and_latencies() -> None:
    m = Minute()
    m.record("200", 0.010)
    m.record("200", 0.030)
    m.record("503", 0.001)
    m.record("error:ReadTimeout", None)
    m.rss += [100.0, 101.5]
    s = m.summary(0)
    assert (s["minute"], s["requests"], s["errors"]) == (1, 4, 2)
    assert s["statuses"] == {"200": 2, "503": 1, "error:ReadTimeout": 1}
    assert s["max_ms"] == 30.0 and s["rss_mb_max"] == 101.5 and s["rss_mb_last"] == 101.5


def test_report_summarises_flatness() -> None:
    args = argparse.Namespace(minutes=2, rate=10.0, users=5, out="x")
    rows = []
    for k, (p99, rss) in enumerate([(5.0, 200.0), (7.0, 204.0)]):
        m = Minute()
        m.record("200", p99 / 1000)
        m.rss.append(rss)
        rows.append(m.summary(k))
    r = report(args, "v1", 100, 1.0, 199.0, 204.0, rows)
    s = r["summary"]
    assert s["errors"] == 0 and s["requests"] == 2 and s["rss_mb_growth"] == 5.0
    assert (s["p99_ms_first_minute"], s["p99_ms_last_minute"], s["p99_ms_max_minute"]) == (5.0, 7.0, 7.0)
    assert "--minutes 2" in r["command"]


def test_rss_of_this_process() -> None:
    assert 1 < rss_mb(os.getpid()) < 100_000
