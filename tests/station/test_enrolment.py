"""Enrolment as a service: codes (digest only, single use, expiry, failed-attempt limit),
claims bound to the handshake's key, and revocation as one operation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import zmq
import zmq.utils.z85
from sqlmodel import select

from controller.audit import AuditFilter
from controller.dataplane.zap import RegistryKeys
from controller.enrolment.claim import ClaimHandler, ClaimOutcome, ClaimResult
from controller.events import AgentEnrolled, AgentRevoked, EnrolmentCodeIssued
from controller.registry.errors import Conflict, Forbidden, Invalid
from controller.storage.tables.registry import Agent, AgentStatus, EnrolmentCode
from protocols.enrolment import (
    ClaimGranted,
    ClaimRefused,
    ClaimRequest,
    RefusalReason,
    code_digest,
)

from .kit import SYSTEM, Kit

MAX_FAILED = 3


def new_key() -> bytes:
    public, _secret = zmq.curve_keypair()
    return zmq.utils.z85.decode(public)


def handler(kit: Kit) -> ClaimHandler:
    return ClaimHandler(kit.db, kit.bus, kit.time, kit.services.keyring, kit.broker, kit.access,
                        max_failed_attempts=MAX_FAILED)


def claim(kit: Kit, code: str, key: bytes, handshake: bytes | None = None) -> ClaimResult:
    return handler(kit).claim(ClaimRequest(code=code, curve_public_key=key, serial="SN-1",
                                           hostname="pi"), handshake or key, "127.0.0.1")


def agent_row(kit: Kit, agent_id: str) -> Agent:
    with kit.db.session() as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        return agent


def test_issue_creates_a_pending_agent_and_stores_only_a_digest(kit: Kit) -> None:
    issued = kit.services.codes.issue(kit.who("tech-a"), "xa-a", cluster="c-thon-a1")
    assert issued.command.startswith("loaxa agent enroll --endpoint=tcp://")
    assert f"--code={issued.code}" in issued.command
    assert agent_row(kit, issued.agent_id).status is AgentStatus.PENDING
    with kit.db.session() as session:
        row = session.exec(select(EnrolmentCode)).one()
    assert row.code_digest == code_digest(issued.code) and issued.code not in row.code_digest
    pending = kit.services.codes.pending(kit.who("viewer-a"))
    assert [(p.agent_id, p.cluster, p.issued_by) for p in pending] == [
        (issued.agent_id, "c-thon-a1", "tech-a")]
    assert any(isinstance(e, EnrolmentCodeIssued) for e in kit.events)
    assert kit.services.codes.pending(kit.who("op-b")) == []


def test_issue_needs_the_enrol_role_and_a_cluster_for_a_new_agent(kit: Kit) -> None:
    with pytest.raises(Forbidden):
        kit.services.codes.issue(kit.who("viewer-a"), "xa-a", cluster="c-thon-a1")
    with pytest.raises(Invalid):
        kit.services.codes.issue(kit.who("tech-a"), "xa-a")


def test_claim_binds_the_key_and_grants_everything_needed(kit: Kit) -> None:
    issued = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    key = new_key()
    result = claim(kit, issued.code.lower().replace("-", " "), key)  # as typed by a person
    assert result.outcome is ClaimOutcome.GRANTED
    granted = result.reply
    assert isinstance(granted, ClaimGranted)
    assert (granted.agent_id, granted.commune, granted.village, granted.cluster) == (
        issued.agent_id, "xa-a", "thon-a1", "c-thon-a1")
    assert granted.broker.username == issued.agent_id and len(granted.broker.password) >= 24
    assert granted.data_plane.server_public_key == kit.access.server_public_key
    assert granted.trust.commune == "xa-a" and granted.trust_mark.epoch == 1
    agent = agent_row(kit, issued.agent_id)
    assert agent.status is AgentStatus.ACTIVE and agent.curve_public_key == key
    assert agent.broker_password_hash and granted.broker.password not in agent.broker_password_hash
    assert agent.serial == "SN-1"
    assert kit.broker.calls == 1
    assert RegistryKeys(kit.db).agent_for(key) == issued.agent_id
    assert any(isinstance(e, AgentEnrolled) for e in kit.events)
    assert kit.services.codes.pending(SYSTEM) == []


def test_refusals_are_distinct(kit: Kit) -> None:
    codes = kit.services.codes
    used = codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    assert claim(kit, used.code, new_key()).outcome is ClaimOutcome.GRANTED
    assert claim(kit, used.code, new_key()).outcome is ClaimOutcome.ALREADY_USED

    expiring = codes.issue(SYSTEM, "xa-b", cluster="c-thon-b1")
    kit.clock.advance(int(dt.timedelta(hours=73).total_seconds() * 1e9))
    assert claim(kit, expiring.code, new_key()).outcome is ClaimOutcome.EXPIRED

    assert claim(kit, "AAAA-BBBB-CCCC", new_key()).outcome is ClaimOutcome.UNKNOWN_CODE
    assert claim(kit, "not a code", new_key()).outcome is ClaimOutcome.UNKNOWN_CODE

    wire = {o: o.wire for o in ClaimOutcome if o is not ClaimOutcome.GRANTED}
    assert wire[ClaimOutcome.ALREADY_USED] is RefusalReason.ALREADY_USED
    assert wire[ClaimOutcome.EXPIRED] is RefusalReason.EXPIRED
    assert wire[ClaimOutcome.KEY_MISMATCH] is RefusalReason.KEY_MISMATCH
    assert wire[ClaimOutcome.LOCKED] is RefusalReason.RATE_LIMITED


def test_a_key_other_than_the_handshakes_counts_towards_the_lock(kit: Kit) -> None:
    issued = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    mine = new_key()
    for _ in range(MAX_FAILED):
        result = claim(kit, issued.code, new_key(), handshake=mine)
        assert result.outcome is ClaimOutcome.KEY_MISMATCH
        assert isinstance(result.reply, ClaimRefused)
        assert result.reply.reason is RefusalReason.KEY_MISMATCH
    locked = claim(kit, issued.code, mine)  # now even the right key is refused
    assert locked.outcome is ClaimOutcome.LOCKED
    assert isinstance(locked.reply, ClaimRefused)
    assert locked.reply.reason is RefusalReason.RATE_LIMITED
    assert agent_row(kit, issued.agent_id).status is AgentStatus.PENDING
    refusals = kit.services.audit.query(SYSTEM,
                                        AuditFilter(action="agent.claim_refused")).entries
    assert [r.detail["reason"] for r in refusals][:2] == ["locked", "key_mismatch"]


def test_a_key_bound_to_another_agent_is_refused(kit: Kit) -> None:
    key = new_key()
    first = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    assert claim(kit, first.code, key).outcome is ClaimOutcome.GRANTED
    second = kit.services.codes.issue(SYSTEM, "xa-b", cluster="c-thon-b1")
    assert claim(kit, second.code, key).outcome is ClaimOutcome.KEY_IN_USE


def test_a_new_code_withdraws_the_old_one(kit: Kit) -> None:
    first = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    second = kit.services.codes.issue(SYSTEM, "xa-a", agent_id=first.agent_id)
    assert claim(kit, first.code, new_key()).outcome is ClaimOutcome.EXPIRED
    assert claim(kit, second.code, new_key()).outcome is ClaimOutcome.GRANTED


def test_revoke_is_one_operation(kit: Kit) -> None:
    issued = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    key = new_key()
    claim(kit, issued.code, key)
    calls = kit.broker.calls
    result = kit.services.revoker.revoke(kit.who("tech-a"), issued.agent_id, "stolen")
    assert result.broker_synced and kit.broker.calls == calls + 1
    agent = agent_row(kit, issued.agent_id)
    assert agent.status is AgentStatus.REVOKED
    assert agent.curve_public_key is None and agent.broker_password_hash is None
    assert RegistryKeys(kit.db).agent_for(key) is None
    assert not RegistryKeys(kit.db).is_allowed(key)
    assert any(isinstance(e, AgentRevoked) for e in kit.events)
    with pytest.raises(Conflict):
        kit.services.revoker.revoke(SYSTEM, issued.agent_id)
    again = kit.services.codes.issue(SYSTEM, "xa-a", agent_id=issued.agent_id)
    assert claim(kit, again.code, new_key()).outcome is ClaimOutcome.GRANTED


def test_revocation_stands_when_the_broker_cannot_be_updated(kit: Kit) -> None:
    issued = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    claim(kit, issued.code, new_key())
    kit.broker.fail = True
    result = kit.services.revoker.revoke(SYSTEM, issued.agent_id)
    assert not result.broker_synced
    assert agent_row(kit, issued.agent_id).status is AgentStatus.REVOKED


def test_pending_agents_are_not_allowed_on_the_data_plane(kit: Kit) -> None:
    kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    assert not RegistryKeys(kit.db).is_allowed(new_key())
    assert not RegistryKeys(kit.db).is_allowed(b"short")


def test_registry_keys_map_both_ways_and_cache_briefly(kit: Kit) -> None:
    issued = kit.services.codes.issue(SYSTEM, "xa-a", cluster="c-thon-a1")
    key = new_key()
    claim(kit, issued.code, key)
    keys, cached = RegistryKeys(kit.db), RegistryKeys(kit.db, ttl_s=3600)
    assert keys.key_of(issued.agent_id) == key and cached.agent_for(key) == issued.agent_id
    kit.services.revoker.revoke(SYSTEM, issued.agent_id)
    assert keys.key_of(issued.agent_id) is None and not keys.is_allowed(key)
    assert cached.is_allowed(key)  # the cache is as old as its ttl, by design
    cached.ttl_s = 0.0
    assert not cached.is_allowed(key)


def random_key_whose_z85(predicate: Callable[[str], bool]) -> bytes:
    while True:
        public, _secret = zmq.curve_keypair()
        if predicate(public.decode()):
            return zmq.utils.z85.decode(public)


@pytest.mark.parametrize("predicate", [
    lambda text: text.startswith("-"),  # no option parser may take the key for an option
    lambda text: any(c in text for c in "$&()<>*?#"),  # shell metacharacters
], ids=["leading-dash", "shell-metacharacters"])
def test_the_printed_enroll_command_survives_any_key(
        predicate: Callable[[str], bool]) -> None:
    import shlex

    from agent.cli import parser
    from controller.enrolment.access import ClaimAccess

    key = random_key_whose_z85(predicate)
    access = ClaimAccess(enrol_endpoint="tcp://10.0.0.1:7712", data_endpoint="tcp://x:7710",
                         server_public_key=key, broker_host="h", broker_port=8883,
                         broker_ca_pem="")
    words = shlex.split(access.enroll_command("7K2M-9QXD-4RWA"))
    args = parser().parse_args(words[2:])
    assert zmq.utils.z85.decode(args.server_key.encode()) == key
    assert (args.endpoint, args.code) == ("tcp://10.0.0.1:7712", "7K2M-9QXD-4RWA")
