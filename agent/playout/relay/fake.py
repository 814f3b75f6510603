"""A relay that records when it was switched, for tests and benchmarks."""

from __future__ import annotations

import threading

from protocols.clock import Clock, SystemClock


class FakeRelay:
    """Records ``(monotonic_ns, wall_ns, on)`` for every change of state."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else SystemClock(trust="always")
        self._lock = threading.Lock()
        self._on = False
        self.switches: list[tuple[int, int, bool]] = []

    @property
    def is_on(self) -> bool:
        with self._lock:
            return self._on

    def set(self, on: bool) -> None:
        with self._lock:
            if on != self._on:
                self._on = on
                self.switches.append((self._clock.monotonic_ns(), self._clock.wall_ns(), on))

    def close(self) -> None:
        self.set(False)
