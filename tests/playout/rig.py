"""A playout engine on a clocked fake sink and a fake relay, with helpers to read the
audio truth back (what was presented when)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.playout import EngineConfig, PlayoutEngine, ScheduledSlot
from agent.playout.pcm import RATE
from agent.playout.relay import FakeRelay
from agent.playout.sinks import ClockedFakeSink
from protocols.clock import Clock, SkewedClock
from protocols.messages import HardTimePolicy, PlanSlot, Play, Priority

from .audio_compare import best_lag
from .media import Item

S = 1_000_000_000
MS = 1_000_000

# Timing in tests is computed from the fake's crystal, not from Python's scheduling, so
# it is exact whatever the load; a generous FIFO fill only protects against underruns on
# a busy 2-core CI machine.
TEST_CONFIG = EngineConfig(ahead_ms=250, amp_lead_ms=500, amp_tail_ms=400, preroll_s=2.0,
                           join_preroll_ms=600, grace_s=30.0)


@dataclass
class Rig:
    cache: Path
    drift_ppm: float = 0.0
    offset_ns: int = 0
    config: EngineConfig = TEST_CONFIG
    sink_class: type[ClockedFakeSink] = ClockedFakeSink
    content_path: Callable[[bytes], Path] | None = None  # default: the hex digest in cache
    clock: Clock = field(init=False)
    sink: ClockedFakeSink = field(init=False)
    relay: FakeRelay = field(init=False)
    engine: PlayoutEngine = field(init=False)
    plays: list[Play] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = SkewedClock(offset_ns=self.offset_ns)
        self.sink = self.sink_class(self.clock, drift_ppm=self.drift_ppm)
        self.relay = FakeRelay(self.clock)
        self._cond = threading.Condition()
        self.engine = PlayoutEngine(self.clock, self.sink, self.relay, cache_dir=self.cache,
                                    content_path=self.content_path, on_play=self._on_play,
                                    on_event=self._on_event, config=self.config)

    def _on_play(self, play: Play) -> None:
        with self._cond:
            self.plays.append(play)
            self._cond.notify_all()

    def _on_event(self, code: str, detail: str) -> None:
        self.events.append((code, detail))

    def __enter__(self) -> Rig:
        self.engine.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.close()

    # ------------------------------------------------------------------ time
    def wall_in(self, seconds: float) -> int:
        return self.clock.wall_ns() + round(seconds * S)

    def mono_of(self, wall_ns: int) -> int:
        """Monotonic time of a wall instant, by this rig's (skewed) clock."""
        return wall_ns - (self.clock.wall_ns() - self.clock.monotonic_ns())

    def wait_plays(self, n: int, timeout: float = 20.0) -> list[Play]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.plays) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} play records, got {self.plays}")
                self._cond.wait(left)
            return list(self.plays)

    def play_of(self, slot_id: str) -> Play:
        found = [p for p in self.plays if p.slot_id == slot_id]
        assert len(found) == 1, (slot_id, self.plays)
        return found[0]

    # ------------------------------------------------------------------ audio truth
    def presented(self, reference: bytes, sample: int, mono_guess: int,
                  window: int = 4800, search_ms: float = 30.0) -> tuple[int, float]:
        """When the fake presented source sample ``sample`` (found by cross-correlating a
        ``window``-frame stretch of the reference around the expected time), and the
        correlation there."""
        seg = reference[sample * 2:(sample + window) * 2]
        span = round(search_ms * RATE / 1000)
        guess = round(self.sink.device_frame_at(mono_guess))
        recording = self.sink.recording(guess - span, window + 2 * span)
        lag, corr = best_lag(recording, seg)
        return self.sink.device_time_ns(guess - span + lag), corr


def slot(slot_id: str, item: Item, start_ns: int, *, priority: Priority = Priority.NORMAL,
         policy: HardTimePolicy = HardTimePolicy.PREEMPT, window_s: float = 60.0,
         seconds: float | None = None, peers: int = 0,
         extrapolated: bool = False) -> ScheduledSlot:
    duration = seconds if seconds is not None else item.seconds
    return ScheduledSlot(PlanSlot(slot_id=slot_id, programme="prog", start_ns=start_ns,
                                  content=item.sha, duration_ms=round(duration * 1000),
                                  priority=priority, policy=policy,
                                  window_end_ns=start_ns + round(window_s * S)),
                         village_peers=peers, extrapolated=extrapolated)
