"""Test clocks beyond ``protocols.clock``'s: an oscillator that runs fast or slow."""

from __future__ import annotations

from protocols.clock import Clock, SystemClock
from protocols.timefields import TimeQuality


class RateClock:
    """A machine whose crystal is ``ppm`` off: monotonic and wall time both run at that rate.

    ``SkewedClock`` drifts only the wall clock, as a mis-set or mis-slewed clock would; a
    Pi's oscillator error moves its monotonic clock too, which is what the estimator's
    drift fit measures and playout must correct.
    """

    def __init__(self, ppm: float, base: Clock | None = None) -> None:
        self._base = base if base is not None else SystemClock(trust="never")
        self._ppm = ppm
        self._origin_mono = self._base.monotonic_ns()
        self._origin_wall = self._base.wall_ns()

    def _scaled(self) -> int:
        return round((self._base.monotonic_ns() - self._origin_mono) * (1 + self._ppm * 1e-6))

    def monotonic_ns(self) -> int:
        return self._origin_mono + self._scaled()

    def wall_ns(self) -> int:
        return self._origin_wall + self._scaled()

    def quality(self) -> TimeQuality:
        return TimeQuality.UNSYNCED
