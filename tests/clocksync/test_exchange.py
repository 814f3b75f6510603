"""End to end over real sockets: offsets and drift injected underneath the agent.

The agent's base clock is a ``SkewedClock`` (its wall clock half a second off and
drifting 100 ppm) — optionally over a ``RateClock`` whose oscillator runs fast — talking
to the real time service over CURVE on loopback, through the userspace relay with delay
and jitter, or through an asymmetric forwarder. Bounds are loose for a loaded 2-core CI
machine; the tight figures are in ``bench/bench_clocksync.py``.
"""

from __future__ import annotations

import statistics
import time

import pytest

from agent.clocksync import ClockSyncClient, EstimatorConfig
from protocols.clock import SkewedClock, SystemClock
from protocols.timefields import TimeQuality
from tests.support.netem import relay_to

from .asymmetric import AsymmetricRelay
from .clocks import RateClock
from .support import KeySet, new_identity, sync_client, time_service, wait_until

MS = 1_000_000


def errors_ns(client: ClockSyncClient, controller: SystemClock, seconds: float) -> list[int]:
    """The served clock minus the controller's, read side by side for a while."""
    found = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = controller.wall_ns()
        served = client.clock.wall_ns()
        after = controller.wall_ns()
        if after - before < 200_000:  # else this thread was preempted: not a clock reading
            found.append(served - (before + after) // 2)
        time.sleep(0.05)
    assert len(found) >= 5
    return found


@pytest.mark.parametrize(("offset_ms", "drift_ppm"), [(500, -100.0), (-500, 100.0)])
def test_loopback_estimate_matches_the_controller(offset_ms: int, drift_ppm: float) -> None:
    agent = new_identity()
    controller = SystemClock(trust="always")
    base = SkewedClock(SystemClock(trust="never"), offset_ns=offset_ms * MS,
                       drift_ppm=drift_ppm, quality=TimeQuality.UNSYNCED)
    with time_service(controller, KeySet(agent.public_key)) as service, \
            sync_client(service.port, service, agent, base) as client:
        assert client.clock.quality() is TimeQuality.UNSYNCED
        assert wait_until(lambda: client.clock.quality() is TimeQuality.ESTIMATED)
        errors = errors_ns(client, controller, 1.5)
        assert max(abs(e) for e in errors) <= 5 * MS
        snapshot = client.clock.snapshot()
    assert snapshot.offset_us is not None and abs(snapshot.offset_us + offset_ms * 1000) <= 5000
    assert snapshot.uncertainty_us is not None and 0 < snapshot.uncertainty_us <= 5000
    assert snapshot.min_rtt_us is not None and snapshot.min_rtt_us > 0
    assert client.stats()["accepted"] >= 8


def test_drift_is_tracked_over_real_sockets() -> None:
    """The agent's oscillator runs 150 ppm fast and its wall clock drifts 100 ppm more."""
    agent = new_identity()
    controller = SystemClock(trust="always")
    base = SkewedClock(RateClock(150.0), offset_ns=-500 * MS, drift_ppm=100.0,
                       quality=TimeQuality.UNSYNCED)
    config = EstimatorConfig(window=128, min_drift_span_s=4.0)
    with time_service(controller, KeySet(agent.public_key)) as service, \
            sync_client(service.port, service, agent, base, config=config) as client:
        assert wait_until(lambda: client.clock.drift_ppm() is not None, timeout_s=20)
        time.sleep(4)  # a longer span for the slope
        snapshot = client.clock.snapshot()
        errors = errors_ns(client, controller, 1.0)
    assert snapshot.drift_ppm is not None and abs(snapshot.drift_ppm - 150) <= 30
    # The wall clock: 150 ppm from the oscillator plus 100 ppm of its own.
    assert snapshot.wall_drift_ppm is not None and abs(snapshot.wall_drift_ppm - 250) <= 30
    assert max(abs(e) for e in errors) <= 5 * MS


def test_through_the_relay_with_delay_and_jitter() -> None:
    """10 ms each way plus up to 10 ms of jitter per chunk: the lowest-delay samples carry
    almost no jitter, so the error stays well inside half the jitter."""
    agent = new_identity()
    controller = SystemClock(trust="always")
    base = SkewedClock(SystemClock(trust="never"), offset_ns=500 * MS, drift_ppm=-100.0)
    with time_service(controller, KeySet(agent.public_key)) as service, \
            relay_to(service.port, delay_s=0.010, jitter_s=0.010) as relay, \
            sync_client(relay.port, service, agent, base) as client:
        assert wait_until(lambda: client.clock.samples >= 40, timeout_s=30)
        errors = errors_ns(client, controller, 1.5)
        uncertainty = client.clock.uncertainty_us()
    assert client.clock.quality() is TimeQuality.ESTIMATED
    worst = max(abs(e) for e in errors)
    assert worst <= 5 * MS + 2 * MS  # half the jitter, plus a loaded machine's share
    assert uncertainty is not None and worst <= uncertainty * 1000 + 1 * MS
    assert relay.bytes_up > 0 and relay.bytes_down > 0  # it really went through the relay


def test_an_asymmetric_path_costs_half_the_asymmetry_and_stays_within_the_bound() -> None:
    """12 ms up, 2 ms down: no exchange can see that, so the estimate runs 5 ms ahead —
    exactly what the NTP formula predicts — and the reported uncertainty covers it."""
    agent = new_identity()
    controller = SystemClock(trust="always")
    base = SkewedClock(SystemClock(trust="never"), offset_ns=-500 * MS, drift_ppm=100.0)
    with time_service(controller, KeySet(agent.public_key)) as service, \
            AsymmetricRelay(service.port, up_delay_s=0.012, down_delay_s=0.002) as relay, \
            sync_client(relay.port, service, agent, base) as client:
        assert wait_until(lambda: client.clock.samples >= 20, timeout_s=30)
        errors = errors_ns(client, controller, 1.0)
        uncertainty = client.clock.uncertainty_us()
    bias = statistics.median(errors)
    assert abs(bias - 5 * MS) <= 2 * MS
    assert uncertainty is not None and max(abs(e) for e in errors) <= uncertainty * 1000
