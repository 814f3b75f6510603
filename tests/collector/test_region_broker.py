"""The regional broker loaxa generates: each commune's bridge account may write only its
own batches and read only its own acks; the collector reads every batch and writes
acks, and cannot forge a commune's batch (real Mosquitto, TLS, generated ACL)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.broker.accounts import Role, new_password
from controller.broker.bridge import Bridge, render_bridge, render_region_acl, write_region_broker
from controller.broker.files import BrokerLayout, ListenerSettings
from controller.broker.process import MosquittoProcess
from tests.support.broker import Credentials, RecordingClient, RunningBroker
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    layout = BrokerLayout(tmp_path_factory.mktemp("region"))
    port = free_port()
    passwords = {"xa-a": new_password(), "xa-b": new_password()}
    collector = new_password()
    write_region_broker(layout, ListenerSettings(port=port), passwords, collector)
    process = MosquittoProcess(layout, port)
    process.start()
    broker = RunningBroker(layout, process)
    broker.credentials = {
        "collector": Credentials("collector", collector, Role.COLLECTOR, "xa-a"),
        **{f"bridge-{c}": Credentials(f"bridge-{c}", p, Role.CONTROLLER, c)
           for c, p in passwords.items()}}
    yield broker
    process.stop()


def received(client: RecordingClient, timeout: float = 1.5) -> list[tuple[str, bytes]]:
    found = []
    while True:
        try:
            message = client.expect(timeout)
        except queue.Empty:
            return found
        found.append((message.topic, bytes(message.payload)))
        timeout = 0.3


def test_bridges_and_collector_are_confined(region: RunningBroker) -> None:
    with region.client("collector") as collector, region.client("bridge-xa-a") as bridge_a, \
            region.client("bridge-xa-b") as bridge_b:
        for client in (collector, bridge_a, bridge_b):
            assert client.connected.wait(5)
        collector.subscribe("loaxa/v1/+/collect/batch")
        bridge_a.subscribe("loaxa/v1/+/collect/ack")
        bridge_b.subscribe("loaxa/v1/xa-b/collect/ack")
        bridge_a.publish("loaxa/v1/xa-b/collect/batch", b"forged by xa-a")  # denied
        collector.publish("loaxa/v1/xa-a/collect/batch", b"forged by the collector")  # denied
        bridge_a.publish("loaxa/v1/xa-a/collect/batch", b"batch of xa-a")  # allowed
        assert received(collector) == [("loaxa/v1/xa-a/collect/batch", b"batch of xa-a")]
        collector.publish("loaxa/v1/xa-b/collect/ack", b"ack for xa-b")
        collector.publish("loaxa/v1/xa-a/collect/ack", b"ack for xa-a")
        # xa-a subscribed to every commune's acks, but the ACL gives it only its own.
        assert received(bridge_a) == [("loaxa/v1/xa-a/collect/ack", b"ack for xa-a")]
        assert received(bridge_b) == [("loaxa/v1/xa-b/collect/ack", b"ack for xa-b")]


def test_wrong_password_is_refused(region: RunningBroker) -> None:
    with region.client("bridge-xa-a", password="not-the-password") as client:
        assert client.disconnected.wait(5)
        assert not client.connected.is_set()


def test_rendered_bridge_and_acl() -> None:
    text = render_bridge(Bridge("xa-a", "region.example", 8883, "s3cret",
                                Path("/etc/loaxa/region-ca.crt")))
    lines = set(text.splitlines())
    assert {"connection loaxa-region-xa-a", "address region.example:8883",
            "bridge_protocol_version mqttv50", "bridge_cafile /etc/loaxa/region-ca.crt",
            "bridge_insecure false", "remote_username bridge-xa-a", "remote_password s3cret",
            "cleansession false",
            "topic collect/batch out 1 loaxa/v1/xa-a/ loaxa/v1/xa-a/",
            "topic collect/ack in 1 loaxa/v1/xa-a/ loaxa/v1/xa-a/"} <= lines
    acl = render_region_acl(["xa-b", "xa-a"])
    assert acl.index("user bridge-xa-a") < acl.index("user bridge-xa-b")
    assert "topic write loaxa/v1/+/collect/ack" in acl
    with pytest.raises(ValueError):
        render_bridge(Bridge("XA A", "h", 1, "p", Path("ca")))
