"""Enrolment end to end over real sockets: the ZeroMQ enrolment service (CURVE, ZAP),
the agent's own claim code, a real Mosquitto whose accounts come from the registry, and
revocation that drops the agent from the broker at once and from the data plane at its
next handshake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.enroll import EnrolmentError
from agent.enroll import claim as agent_claim
from agent.identity import CurveIdentity
from controller.dataplane.enrol_service import TokenBucket
from controller.storage.tables.registry import Agent, AgentStatus
from protocols.codec import encode
from protocols.enrolment import ClaimGranted, ClaimRefused, RefusalReason

from .enrolment_rig import MqttProbe, Rig, enrolment_rig
from .kit import SYSTEM

pytestmark = pytest.mark.e2e


@pytest.fixture
def rig(db_url: str, tmp_path: Path) -> Iterator[Rig]:
    with enrolment_rig(db_url, tmp_path) as running:
        yield running


def test_claim_connect_revoke(rig: Rig) -> None:
    issued = rig.kit.services.codes.issue(rig.kit.who("tech-a"), "xa-a", cluster="c-thon-a1")
    device = rig.keypair()
    identity = CurveIdentity(device.public_key, device.secret_key)
    granted = agent_claim(rig.endpoint, rig.server.public_key, issued.code, identity,
                          timeout_s=10)
    assert (granted.agent_id, granted.village) == (issued.agent_id, "thon-a1")
    with rig.kit.db.session() as session:
        agent = session.get(Agent, issued.agent_id)
        assert agent is not None and agent.status is AgentStatus.ACTIVE
        assert agent.curve_public_key == device.public_key
    assert rig.data_plane_accepts(device)
    stranger = rig.keypair()
    assert not rig.data_plane_accepts(stranger, timeout=1.0)

    probe = MqttProbe(granted.broker)
    try:
        assert probe.connected.wait(10), "the enrolled agent could not log in to the broker"
        rig.kit.services.revoker.revoke(rig.kit.who("tech-a"), issued.agent_id, "test")
        assert probe.disconnected.wait(5), "the revoked agent is still connected"
    finally:
        probe.close()
    again = MqttProbe(granted.broker)
    try:
        assert again.disconnected.wait(10)
        assert not again.connected.is_set()
    finally:
        again.close()
    assert not rig.data_plane_accepts(device, timeout=1.0)


def test_refusals_over_the_wire(rig: Rig) -> None:
    codes = rig.kit.services.codes
    device = rig.keypair()
    used = codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    assert isinstance(rig.claim(device, used.code), ClaimGranted)
    refused = rig.claim(rig.keypair(), used.code)
    assert isinstance(refused, ClaimRefused) and refused.reason is RefusalReason.ALREADY_USED

    wrong = codes.issue(SYSTEM, "xa-b", cluster="c-thon-b1")
    holder = rig.keypair()
    for _ in range(3):  # the rig locks a code after 3 failed attempts
        reply = rig.claim(holder, wrong.code, named_key=rig.keypair().public_key)
        assert isinstance(reply, ClaimRefused) and reply.reason is RefusalReason.KEY_MISMATCH
    locked = rig.claim(holder, wrong.code)
    assert isinstance(locked, ClaimRefused) and locked.reason is RefusalReason.RATE_LIMITED

    unknown = rig.claim(rig.keypair(), "ZZZZ-ZZZZ-ZZZZ")
    assert isinstance(unknown, ClaimRefused) and unknown.reason is RefusalReason.UNKNOWN_CODE

    late = codes.issue(SYSTEM, "xa-b", agent_id=wrong.agent_id)
    rig.kit.clock.advance(73 * 3600 * 10**9)
    expired = rig.claim(rig.keypair(), late.code)
    assert isinstance(expired, ClaimRefused) and expired.reason is RefusalReason.EXPIRED


def test_the_agents_own_client_reports_a_refusal(rig: Rig) -> None:
    device = rig.keypair()
    with pytest.raises(EnrolmentError) as refused:
        agent_claim(rig.endpoint, rig.server.public_key, "AAAA-AAAA-AAAA",
                    CurveIdentity(device.public_key, device.secret_key), timeout_s=5)
    assert (refused.value.kind, refused.value.detail) == ("refused", "unknown_code")


def test_malformed_input_is_counted_and_the_service_carries_on(rig: Rig) -> None:
    client = rig.keypair()
    assert rig.send(client, [b"a", b"b", b"c"], timeout=0.5) is None  # wrong shape: dropped
    for payload in (b"\xc1 not msgpack", encode([1, "x"]), encode([9, "code", b"k" * 32])):
        reply = rig.send(client, [b"", payload])
        assert reply is not None
        assert reply[-1] == encode(ClaimRefused(RefusalReason.MALFORMED))
    assert rig.service.rejections.total() >= 4
    issued = rig.kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    assert isinstance(rig.claim(client, issued.code), ClaimGranted)  # it carries on


def test_rate_limit_per_peer(db_url: str, tmp_path: Path) -> None:
    with enrolment_rig(db_url, tmp_path, limiter=TokenBucket(capacity=2, per_second=0.01)
                       ) as rig:
        client = rig.keypair()
        reasons = [rig.claim(client, "ZZZZ-ZZZZ-ZZZZ") for _ in range(3)]
        assert [r.reason for r in reasons if isinstance(r, ClaimRefused)] == [
            RefusalReason.UNKNOWN_CODE, RefusalReason.UNKNOWN_CODE,
            RefusalReason.RATE_LIMITED]
