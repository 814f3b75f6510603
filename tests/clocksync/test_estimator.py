"""The estimator in a simulated world: offsets and drift injected underneath it.

Driven by a ``ManualClock``, so hours of 4G-like exchanges run in milliseconds and the
truth is known exactly: the controller's clock is the reference, the agent's oscillator
is off by a few tens of ppm and its wall clock by an hour.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from agent.clocksync import EstimatorConfig, Sample
from protocols.clock import Clock
from protocols.timefields import TimeQuality

from .simulation import World, fixed, queueing

MS = 1_000_000


def converge(world: World, seconds: float = 3600, interval_s: float = 16) -> None:
    world.run(seconds, interval_s)
    assert world.clock.quality() is TimeQuality.ESTIMATED


def test_unsynced_until_enough_samples_then_estimated() -> None:
    world = World(agent_ppm=20, config=EstimatorConfig(min_samples=8))
    for _ in range(7):
        world.exchange()
        world.advance(1)
        assert world.clock.quality() is TimeQuality.UNSYNCED
        assert world.clock.wall_ns() == world.base.wall_ns()  # an hour off: not served
        assert world.clock.offset_us() is None and world.clock.uncertainty_us() is None
    world.exchange()
    assert world.clock.quality() is TimeQuality.ESTIMATED
    assert abs(world.error_ns()) < 1 * MS
    offset = world.clock.offset_us()
    assert offset is not None and abs(offset - 3_600_000_000) < 1_000


@pytest.mark.parametrize("ppm", [-100.0, 37.5, 100.0])
def test_drift_is_tracked_over_hours(ppm: float) -> None:
    world = World(agent_ppm=ppm, up=queueing(0.02, 0.005), down=queueing(0.02, 0.005))
    converge(world, seconds=2 * 3600)
    snapshot = world.clock.snapshot()
    assert snapshot.drift_ppm is not None and abs(snapshot.drift_ppm - ppm) < 0.5
    # The agent's wall clock rides the same oscillator here, so it drifts the same way.
    assert snapshot.wall_drift_ppm is not None and abs(snapshot.wall_drift_ppm - ppm) < 0.5
    assert abs(world.error_ns()) < 1 * MS
    assert snapshot.uncertainty_us is not None and snapshot.uncertainty_us * 1000 >= abs(
        world.error_ns())


def test_minimum_rtt_filter_removes_queueing_bias() -> None:
    """A busy uplink queues requests, never replies: averaging all samples is biased by half
    the mean queueing delay; the lowest-delay samples are not."""
    world = World(agent_ppm=10, up=queueing(0.015, 0.030), down=fixed(0.015))
    converge(world, seconds=3600)
    naive_bias = statistics.fmean(s.offset_ns - world.true_offset_ns(s)
                                  for s in world.samples[-64:])
    assert naive_bias > 10 * MS  # the trap is real
    assert abs(world.error_ns()) < 2 * MS  # and the filter avoids it


def test_holdover_keeps_time_because_drift_is_known() -> None:
    world = World(agent_ppm=100, up=queueing(0.02, 0.003), down=queueing(0.02, 0.003))
    converge(world, seconds=3600)
    world.advance(3600)  # the link is down for an hour: 100 ppm would be 360 ms
    error = abs(world.error_ns())
    assert error < 5 * MS
    uncertainty = world.clock.uncertainty_us()
    assert uncertainty is not None and uncertainty * 1000 >= error
    assert world.clock.quality() is TimeQuality.ESTIMATED
    world.advance(4 * 86_400)  # days without a sample: the bound passes 250 ms
    assert world.clock.quality() is TimeQuality.UNSYNCED


def test_uncertainty_bounds_the_error_of_an_asymmetric_path() -> None:
    """No exchange can see a fixed asymmetry; the bound (half the round trip) covers it."""
    world = World(agent_ppm=-30, up=fixed(0.040), down=fixed(0.005))
    converge(world, seconds=1800)
    error = world.error_ns()
    assert abs(error - (40 - 5) * MS // 2) < 100_000  # exactly half the asymmetry
    uncertainty = world.clock.uncertainty_us()
    assert uncertainty is not None and uncertainty * 1000 >= abs(error)


def test_a_small_correction_is_slewed_never_backwards() -> None:
    """A shift larger than the round trip allows is a clock that moved: the estimate restarts
    and the served clock slews to the new estimate at 500 ppm."""
    world = World(agent_ppm=50, up=queueing(0.002, 0.0002), down=queueing(0.002, 0.0002))
    converge(world, seconds=1800)
    world.controller_shift_ns = -20 * MS  # the reference moved back, unannounced
    readings: list[tuple[int, int]] = []
    world.run(300, 4, probe=lambda: readings.append(
        (world.true_ns, world.clock.wall_ns())), probe_every_s=0.25)
    rates = [(w2 - w1) / (t2 - t1) for (t1, w1), (t2, w2) in itertools.pairwise(readings)]
    assert min(rates) > 1 - 600e-6  # slewed at 500 ppm: never a step, never backwards
    assert max(rates) < 1 + 600e-6
    assert abs(world.error_ns()) < 1 * MS  # and the correction was completed
    assert world.clock.snapshot().steps == 0 and world.clock.snapshot().resets == 1


def test_a_controller_step_is_announced_and_stepped() -> None:
    world = World(agent_ppm=-40, up=fixed(0.01), down=fixed(0.01))
    converge(world, seconds=1800)
    world.controller_shift_ns = 2_000 * MS
    world.timebase += 1
    world.exchange()
    snapshot = world.clock.snapshot()
    assert snapshot.steps == 1 and snapshot.resets == 1
    assert abs(world.error_ns()) < 1 * MS
    world.run(120, 4)  # the drift learnt before the step still applies
    assert abs(world.error_ns()) < 1 * MS


def test_the_agents_own_wall_clock_steps_do_not_move_the_estimate() -> None:
    world = World(agent_ppm=5)
    converge(world, seconds=600, interval_s=4)
    before = world.clock.wall_ns()
    offset = world.clock.offset_us()
    world.base.step_wall(-86_400 * 10**9)  # someone ran `date -s` on the Pi
    assert world.clock.wall_ns() == before
    after = world.clock.offset_us()
    assert offset is not None and after is not None and after - offset == 86_400 * 10**6
    world.run(120, 4)
    assert abs(world.error_ns()) < 1 * MS


def test_implausible_samples_are_refused_and_counted() -> None:
    world = World()
    converge(world, seconds=300, interval_s=4)
    mono, t = world.base.monotonic_ns(), world.controller_ns()
    bad = {
        "monotonic_backwards": Sample(mono, mono - 1, 0, t, t),
        "controller_hold": Sample(mono, mono + MS, 0, t, t - 1),
        "negative_delay": Sample(mono, mono + MS, 0, t, t + 50 * MS),
        "too_slow": Sample(mono, mono + 60 * 10**9, 0, t, t),
    }
    for reason, sample in bad.items():
        assert world.clock.add_sample(sample, world.timebase) is False
        assert world.clock.snapshot().rejected[reason] == 1
    assert abs(world.error_ns()) < 1 * MS


def test_a_remembered_drift_shortens_the_next_start() -> None:
    """Before a slope can be fitted, the prior decides: the persisted drift beats zero."""
    config = EstimatorConfig(min_drift_span_s=600)
    errors = {}
    for prior in (0.0, 80.0):
        world = World(agent_ppm=80, config=config, initial_drift_ppm=prior)
        world.run(300, 4)
        world.advance(60)
        errors[prior] = abs(world.error_ns())
    assert errors[80.0] < 0.5 * MS < errors[0.0]


def test_the_exchange_clock_is_a_clock() -> None:
    world = World()
    assert isinstance(world.clock, Clock)
    assert world.clock.monotonic_ns() == world.base.monotonic_ns()
