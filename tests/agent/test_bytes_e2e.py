"""Control-plane bytes on the wire, counted as TCP payload both ways at the relay.

Each cost (a heartbeat with and without a topic alias, a keepalive ping, a journal batch
with its signed ack) is measured in isolation over a few seconds of sped-up clocks, then
extrapolated to a day of an idle agent on the production defaults: a heartbeat a minute,
a keepalive ping every two minutes, an interval extension every five minutes sent in
batches after lingering ten minutes. Target: <= 300 KB/day (issue 4).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from protocols.envelope import Signer
from protocols.keys import SigningIdentity
from tests.support.agent_process import AgentProcess, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble
from tests.support.netem import Relay, relay_to

pytestmark = pytest.mark.e2e
DAY = 86_400
QUIET = {"heartbeat__interval_s": "3600", "heartbeat__telemetry_min_s": "3600",
         "journal__extend_s": "3600", "broker__keepalive_s": "900", "journal__linger_s": "0"}


def measure(broker: RunningBroker, tmp_path: Path, name: str, settings: dict[str, str],
            window_s: float, count: str) -> tuple[float, int]:
    """Bytes per event of kind ``count`` over ``window_s`` once the agent has settled."""
    identity = SigningIdentity.generate()
    commune = f"xa-bytes-{name}"
    with relay_to(broker.port) as relay:
        agent = provision(broker, tmp_path / name, commune, f"ag-{name}", identity,
                          port=relay.port)
        process = AgentProcess(agent)
        process.settings.update({**QUIET, **settings})
        with FleetDouble(broker, commune, Signer(identity, 1)) as double:
            process.start()
            try:
                assert double.wait_for(lambda: len(double.births) >= 1 and
                                       len(double.telemetry) >= 1, 20), process.log_text()
                time.sleep(1.5)  # subscriptions, the first batch and telemetry settle
                before = _snapshot(relay, double, count)
                time.sleep(window_s)
                after = _snapshot(relay, double, count)
            finally:
                process.kill9()
    events = 1 if count == "window" else after[1] - before[1]
    assert events > 0, f"no {count} in the window"
    return (after[0] - before[0]) / events, events


def _snapshot(relay: Relay, double: FleetDouble, count: str) -> tuple[int, int]:
    total = relay.bytes_up + relay.bytes_down
    if count == "heartbeats":
        return total, len(double.heartbeats)
    if count == "batches":
        return total, len(double.batches)
    return total, 0  # "window": bytes for the whole window


def test_an_idle_agent_stays_under_300_kb_a_day(tmp_path: Path, broker: RunningBroker) -> None:
    aliased, n1 = measure(broker, tmp_path, "alias", {"heartbeat__interval_s": "0.25"}, 3.0,
                          "heartbeats")
    plain, n2 = measure(broker, tmp_path, "plain", {"heartbeat__interval_s": "0.25",
                                                    "broker__topic_alias": "false"}, 3.0,
                        "heartbeats")
    batch, n3 = measure(broker, tmp_path, "batch", {"journal__extend_s": "0.3"}, 3.0,
                        "batches")
    window, _ = measure(broker, tmp_path, "ping", {"broker__keepalive_s": "1"}, 4.0, "window")
    ping = window / 4.0  # one PINGREQ/PINGRESP exchange per second of keepalive
    per_day = (DAY / 60) * aliased + (DAY / 120) * ping + (DAY / 600) * (batch + 60)
    print(f"\nbytes on the wire (TCP payload, both directions):\n"
          f"  heartbeat with topic alias  {aliased:6.1f} B  ({n1} heartbeats)\n"
          f"  heartbeat, full topic       {plain:6.1f} B  ({n2} heartbeats)\n"
          f"  journal batch + signed ack  {batch:6.1f} B  ({n3} batches of 1 extension)\n"
          f"  keepalive ping exchange     {ping:6.1f} B\n"
          f"  idle day on the defaults    {per_day / 1000:6.1f} KB")
    assert aliased < plain - 20  # the alias saves the topic on every heartbeat
    assert aliased < 150 and batch < 600 and ping < 80
    assert per_day <= 300_000


def test_telemetry_is_sent_on_change_only(tmp_path: Path, broker: RunningBroker) -> None:
    from protocols.envelope import Domain
    from protocols.messages import Command, SetVolume
    from protocols.topics import AgentChannel, agent_topic

    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-telem", "ag-t1", identity)
    process = AgentProcess(agent)
    process.settings.update(heartbeat__interval_s="0.3", heartbeat__telemetry_min_s="0.2",
                            journal__extend_s="0.2")  # batches flow all the time
    with FleetDouble(broker, "xa-telem", Signer(identity, 1)) as double:
        process.start()
        try:
            assert double.wait_for(lambda: len(double.telemetry) >= 1, 15)
            time.sleep(3.0)
            if len(double.telemetry) != 1:
                first, second = double.telemetry[0][2], double.telemetry[1][2]
                differs = {f: (getattr(first, f), getattr(second, f))
                           for f in first.__struct_fields__
                           if getattr(first, f) != getattr(second, f)}
                raise AssertionError(f"telemetry re-sent; fields that moved: {differs}")
            assert len(double.batches) >= 5 and len(double.heartbeats) >= 5
            topic = agent_topic("xa-telem", "ag-t1", AgentChannel.COMMAND)
            now = time.time_ns()
            double.client.publish(topic, Signer(identity, 1).seal(Domain.COMMAND, topic, Command(
                counter=1, agent_id="ag-t1", not_before_ns=now - 10**9,
                expires_ns=now + 60 * 10**9, action=SetVolume(level=33))), qos=1)
            assert double.wait_for(lambda: len(double.telemetry) == 2, 10)  # a real change
            assert double.telemetry[-1][2].volume == 33
        finally:
            process.terminate()
