"""A ManualClock-driven world for the estimator: hours of drift in milliseconds of CPU.

True time runs from 0. The controller's clock is right (plus an injectable shift); the
agent's oscillator runs ``agent_ppm`` fast, so its monotonic *and* wall clocks (a Pi with
no RTC and no chrony) drift together, and its wall clock starts off by
``agent_wall_offset_ns``. Each exchange draws one-way delays from the given functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from agent.clocksync import EstimatorConfig, ExchangeClock, Sample
from protocols.clock import ManualClock

Delay = Callable[[random.Random], float]  # seconds

C0 = 1_767_225_600 * 10**9  # the controller's clock at true time 0
M0 = 42 * 10**9  # the agent's monotonic clock at true time 0


def fixed(seconds: float) -> Delay:
    return lambda _rng: seconds


def queueing(base_s: float, mean_queue_s: float) -> Delay:
    """A propagation floor plus exponential queueing: what a busy 4G uplink looks like."""
    return lambda rng: base_s + rng.expovariate(1.0 / mean_queue_s)


class World:
    def __init__(self, *, agent_ppm: float = 0.0, agent_wall_offset_ns: int = -3_600 * 10**9,
                 up: Delay | None = None, down: Delay | None = None, hold_s: float = 30e-6,
                 config: EstimatorConfig | None = None, seed: int = 1,
                 initial_drift_ppm: float = 0.0) -> None:
        self.agent_ppm = agent_ppm
        self.rng = random.Random(seed)
        self.up = up if up is not None else fixed(0.01)
        self.down = down if down is not None else fixed(0.01)
        self.hold_s = hold_s
        self.base = ManualClock(mono_ns=M0, wall_ns=C0 + agent_wall_offset_ns)
        self.clock = ExchangeClock(self.base, config, initial_drift_ppm=initial_drift_ppm)
        self.true_ns = 0
        self.controller_shift_ns = 0
        self.timebase = 1
        self.samples: list[Sample] = []

    def controller_ns(self, true_ns: int | None = None) -> int:
        t = self.true_ns if true_ns is None else true_ns
        return C0 + t + self.controller_shift_ns

    def agent_mono(self, true_ns: int) -> int:
        return M0 + round(true_ns * (1 + self.agent_ppm * 1e-6))

    def true_offset_ns(self, sample: Sample) -> int:
        """What a sample's offset would be over a perfectly symmetric path."""
        true_mid = round((sample.mid_ns - M0) / (1 + self.agent_ppm * 1e-6))
        return self.controller_ns(true_mid) - sample.mid_ns

    def advance(self, seconds: float) -> None:
        self.true_ns += round(seconds * 1e9)
        self.base.advance(self.agent_mono(self.true_ns) - self.base.monotonic_ns())

    def error_ns(self) -> int:
        """The served clock minus the controller's, now."""
        return self.clock.wall_ns() - self.controller_ns()

    def exchange(self) -> bool:
        up = round(self.up(self.rng) * 1e9)
        down = round(self.down(self.rng) * 1e9)
        hold = round(self.hold_s * 1e9)
        wall1, mono1 = self.base.wall_ns(), self.base.monotonic_ns()
        t2 = self.controller_ns(self.true_ns + up)
        t3 = t2 + hold
        self.advance((up + hold + down) / 1e9)
        sample = Sample(mono1_ns=mono1, mono4_ns=self.base.monotonic_ns(), wall1_ns=wall1,
                        t2_ns=t2, t3_ns=t3)
        self.samples.append(sample)
        return self.clock.add_sample(sample, self.timebase)

    def run(self, seconds: float, interval_s: float,
            probe: Callable[[], None] | None = None, probe_every_s: float = 0.0) -> None:
        """Exchange every ``interval_s`` for ``seconds``; call ``probe`` in between."""
        end = self.true_ns + round(seconds * 1e9)
        while self.true_ns < end:
            self.exchange()
            next_at = min(end, self.true_ns + round(interval_s * 1e9))
            while self.true_ns < next_at:
                step = (next_at - self.true_ns) / 1e9
                if probe is not None and probe_every_s:
                    step = min(step, probe_every_s)
                self.advance(step)
                if probe is not None:
                    probe()
