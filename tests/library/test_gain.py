"""Choosing the gain of the next render when the limiter took loudness away."""

from __future__ import annotations

import pytest

from controller.library.importer import next_gain


def test_first_correction_assumes_an_idle_limiter() -> None:
    assert next_gain([(10.0, -17.0)], -16.0, ceiling=30.0) == pytest.approx(11.0)


def test_later_corrections_follow_the_observed_slope() -> None:
    # +2 dB of gain bought only +0.8 LU: the limiter returns 40% of each dB.
    tried = [(10.0, -17.5), (12.0, -16.7)]
    assert next_gain(tried, -16.0, ceiling=30.0) == pytest.approx(12.0 + 0.7 / 0.4)


def test_the_slope_and_the_gain_are_bounded() -> None:
    flat = [(10.0, -18.0), (12.0, -18.0)]  # no gain at all: slope floor 0.2
    assert next_gain(flat, -16.0, ceiling=30.0) == pytest.approx(12.0 + 2.0 / 0.2)
    assert next_gain(flat, -16.0, ceiling=15.0) == 15.0
    steep = [(10.0, -18.0), (11.0, -16.5)]  # more than 1 LU per dB is noise: slope 1
    assert next_gain(steep, -16.0, ceiling=30.0) == pytest.approx(11.5)
