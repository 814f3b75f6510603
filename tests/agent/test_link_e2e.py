"""The agent's MQTT link against the real Mosquitto: birth, delayed Will, commands, documents."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.state import AgentState
from protocols.acceptance import document_mark_name
from protocols.codec import Decoder
from protocols.envelope import Domain, Signer
from protocols.keys import SigningIdentity
from protocols.messages import (
    AgentConfig,
    Command,
    Death,
    DocVersion,
    Event,
    IntervalClose,
    Reboot,
    RestartService,
    SetVolume,
)
from protocols.topics import AgentChannel, DocKind, agent_topic, document_topic
from tests.support.agent_process import AgentProcess, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble
from tests.support.netem import relay_to

pytestmark = pytest.mark.e2e
S = 10**9


def command(identity: SigningIdentity, commune: str, agent: str, counter: int,
            action: object, *, epoch: int = 1) -> tuple[str, bytes]:
    now = time.time_ns()
    topic = agent_topic(commune, agent, AgentChannel.COMMAND)
    body = Command(counter=counter, agent_id=agent, not_before_ns=now - 60 * S,
                   expires_ns=now + 60 * S, action=action)  # type: ignore[arg-type]
    return topic, Signer(identity, epoch).seal(Domain.COMMAND, topic, body)


def events(double: FleetDouble, agent: str) -> list[Event]:
    found: list[Event] = []
    for journal_id in double.journal_ids(agent):
        found += [r for r in double.records(agent, journal_id).values() if isinstance(r, Event)]
    return found


def test_birth_is_retained_and_its_session_grows_per_connection(
        tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-birth", "ag-b1", identity)
    with FleetDouble(broker, "xa-birth", Signer(identity, 1)) as double:
        process = AgentProcess(agent).start()
        try:
            assert double.wait_for(lambda: len(double.births) >= 1, 15), process.log_text()
            first = double.births[0][2]
            assert first.session == 1 and first.agent_id == "ag-b1"
            assert first.applied == {"trust": DocVersion(1, 1)}
            assert first.software.startswith("loaxa ") and "journal" in first.capabilities
            process.kill9()
            process.start()
            assert double.wait_for(lambda: len(double.births) >= 2, 15)
            second = double.births[1][2]
            assert second.session > first.session
            assert second.journal_id == first.journal_id  # same journal across restarts
        finally:
            process.terminate()
    with broker.client("ctl-xa-birth") as late:  # a controller that starts later
        late.subscribe(agent_topic("xa-birth", "ag-b1", AgentChannel.BIRTH))
        retained = late.expect(timeout=5)
        assert retained.retain


def test_a_hiccup_shorter_than_the_will_delay_does_not_flap_but_a_death_does(
        tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    with relay_to(broker.port) as relay:
        agent = provision(broker, tmp_path, "xa-will", "ag-w1", identity, port=relay.port)
        process = AgentProcess(agent)
        process.settings.update(broker__will_delay_s="3", broker__keepalive_s="5")
        with FleetDouble(broker, "xa-will", Signer(identity, 1)) as double:
            process.start()
            try:
                assert double.wait_for(lambda: len(double.births) >= 1, 15)
                relay.reset_connections()  # a 4G router hiccup: the TCP connection dies
                assert double.wait_for(lambda: len(double.births) >= 2, 10)
                time.sleep(4.0)  # longer than the Will delay
                assert double.deaths == [], "a short hiccup flapped the agent offline"
                session = double.births[-1][2].session
                process.kill9()  # a real death: the Will comes, after its delay
                killed = time.monotonic()
                assert double.wait_for(lambda: len(double.deaths) >= 1, 15)
                arrived, _agent, death, _retained = double.deaths[0]
                assert death.session == session
                assert arrived - killed >= 2.5  # held back by the broker for the delay
            finally:
                process.kill9()
    with broker.client("ctl-xa-will") as late:  # the Will is retained for later readers
        late.subscribe(agent_topic("xa-will", "ag-w1", AgentChannel.DEATH))
        message = late.expect(timeout=5)
        assert message.retain and Decoder[Death]("death", Death, 256).decode(
            message.payload) == Death("ag-w1", session)


def test_commands_are_verified_journalled_and_acted_on(tmp_path: Path,
                                                       broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    stranger = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-cmd", "ag-c1", identity)
    flag = tmp_path / "rebooted"
    process = AgentProcess(agent)
    process.settings["commands__reboot"] = f"/usr/bin/touch {flag}"
    with FleetDouble(broker, "xa-cmd", Signer(identity, 1)) as double:
        process.start()
        try:
            assert double.wait_for(lambda: len(double.births) >= 1, 15)
            # A forged command (unknown key) and a replayed one are refused, not run.
            double.client.publish(*command(stranger, "xa-cmd", "ag-c1", 1, SetVolume(level=5)),
                                  qos=1)
            double.client.publish(*command(identity, "xa-cmd", "ag-c1", 2,
                                           SetVolume(level=65)), qos=1)
            double.client.publish(*command(identity, "xa-cmd", "ag-c1", 2,
                                           SetVolume(level=10)), qos=1)
            double.client.publish(*command(identity, "xa-cmd", "ag-c1", 3, Reboot()), qos=1)
            assert double.wait_for(lambda: any(
                hb.volume == 65 for _t, hb in double.heartbeats_of("ag-c1")), 15)
            assert double.wait_for(lambda: {"cmd-volume", "cmd-reboot"} <= {
                e.code for e in events(double, "ag-c1")}, 15)
            assert [e.detail for e in events(double, "ag-c1") if e.code == "cmd-volume"] == \
                ["65"]
            deadline = time.monotonic() + 10
            while not flag.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert flag.exists(), "the reboot hook did not run"
            assert double.wait_for(lambda: any(
                t.rejected.get("cmd/unknown_key") == 1 and t.rejected.get("cmd/replayed") == 1
                for _at, _a, t in double.telemetry), 15), double.telemetry[-1:]
            assert process.alive
            # Restart: the agent stops cleanly (systemd's Restart=always brings it back).
            double.client.publish(*command(identity, "xa-cmd", "ag-c1", 4, RestartService()),
                                  qos=1)
            assert process.wait_exit(15) == 0
        finally:
            process.kill9()


def test_documents_are_stored_committed_and_applied(tmp_path: Path,
                                                    broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-doc", "ag-d1", identity)
    topic = document_topic("xa-doc", DocKind.CONFIG, "ag-d1")
    config = AgentConfig(version=4, issued_ns=time.time_ns(), heartbeat_s=5, volume=55)
    with FleetDouble(broker, "xa-doc", Signer(identity, 1)) as double:
        # Retained before the agent exists: it arrives when the agent subscribes.
        double.client.publish(topic, Signer(identity, 1).seal(Domain.DOCUMENT, topic, config),
                              qos=1, retain=True).wait_for_publish(5)
        process = AgentProcess(agent).start()
        try:
            assert double.wait_for(lambda: any(
                hb.volume == 55 for _t, hb in double.heartbeats_of("ag-d1")), 15)
            assert double.wait_for(lambda: any(
                e.code == "doc-applied" for e in events(double, "ag-d1")), 10)
            count = len(double.heartbeats_of("ag-d1"))
            time.sleep(3.0)  # the document's heartbeat_s=5 replaced the test's 1 s
            assert len(double.heartbeats_of("ag-d1")) - count <= 1
            assert process.terminate() == 0
        finally:
            process.kill9()
    state = AgentState(agent.data_dir / "state.db")
    try:
        assert state.get(document_mark_name("config")) == DocVersion(1, 4)
        stored = state.document("config")
        assert stored is not None and stored[0] == DocVersion(1, 4)
    finally:
        state.close()


def test_a_clean_stop_closes_the_interval_and_publishes_death(tmp_path: Path,
                                                              broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-stop", "ag-s1", identity)
    with FleetDouble(broker, "xa-stop", Signer(identity, 1)) as double:
        process = AgentProcess(agent).start()
        assert double.wait_for(lambda: len(double.heartbeats) >= 2, 15)
        session = double.births[-1][2].session
        assert process.terminate() == 0
        assert double.wait_for(lambda: len(double.deaths) >= 1, 5)  # at once, no delay
        assert double.deaths[0][2].session == session
        (journal_id,) = double.journal_ids("ag-s1")
        assert double.wait_for(lambda: any(
            isinstance(r, IntervalClose) for r in double.records("ag-s1", journal_id).values()),
            10)
        closes = [r for r in double.records("ag-s1", journal_id).values()
                  if isinstance(r, IntervalClose)]
        assert [c.reason.name for c in closes] == ["STOPPED"]


def test_hostile_input_is_refused_counted_and_survived(tmp_path: Path,
                                                       broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    agent = provision(broker, tmp_path, "xa-junk", "ag-j1", identity)
    topics = [agent_topic("xa-junk", "ag-j1", AgentChannel.COMMAND),
              agent_topic("xa-junk", "ag-j1", AgentChannel.ACK),
              document_topic("xa-junk", DocKind.PLAN, "ag-j1"),
              document_topic("xa-junk", DocKind.TRUST)]
    junk = [b"", b"\xc1", b"\x93\x01\x02\x03", b"\xff" * 3000, bytes(range(256)) * 40,
            b"\x94\x01\xa5kxxxx\xc4\x40" + bytes(64) + b"\xc4\x00"]
    with FleetDouble(broker, "xa-junk", Signer(identity, 1)) as double:
        process = AgentProcess(agent).start()
        try:
            assert double.wait_for(lambda: len(double.births) >= 1, 15)
            for topic in topics:
                for payload in junk:
                    double.client.publish(topic, payload, qos=1)
            assert double.wait_for(lambda: any(
                sum(t.rejected.values()) >= len(topics) * len(junk)
                for _at, _a, t in double.telemetry), 15), double.telemetry[-1:]
            count = len(double.heartbeats_of("ag-j1"))
            # Still alive and still obeying its controller: the positive control.
            double.client.publish(*command(identity, "xa-junk", "ag-j1", 1,
                                           SetVolume(level=42)), qos=1)
            assert double.wait_for(lambda: any(
                hb.volume == 42 for _t, hb in double.heartbeats_of("ag-j1")), 10)
            assert len(double.heartbeats_of("ag-j1")) > count and process.alive
            assert "Traceback" not in process.log_text()
        finally:
            assert process.terminate() == 0
