"""The generated broker configuration, against a real Mosquitto: TLS, auth and ACL."""

from __future__ import annotations

import queue
import socket
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from controller.broker.accounts import Role
from protocols.mqtt import tls_context
from protocols.topics import AgentChannel, DocKind, agent_topic, document_topic
from tests.support.broker import RunningBroker

pytestmark = pytest.mark.e2e

COMMUNE = "xa-a"
OTHER_COMMUNE = "xa-b"


@pytest.fixture(scope="module", autouse=True)
def accounts(broker: RunningBroker) -> None:
    broker.add("ctl-xa-a", Role.CONTROLLER, COMMUNE)
    broker.add("ctl-xa-b", Role.CONTROLLER, OTHER_COMMUNE)
    broker.add("ag-1", Role.AGENT, COMMUNE)
    broker.add("ag-2", Role.AGENT, COMMUNE)


def nothing_arrives(client, within: float = 0.5) -> bool:
    try:
        message = client.expect(timeout=within)
    except queue.Empty:
        return True
    raise AssertionError(f"unexpected message on {message.topic}")


def test_right_credentials_connect(broker: RunningBroker) -> None:
    with broker.client("ag-1") as client:
        assert client.connected.wait(5), client.connect_reason


def test_wrong_password_is_refused(broker: RunningBroker) -> None:
    with broker.client("ag-1", password="not-the-password") as client:
        assert client.disconnected.wait(5)
        assert not client.connected.is_set()
        assert client.connect_reason is not None and client.connect_reason.is_failure


def test_unknown_user_is_refused(broker: RunningBroker) -> None:
    with broker.client("ag-999", password="whatever") as client:
        assert client.disconnected.wait(5)
        assert not client.connected.is_set()


def connect_over_tls(broker: RunningBroker, username: str | None) -> Any:
    """A TLS MQTT 5 CONNECT, with no username at all when ``username`` is None; returns
    the CONNACK's reason code."""
    outcome: queue.Queue[Any] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-anon-{username}",
                         protocol=mqtt.MQTTv5)
    client.tls_set_context(tls_context(broker.ca_pem))
    if username is not None:
        client.username_pw_set(username, broker.credentials[username].password)
    client.on_connect = lambda _c, _u, _f, reason, _p: outcome.put(reason)
    client.on_connect_fail = lambda _c, _u: outcome.put("connection failed")
    client.connect("127.0.0.1", broker.port, keepalive=30)
    client.loop_start()
    try:
        return outcome.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_anonymous_connection_is_refused(broker: RunningBroker) -> None:
    """A CONNECT carrying no username over valid TLS: the broker answers, and refuses."""
    reason = connect_over_tls(broker, None)
    assert not isinstance(reason, str), reason
    # Not authorized (0x87) from Mosquitto 2.0; bad user name or password (0x86) is as good.
    assert reason.is_failure and reason.value in (0x86, 0x87), reason
    # Positive control: the same client, with an account's credentials, is let in.
    accepted = connect_over_tls(broker, "ag-1")
    assert not isinstance(accepted, str) and not accepted.is_failure, accepted


def test_plain_text_connection_is_refused(broker: RunningBroker) -> None:
    """An MQTT CONNECT sent without TLS never gets a CONNACK."""
    connect = bytes([0x10, 0x10, 0x00, 0x04]) + b"MQTT" + bytes(
        [0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x03]) + b"abc"
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
        sock.sendall(connect)
        sock.settimeout(5)
        try:
            reply = sock.recv(64)
        except (ConnectionResetError, TimeoutError):
            reply = b""
    assert not reply.startswith(b"\x20"), "the broker answered a plain-text CONNECT"


def test_agent_writes_only_under_its_own_topics(broker: RunningBroker) -> None:
    with broker.client("ctl-xa-a") as controller, broker.client("ag-1") as agent:
        assert controller.connected.wait(5) and agent.connected.wait(5)
        controller.subscribe(f"loaxa/v1/{COMMUNE}/#")
        forged = agent_topic(COMMUNE, "ag-2", AgentChannel.HEARTBEAT)
        agent.publish(forged, b"forged", qos=1)
        own = agent_topic(COMMUNE, "ag-1", AgentChannel.HEARTBEAT)
        agent.publish(own, b"mine", qos=1)
        # Per-session order is preserved, so had the forgery passed it would come first.
        first = controller.expect(timeout=5)
        assert (first.topic, first.payload) == (own, b"mine")
        nothing_arrives(controller)


