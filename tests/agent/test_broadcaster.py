"""The Broadcaster between the documents and the engine: a plan past its horizon keeps
the standing routine on the air (and nothing else), and what an emergency may air is
kept ready. A real engine on the clocked fake card; the audio it presented is the truth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.broadcaster import Broadcaster, timeline
from agent.config import from_mapping
from agent.playout.pcm import RATE
from agent.playout.relay import FakeRelay
from agent.playout.sinks import ClockedFakeSink
from protocols.clock import SkewedClock
from protocols.messages import (
    Emergency,
    HardTimePolicy,
    Plan,
    PlanSlot,
    Play,
    PlayOutcome,
    Priority,
    RoutineItem,
)
from tests.playout.audio_compare import best_lag
from tests.playout.media import Item, noise_item

S = 1_000_000_000
MS = 1_000_000
DAY = 86_400 * S
TZ = "Asia/Ho_Chi_Minh"


class Agent:
    """A Broadcaster on a clocked fake card, with what it recorded."""

    def __init__(self, root: Path, clock: SkewedClock, items: tuple[Item, ...]) -> None:
        self.clock = clock
        self.settings = from_mapping({
            "agent": {"id": "ag-1", "commune": "xa-1", "village": "thon-1",
                      "data_dir": str(root / "agent")},
            "broker": {"host": "127.0.0.1", "password": "unused"},
            "amplifier": {"lead_ms": 300, "tail_ms": 300}}, environ={})
        folder = self.settings.data_dir / "cache" / "items"  # fetched earlier, as usual
        folder.mkdir(parents=True)
        for item in items:
            (folder / item.sha.hex()).write_bytes(item.path.read_bytes())
        self.sink = ClockedFakeSink(clock)
        self.broadcaster = Broadcaster(self.settings, clock, boot=1, sink=self.sink,
                                       relay=FakeRelay(clock))
        self.plays: list[Play] = []
        self._cond = threading.Condition()

    def played(self, play: Play) -> None:
        with self._cond:
            self.plays.append(play)
            self._cond.notify_all()

    def wait_play(self, condition: Callable[[Play], bool], timeout: float = 20.0) -> Play:
        with self._cond:
            assert self._cond.wait_for(lambda: any(condition(p) for p in self.plays),
                                       timeout), self.plays
            return next(p for p in self.plays if condition(p))

    def heard(self, reference: bytes, wall_ns: int) -> tuple[float, float]:
        """(correlation, offset in ms) of ``reference``'s second 1 with what the card
        presented around ``wall_ns`` + 1 s."""
        mono = wall_ns + S - (self.clock.wall_ns() - self.clock.monotonic_ns())
        span = RATE // 20
        guess = round(self.sink.device_frame_at(mono))
        recording = self.sink.recording(guess - span, 4800 + 2 * span)
        lag, corr = best_lag(recording, reference[RATE * 2:(RATE + 4800) * 2])
        return corr, (lag - span) * 1000 / RATE


@contextmanager
def running(root: Path, clock: SkewedClock, *items: Item) -> Iterator[Agent]:
    agent = Agent(root, clock, items)
    agent.broadcaster.start(agent.played, lambda _code, _detail: None)
    try:
        yield agent
    finally:
        agent.broadcaster.close()


def local_second(wall_ns: int) -> int:
    at = datetime.fromtimestamp(wall_ns / S, ZoneInfo(TZ))
    return at.hour * 3600 + at.minute * 60 + at.second


def next_second(clock: SkewedClock, ahead_s: float) -> int:
    """A whole wall second at least ``ahead_s`` from now (routine times are in seconds)."""
    return -(-(clock.wall_ns() + round(ahead_s * S)) // S) * S


def routine(item: Item, at_wall_ns: int, programme: str = "sang") -> RoutineItem:
    return RoutineItem(programme=programme, content=item.sha, weekdays=127,
                       local_start_s=local_second(at_wall_ns), duration_ms=2000,
                       priority=Priority.NORMAL, policy=HardTimePolicy.PREEMPT)


def test_past_the_horizon_the_routine_airs_extrapolated_and_one_offs_do_not(
        tmp_path: Path) -> None:
    daily = noise_item(tmp_path, 2.0, seed=21)
    once = noise_item(tmp_path, 2.0, seed=22)
    clock = SkewedClock()
    t = next_second(clock, 3.0)
    # Cut off for a day: the plan's horizon passed an hour ago. Yesterday, at the very
    # time the routine airs, a one-off bulletin aired; it is not part of the routine.
    one_off = PlanSlot(slot_id="thong-bao-mot-lan", programme="thong-bao", start_ns=t - DAY,
                       content=once.sha, duration_ms=2000, priority=Priority.NORMAL,
                       policy=HardTimePolicy.PREEMPT, window_end_ns=t - DAY + 60 * S)
    plan = Plan(version=3, issued_ns=t - 8 * DAY, agent_id="ag-1", tz=TZ,
                horizon_end_ns=t - 3600 * S, slots=[one_off], routine=[routine(daily, t)])
    ahead = timeline(plan, clock.wall_ns())
    assert [s.slot.content for s in ahead if s.slot.start_ns > clock.wall_ns()][:1] == \
        [daily.sha]
    assert not any(s.slot.content == once.sha and s.extrapolated for s in ahead)
    with running(tmp_path, clock, daily, once) as agent:
        agent.broadcaster.apply_document("plan", plan)
        play = agent.wait_play(lambda p: p.content == daily.sha)
        time.sleep(0.5)
        plays = list(agent.plays)
    assert play.outcome is PlayOutcome.AIRED and play.extrapolated, play
    assert play.slot_id.endswith("-x") and play.scheduled_ns == t
    assert play.first_sample_ns is not None and abs(play.first_sample_ns - t) < 20 * MS
    corr, offset_ms = agent.heard(daily.decoded(), t)
    assert corr > 0.9 and abs(offset_ms) < 1, (corr, offset_ms)  # the routine, on time
    assert not any(p.content == once.sha for p in plays), plays
    corr_once, _ = agent.heard(once.decoded(), t)
    assert corr_once < 0.3, corr_once  # the card did not play the one-off instead


def test_refresh_keeps_the_routine_going_once_the_clock_passes_the_horizon(
        tmp_path: Path) -> None:
    daily = noise_item(tmp_path, 2.0, seed=23)
    clock = SkewedClock()
    t1 = next_second(clock, 3.0)
    t2 = t1 + 6 * S
    # The plan covers the next day and a half: nothing to extrapolate when it arrives.
    plan = Plan(version=4, issued_ns=clock.wall_ns(), agent_id="ag-1", tz=TZ,
                horizon_end_ns=clock.wall_ns() + 36 * 3600 * S, slots=[],
                routine=[routine(daily, t1, "sang"), routine(daily, t2, "chieu")])
    with running(tmp_path, clock, daily) as agent:
        agent.broadcaster.apply_document("plan", plan)
        clock.step_wall(2 * DAY)  # two days later, still cut off
        time.sleep((t1 + 2 * DAY + 2.5 * S - clock.wall_ns()) / S)
        before_refresh = list(agent.plays)  # the first routine time has come and gone
        agent.broadcaster.refresh()
        play = agent.wait_play(lambda p: p.content == daily.sha)
    assert before_refresh == []  # without the refresh, the plan alone airs nothing
    assert play.outcome is PlayOutcome.AIRED and play.extrapolated, play
    assert play.scheduled_ns == t2 + 2 * DAY
    assert play.first_sample_ns is not None and abs(play.first_sample_ns - play.scheduled_ns) \
        < 20 * MS


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_the_pins_are_kept_ready_for_an_emergency(tmp_path: Path) -> None:
    storm, flood, fire = (noise_item(tmp_path, 1.0, seed=s) for s in (24, 25, 26))
    clock = SkewedClock()
    now = clock.wall_ns()
    plan = Plan(version=5, issued_ns=now, agent_id="ag-1", tz=TZ,
                horizon_end_ns=now + 7 * DAY, slots=[], pins=[storm.sha, flood.sha])
    with running(tmp_path, clock, storm, flood, fire) as agent:
        engine = agent.broadcaster.engine
        assert engine.kept_ready() == frozenset()
        agent.broadcaster.apply_document("plan", plan)
        wait_for(lambda: engine.kept_ready() == {storm.sha, flood.sha})
        start = Emergency(version=1, issued_ns=now, emergency_id="chay-rung", active=True,
                          content=fire.sha, villages=["thon-1"], started_ns=now,
                          attention_tone=False)
        agent.broadcaster.apply_document("emergency", start)  # an item not pinned...
        agent.wait_play(lambda p: p.content == fire.sha)  # ...airs all the same, cold
        assert engine.kept_ready() == {storm.sha, flood.sha}
        agent.broadcaster.apply_document("plan", Plan(
            version=6, issued_ns=now, agent_id="ag-1", tz=TZ, horizon_end_ns=now + 7 * DAY,
            slots=[], pins=[fire.sha]))
        wait_for(lambda: engine.kept_ready() == {fire.sha})  # the new plan's pins only
