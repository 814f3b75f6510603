"""An agent process whose time comes from the controller's clock exchange.

The controller's time service runs here with its clock 2.5 s ahead of this machine's (an
offset injected on the controller side), behind a userspace relay; the agent process runs
with ``[clock] source = "exchange"`` on the machine's own clock. It must converge on the
controller's time, stamp its journal and heartbeats with it (``ESTIMATED``), and report
the offset of its own clock and the error bound in heartbeats and retained telemetry.
Then it is restarted while the time service is unreachable: it restores the estimate it
saved (same kernel boot) and keeps the controller's time from its first heartbeat.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq
import zmq.utils.z85

from agent.enroll import KEY_FILE
from agent.identity import load_or_create_identity
from controller.dataplane.time_service import TimeService
from protocols.clock import SkewedClock, SystemClock
from protocols.envelope import Signer
from protocols.keys import SigningIdentity
from protocols.messages import ClockSource, Heartbeat
from protocols.timefields import TimeQuality
from tests.support.agent_process import FAST, AgentProcess, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble
from tests.support.netem import relay_to

pytestmark = pytest.mark.e2e

OFFSET_NS = 2_500_000_000  # the controller's clock runs this far ahead of the box's
OFFSET_US = OFFSET_NS // 1000
TOLERANCE_US = 50_000  # loopback on a loaded machine; the estimate is far better


MS = 1_000_000


def boottime() -> int:
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def mapping(beat: Heartbeat) -> int:
    return beat.stamp.wall_ns - beat.stamp.mono_ns


def beats_of(double: FleetDouble, agent_id: str, since: float) -> list[Heartbeat]:
    return [hb for at, agent, hb in list(double.heartbeats) if agent == agent_id and at >= since]


def test_an_agent_process_follows_the_controllers_clock_and_reports_it(
        tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-clk", "ag-clk1", identity)
    device = load_or_create_identity(agent.data_dir / KEY_FILE)
    controller = SkewedClock(SystemClock(trust="always"), offset_ns=OFFSET_NS)
    _public, secret = zmq.curve_keypair()
    service = TimeService(controller, secret, lambda key: key == device.public_key,
                          endpoint="tcp://127.0.0.1:0").start()
    try:
        with relay_to(service.port) as relay, \
                FleetDouble(broker, "xa-clk", Signer(identity, 1)) as double:
            settings = {**FAST, "clock__source": "exchange", "clock__burst_s": "0.05",
                        "clock__poll_min_s": "0.2", "clock__poll_max_s": "0.8",
                        "data_plane__server_key": zmq.utils.z85.encode(
                            service.public_key).decode(),
                        "data_plane__clock_endpoint": f"tcp://127.0.0.1:{relay.port}"}
            process = AgentProcess(agent, settings=settings).start()
            try:
                assert double.wait_for(lambda: any(
                    t.clock_source is ClockSource.EXCHANGE and t.clock_offset_us is not None
                    for at, a, t in double.telemetry), 30), process.log_text()[-3000:]
                offset, bound = next((t.clock_offset_us, t.clock_uncertainty_us)
                                     for _at, _a, t in reversed(double.telemetry)
                                     if t.clock_offset_us is not None)
                assert offset is not None and abs(offset - OFFSET_US) < TOLERANCE_US
                assert bound is not None and 0 < bound < 250_000
                # Heartbeats are stamped with the controller's time, not the box's.
                since = time.monotonic()
                assert double.wait_for(lambda: len(beats_of(double, agent.agent_id, since))
                                       >= 2, 20)
                beat = beats_of(double, agent.agent_id, since)[-1]
                assert beat.clock_source is ClockSource.EXCHANGE
                assert beat.clock_offset_us is not None
                assert abs(beat.clock_offset_us - OFFSET_US) < TOLERANCE_US
                assert beat.stamp.quality is TimeQuality.ESTIMATED
                # wall - monotonic of the stamp is the controller's, not this machine's
                # (the agent's monotonic clock is this machine's CLOCK_BOOTTIME).
                assert abs(mapping(beat) - (controller.wall_ns() - boottime())) < 50 * MS
                assert service.stats()["served"] >= 8  # the start burst, at least
                # Restarted while the controller cannot be reached: the estimate saved at
                # the stop is restored (same boot), so time stays trusted.
                relay.partition("reset")
                assert process.terminate() == 0
                process.start()
                process.wait_started()
                since = time.monotonic()
                assert double.wait_for(lambda: len(beats_of(double, agent.agent_id, since))
                                       >= 1, 20), process.log_text()[-3000:]
                first = beats_of(double, agent.agent_id, since)[0]
                assert first.stamp.quality is TimeQuality.ESTIMATED, first
                assert abs(mapping(first) - (controller.wall_ns() - boottime())) < 50 * MS
                assert first.clock_offset_us is not None
                assert abs(first.clock_offset_us - OFFSET_US) < TOLERANCE_US
                assert "clock estimate restored" in process.log_text()
            finally:
                process.kill9()
    finally:
        service.stop()
    assert "Traceback" not in process.log_text()