@pytest.mark.parametrize("topic", [
    agent_topic(COMMUNE, "ag-1", AgentChannel.COMMAND),
    agent_topic(COMMUNE, "ag-1", AgentChannel.ACK),
    document_topic(COMMUNE, DocKind.PLAN, "ag-1"),
    document_topic(COMMUNE, DocKind.TRUST),
    document_topic(COMMUNE, DocKind.EMERGENCY),
    agent_topic(COMMUNE, "ag-2", AgentChannel.COMMAND),
])
def test_agent_cannot_publish_documents_or_commands(broker: RunningBroker, topic: str) -> None:
    with broker.client("ctl-xa-a") as controller, broker.client("ag-1") as agent:
        assert controller.connected.wait(5) and agent.connected.wait(5)
        controller.subscribe(f"loaxa/v1/{COMMUNE}/#")
        agent.publish(topic, b"evil", qos=1, retain=True)
        marker = agent_topic(COMMUNE, "ag-1", AgentChannel.HEARTBEAT)
        agent.publish(marker, b"marker", qos=1)
        assert controller.expect(timeout=5).topic == marker
        nothing_arrives(controller)
    # Nothing was retained either: a fresh subscriber sees no forged document.
    with broker.client("ctl-xa-a") as later:
        assert later.connected.wait(5)
        later.subscribe(topic)
        nothing_arrives(later)


def test_agent_cannot_read_another_agents_topics(broker: RunningBroker) -> None:
    """Mosquitto grants the subscription but filters delivery by the read ACL."""
    with broker.client("ctl-xa-a") as controller, broker.client("ag-1") as agent:
        assert controller.connected.wait(5) and agent.connected.wait(5)
        agent.subscribe(f"loaxa/v1/{COMMUNE}/agent/+/cmd")
        controller.publish(agent_topic(COMMUNE, "ag-2", AgentChannel.COMMAND), b"for-2")
        controller.publish(agent_topic(COMMUNE, "ag-1", AgentChannel.COMMAND), b"for-1")
        assert agent.expect(timeout=5).payload == b"for-1"
        nothing_arrives(agent)


def test_controller_of_one_commune_cannot_command_another(broker: RunningBroker) -> None:
    with broker.client("ctl-xa-b") as stranger, broker.client("ag-1") as agent:
        assert stranger.connected.wait(5) and agent.connected.wait(5)
        agent.subscribe(agent_topic(COMMUNE, "ag-1", AgentChannel.COMMAND))
        stranger.publish(agent_topic(COMMUNE, "ag-1", AgentChannel.COMMAND), b"evil", qos=1)
        nothing_arrives(agent)


def test_controller_can_command_its_agents(broker: RunningBroker) -> None:
    with broker.client("ctl-xa-a") as controller, broker.client("ag-1") as agent:
        assert controller.connected.wait(5) and agent.connected.wait(5)
        topic = agent_topic(COMMUNE, "ag-1", AgentChannel.COMMAND)
        agent.subscribe(topic)
        controller.publish(topic, b"signed-command", qos=1)
        assert agent.expect(timeout=5).payload == b"signed-command"


def test_revoked_agent_loses_access_at_once(broker: RunningBroker) -> None:
    broker.add("ag-rev", Role.AGENT, COMMUNE)
    password = broker.credentials["ag-rev"].password
    with broker.client("ag-rev") as agent:
        assert agent.connected.wait(5)
        broker.remove("ag-rev")
        # Mosquitto re-checks connected clients on reload and drops this one.
        assert agent.disconnected.wait(5), "revoked agent still connected"
    time.sleep(0.2)
    with broker.client("ag-rev", password=password) as again:
        assert again.disconnected.wait(5)
        assert not again.connected.is_set()


def test_accounts_added_in_quick_succession_are_all_let_in(broker: RunningBroker) -> None:
    """Each change rewrites the files and asks for a reload, with no pause between: a
    SIGHUP that reached Mosquitto during the previous reload was lost, and the accounts
    written for it were refused until some later change."""
    names = [f"ag-burst-{n}" for n in range(12)]
    for name in names:
        broker.add(name, Role.AGENT, COMMUNE)
    for name in names:
        with broker.client(name) as client:
            assert client.connected.wait(10), (name, client.connect_reason)
