"""The one place loaxa reads time from.

Agent and controller code never call ``time.time()`` directly: they read a ``Clock``,
so tests can inject wall-clock offsets, steps and drift underneath the code under test,
and the agent can swap in the clock-exchange estimate when the kernel clock is not
disciplined.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from typing import Protocol, runtime_checkable

from .timefields import Stamp, TimeQuality

_TIME_ERROR = 5  # adjtimex() return value: clock not synchronised


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic and wall time, and of how far the wall clock is trusted."""

    def monotonic_ns(self) -> int:
        """Nanoseconds since boot; never steps, comparable only within one boot."""
        ...

    def wall_ns(self) -> int:
        """UTC nanoseconds since the epoch, as this clock currently believes."""
        ...

    def quality(self) -> TimeQuality:
        """How far ``wall_ns`` can be trusted right now."""
        ...


def stamp(clock: Clock, boot: int) -> Stamp:
    """Read ``clock`` once into a wire stamp for the given journal boot number."""
    return Stamp(boot=boot, mono_ns=clock.monotonic_ns(), wall_ns=clock.wall_ns(),
                 quality=clock.quality())


class _Timex(ctypes.Structure):
    # Only ``modes`` (offset 0) matters: zero means "read, change nothing". The rest of
    # struct timex is padding large enough for every Linux ABI.
    _fields_ = [("modes", ctypes.c_uint), ("_rest", ctypes.c_byte * 252)]


def kernel_clock_synchronised() -> bool:
    """True when the kernel says an NTP daemon (chrony) disciplines the clock."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        state = libc.adjtimex(ctypes.byref(_Timex()))
    except (OSError, AttributeError):
        return False
    return bool(state >= 0 and state != _TIME_ERROR)


class SystemClock:
    """The machine's clocks. ``trust`` decides where time quality comes from.

    ``trust="kernel"`` (production default) asks the kernel whether chrony has
    synchronised the clock; ``"always"`` is for controllers on a trusted host clock and
    for tests; ``"never"`` leaves quality to another source (the clock exchange).
    """

    def __init__(self, trust: str = "kernel", recheck_ns: int = 10_000_000_000) -> None:
        if trust not in ("kernel", "always", "never"):
            raise ValueError(f"unknown clock trust mode {trust!r}")
        self._trust = trust
        self._recheck_ns = recheck_ns
        self._checked_at: int | None = None
        self._synced = False

    def monotonic_ns(self) -> int:
        # BOOTTIME keeps counting through suspend, unlike CLOCK_MONOTONIC.
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def wall_ns(self) -> int:
        return time.time_ns()

    def quality(self) -> TimeQuality:
        if self._trust == "always":
            return TimeQuality.SYNCED
        if self._trust == "never":
            return TimeQuality.UNSYNCED
        now = self.monotonic_ns()
        if self._checked_at is None or now - self._checked_at >= self._recheck_ns:
            self._synced = kernel_clock_synchronised()
            self._checked_at = now
        return TimeQuality.SYNCED if self._synced else TimeQuality.UNSYNCED


class SkewedClock:
    """A clock built on another one with an injectable wall offset, steps and drift.

    ``wall = base.wall + offset + drift_ppm * 1e-6 * (mono - mono_at_creation)``.
    ``step_wall()`` moves the wall clock like a bad NTP step or a user running
    ``date -s``; the monotonic clock is untouched, as on a real machine.
    """

    def __init__(self, base: Clock | None = None, *, offset_ns: int = 0,
                 drift_ppm: float = 0.0, quality: TimeQuality = TimeQuality.SYNCED) -> None:
        self._base = base if base is not None else SystemClock(trust="always")
        self._lock = threading.Lock()
        self._offset_ns = offset_ns
        self._drift_ppm = drift_ppm
        self._origin_mono = self._base.monotonic_ns()
        self._quality = quality

    def monotonic_ns(self) -> int:
        return self._base.monotonic_ns()

    def wall_ns(self) -> int:
        mono = self._base.monotonic_ns()
        with self._lock:
            drift = int((mono - self._origin_mono) * self._drift_ppm * 1e-6)
            return self._base.wall_ns() + self._offset_ns + drift

    def quality(self) -> TimeQuality:
        with self._lock:
            return self._quality

    def step_wall(self, delta_ns: int) -> None:
        with self._lock:
            self._offset_ns += delta_ns

    def set_quality(self, quality: TimeQuality) -> None:
        with self._lock:
            self._quality = quality


class ManualClock:
    """A clock that only moves when told to: for deterministic unit tests."""

    def __init__(self, *, mono_ns: int = 1_000_000_000, wall_ns: int = 1_767_225_600 * 10**9,
                 quality: TimeQuality = TimeQuality.SYNCED) -> None:
        self._mono = mono_ns
        self._wall = wall_ns
        self._quality = quality
        self._lock = threading.Lock()

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._mono

    def wall_ns(self) -> int:
        with self._lock:
            return self._wall

    def quality(self) -> TimeQuality:
        with self._lock:
            return self._quality

    def advance(self, delta_ns: int) -> None:
        """Let time pass: both clocks move together."""
        with self._lock:
            self._mono += delta_ns
            self._wall += delta_ns

    def step_wall(self, delta_ns: int) -> None:
        with self._lock:
            self._wall += delta_ns

    def set_quality(self, quality: TimeQuality) -> None:
        with self._lock:
            self._quality = quality
