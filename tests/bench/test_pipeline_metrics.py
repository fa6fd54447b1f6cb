"""The benchmark's drain rate: crossing times interpolated between samples, so a drain shorter than the
sampling interval still resolves."""

from __future__ import annotations

import pytest

from bench._pipeline_metrics import drain_rate, interp_time


def test_interp_time_between_samples() -> None:
    samples = [(0.0, 0), (1.0, 0), (2.0, 1000), (3.0, 1000)]
    assert interp_time(samples, 100) == pytest.approx(1.1)
    assert interp_time(samples, 0) == 0.0
    assert interp_time(samples, 1001) is None


def test_drain_rate_resolves_a_drain_within_two_samples() -> None:
    # 10 000 events read at 50 000/s starting at t=1.0: the counter jumps from 0 to 10 000 between two samples
    samples = [(0.8, 0), (1.0, 0), (1.2, 10_000)]
    assert drain_rate(samples, 10_000) == pytest.approx(8_000 / 0.16)
    assert drain_rate([(0.0, 0), (1.0, 5_000)], 10_000) == 0.0  # never reached 90 %: no rate
