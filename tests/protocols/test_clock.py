"""The Clock interface: injected offsets, steps and drift move wall time only."""

from __future__ import annotations

from protocols.clock import ManualClock, SkewedClock, SystemClock, stamp
from protocols.timefields import TimeQuality


def test_skewed_clock_offset_and_step_leave_monotonic_alone() -> None:
    base = ManualClock()
    clock = SkewedClock(base, offset_ns=500_000_000)
    assert clock.wall_ns() - base.wall_ns() == 500_000_000
    mono = clock.monotonic_ns()
    clock.step_wall(-3600 * 10**9)
    assert clock.wall_ns() - base.wall_ns() == 500_000_000 - 3600 * 10**9
    assert clock.monotonic_ns() == mono


def test_skewed_clock_drifts_in_proportion_to_elapsed_time() -> None:
    base = ManualClock()
    clock = SkewedClock(base, drift_ppm=100.0)
    base.advance(1000 * 10**9)  # 1000 s at +100 ppm = +100 ms
    assert clock.wall_ns() - base.wall_ns() == 100_000_000


def test_stamp_records_quality_and_boot() -> None:
    clock = ManualClock(quality=TimeQuality.UNSYNCED)
    taken = stamp(clock, boot=4)
    assert (taken.boot, taken.quality, taken.quality.trusted) == (4, TimeQuality.UNSYNCED, False)


def test_system_clock_modes() -> None:
    assert SystemClock(trust="always").quality() is TimeQuality.SYNCED
    assert SystemClock(trust="never").quality() is TimeQuality.UNSYNCED
    kernel = SystemClock(trust="kernel").quality()
    assert kernel in (TimeQuality.SYNCED, TimeQuality.UNSYNCED)
    a, b = SystemClock().monotonic_ns(), SystemClock().monotonic_ns()
    assert b >= a
