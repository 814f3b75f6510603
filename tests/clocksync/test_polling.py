"""How often an agent asks (4G bytes), and an estimate that survives a restart.

The poll policy backs off from 16 s to 256 s once the estimate has settled (a full window
of samples, a fitted drift, the newest sample agreeing), and comes back to 16 s when a
sample disagrees or an exchange fails. In the simulated world (a ``ManualClock``, 4G-like
delays with queueing, an oscillator 50 ppm fast) a day costs 338 exchanges instead of
5,400, and the served clock stays within a few milliseconds, as with polling every 16 s.
"""

from __future__ import annotations

from agent.clocksync import ExchangeClock, Holdover, PollConfig
from protocols.timefields import TimeQuality

from .simulation import World, queueing

MS = 1_000_000
S = 1_000_000_000
POLL = PollConfig()


def test_the_interval_backs_off_only_while_the_estimate_holds() -> None:
    step = POLL.next_interval
    assert step(1.0, samples=3, settled=False, answered=True) == POLL.burst_interval_s
    assert step(1.0, samples=8, settled=False, answered=True) == 1.5  # growing to 16 s
    assert step(12.0, samples=10, settled=False, answered=False) == 16.0
    assert step(16.0, samples=60, settled=False, answered=True) == 16.0
    assert step(16.0, samples=128, settled=True, answered=True) == 32.0
    assert step(128.0, samples=60, settled=True, answered=True) == 256.0
    assert step(256.0, samples=60, settled=True, answered=True) == 256.0  # the ceiling
    assert step(256.0, samples=60, settled=False, answered=True) == 16.0  # disagreed
    assert step(256.0, samples=60, settled=True, answered=False) == 16.0  # no answer


def poll_for(world: World, seconds: float, config: PollConfig = POLL) -> list[float]:
    """The client's loop in simulated time; the intervals it chose, in order."""
    intervals: list[float] = []
    interval = config.burst_interval_s
    end = world.true_ns + round(seconds * S)
    while world.true_ns < end:
        started = world.true_ns
        answered = world.exchange()
        interval = config.next_interval(
            interval, samples=world.clock.samples,
            settled=world.clock.settled(config.settle_samples), answered=answered)
        intervals.append(interval)
        world.advance(max(0.0, (started + round(interval * S) - world.true_ns) / S))
    return intervals


def test_a_settled_estimate_polls_every_256_s_and_stays_within_milliseconds() -> None:
    world = World(agent_ppm=50, up=queueing(0.02, 0.03), down=queueing(0.02, 0.005),
                  seed=3)
    first_hour = poll_for(world, 3600)  # the burst, 16 s until the window is full, then up
    assert 256.0 in first_hour and first_hour.index(256.0) > 128
    errors: list[int] = []
    bounds: list[int] = []

    def probe() -> None:
        errors.append(abs(world.error_ns()))
        bounds.append((world.clock.uncertainty_us() or 0) * 1000)

    day = []
    end = world.true_ns + 86_400 * S
    interval = 256.0
    while world.true_ns < end:
        started = world.true_ns
        answered = world.exchange()
        interval = POLL.next_interval(
            interval, samples=world.clock.samples,
            settled=world.clock.settled(POLL.settle_samples), answered=answered)
        day.append(interval)
        next_at = started + round(interval * S)
        while world.true_ns < next_at:
            world.advance(min(10.0, (next_at - world.true_ns) / S))
            probe()
    assert world.clock.quality() is TimeQuality.ESTIMATED
    # A day of polling at the ceiling: 338 exchanges, against 5,400 at a fixed 16 s.
    assert day.count(256.0) > 0.9 * len(day)
    assert len(day) < 400, len(day)
    assert all(e <= b for e, b in zip(errors, bounds, strict=True))  # the bound holds
    errors.sort()
    assert errors[int(len(errors) * 0.99)] < 5 * MS, errors[-1]


def test_an_estimate_restored_in_the_same_boot_serves_at_once() -> None:
    world = World(agent_ppm=-30, up=queueing(0.02, 0.01), down=queueing(0.02, 0.005))
    poll_for(world, 1800)
    held = world.clock.holdover()
    assert held is not None
    world.advance(120)  # the agent restarts (the link is down meanwhile)
    restarted = ExchangeClock(world.base)
    assert restarted.quality() is TimeQuality.UNSYNCED
    assert restarted.restore(held)
    assert restarted.quality() is TimeQuality.ESTIMATED
    assert abs(restarted.wall_ns() - world.controller_ns()) < 2 * MS
    bound = restarted.uncertainty_us()
    assert bound is not None and bound * 1000 >= abs(restarted.wall_ns() - world.controller_ns())
    # Samples after the restart continue the same clock, without a step.
    before = restarted.wall_ns()
    world.clock = restarted
    poll_for(world, 300)
    assert restarted.snapshot().steps == 0 and restarted.wall_ns() > before
    assert abs(world.error_ns()) < 2 * MS


def test_a_stale_or_foreign_estimate_is_not_restored() -> None:
    world = World(agent_ppm=20)
    poll_for(world, 600)
    held = world.clock.holdover()
    assert held is not None
    # From another boot: its monotonic readings lie in this boot's future.
    future = Holdover(held.ref_mono_ns + 10**15, held.ref_ctrl_ns, held.rate,
                      held.rate_error, held.error_ns, held.last_mono_ns + 10**15)
    assert not ExchangeClock(world.base).restore(future)
    # Held over for too long: the error bound (1 ppm of wander, plus the drift's error)
    # has passed what may be called ESTIMATED.
    world.advance(400_000)
    stale = ExchangeClock(world.base)
    assert not stale.restore(held)
    assert stale.quality() is TimeQuality.UNSYNCED
