"""Signatures and ordering: every way a control message can be wrong, refused for its reason."""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec
import pytest

from protocols.acceptance import DocumentVerdict, MemoryWatermarks
from protocols.clock import ManualClock
from protocols.codec import Reason, Rejected
from protocols.envelope import Domain, Signer
from protocols.inbox import CommandAccepted, ControlInbox, DocumentAccepted
from protocols.keys import SigningIdentity
from protocols.messages import Command, Plan, SetVolume, TrustBundle, TrustedKey
from protocols.topics import AgentChannel, DocKind, agent_topic
from protocols.trust import TrustStore

from . import samples
from .samples import AGENT, COMMANDS, COMMUNE, DOCUMENTS, IDENTITY, NEXT_IDENTITY, T0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(wall_ns=T0 + 1_000_000_000)


@pytest.fixture
def inbox(clock: ManualClock) -> ControlInbox:
    return ControlInbox(COMMUNE, AGENT, TrustStore.from_bundle(samples.TRUST),
                        MemoryWatermarks(), clock)


def refused(result: object, reason: Reason) -> None:
    assert isinstance(result, Rejected), result
    assert result.reason is reason, result


def apply(inbox: ControlInbox, topic: str, payload: bytes) -> DocumentAccepted:
    result = inbox.receive(topic, payload)
    assert isinstance(result, DocumentAccepted), result
    inbox.commit(result)
    return result


def plan(version: int) -> Plan:
    return msgspec.structs.replace(DOCUMENTS[DocKind.PLAN], version=version)


def command(counter: int, *, not_before: int = T0, expires: int = T0 + 60 * 10**9) -> Command:
    return Command(counter=counter, agent_id=AGENT, not_before_ns=not_before,
                   expires_ns=expires, action=SetVolume(level=50))


def test_a_valid_document_and_command_are_accepted(inbox: ControlInbox) -> None:
    accepted = apply(inbox, *samples.sealed_document(DocKind.PLAN))
    assert accepted.verdict is DocumentVerdict.APPLY and accepted.document == plan(17)
    result = inbox.receive(*samples.sealed_command(COMMANDS["volume"]))
    assert isinstance(result, CommandAccepted) and result.command.action == SetVolume(65)


def test_a_signature_from_another_domain_does_not_verify(inbox: ControlInbox) -> None:
    topic = agent_topic(COMMUNE, AGENT, AgentChannel.COMMAND)
    payload = Signer(IDENTITY, 1).seal(Domain.DOCUMENT, topic, COMMANDS["volume"])
    refused(inbox.receive(topic, payload), Reason.BAD_SIGNATURE)


def test_key_id_swapped_onto_another_signature_is_refused(inbox: ControlInbox) -> None:
    stranger = SigningIdentity(b"\x09" * 32)
    topic, payload = samples.sealed_command(COMMANDS["volume"], identity=stranger)
    envelope = msgspec.msgpack.decode(payload)
    envelope[1] = IDENTITY.key_id  # claim the trusted key, keep the stranger's signature
    refused(inbox.receive(topic, msgspec.msgpack.encode(envelope)), Reason.BAD_SIGNATURE)


def rotate(inbox: ControlInbox, *, revoke_old: bool, version: int = 2) -> None:
    bundle = TrustBundle(version=version, issued_ns=T0, commune=COMMUNE,
                         keys=[TrustedKey(NEXT_IDENTITY.key_id, NEXT_IDENTITY.public_key)]
                         + ([] if revoke_old else
                            [TrustedKey(IDENTITY.key_id, IDENTITY.public_key)]),
                         revoked=[IDENTITY.key_id] if revoke_old else [])
    # The rotation itself is signed by the key being replaced.
    apply(inbox, *samples.sealed_document(DocKind.TRUST, bundle))


Sealed = tuple[str, bytes]


def tampered(inbox: ControlInbox) -> Sealed:
    topic, payload = samples.sealed_command(COMMANDS["volume"])
    envelope = msgspec.msgpack.decode(payload)
    signed = bytearray(envelope[3])
    signed[-1] ^= 0x01  # the volume level: 65 -> 64
    envelope[3] = bytes(signed)
    return topic, msgspec.msgpack.encode(envelope)


def readdressed(inbox: ControlInbox) -> Sealed:
    other = agent_topic(COMMUNE, "ag-0002", AgentChannel.COMMAND)
    payload = Signer(IDENTITY, 1).seal(Domain.COMMAND, other, COMMANDS["volume"])
    return agent_topic(COMMUNE, AGENT, AgentChannel.COMMAND), payload


def unknown_key(inbox: ControlInbox) -> Sealed:
    return samples.sealed_command(COMMANDS["volume"], identity=SigningIdentity(b"\x09" * 32))


def revoked_key(inbox: ControlInbox) -> Sealed:
    rotate(inbox, revoke_old=True)
    return samples.sealed_command(command(1))


def replayed(inbox: ControlInbox) -> Sealed:
    sealed = samples.sealed_command(command(10))
    assert isinstance(inbox.receive(*sealed), CommandAccepted)
    return sealed


def expired(inbox: ControlInbox) -> Sealed:
    return samples.sealed_command(command(5, expires=inbox.clock.wall_ns()))


def early(inbox: ControlInbox) -> Sealed:
    return samples.sealed_command(command(6, not_before=inbox.clock.wall_ns() + 30 * 10**9))


def stale(inbox: ControlInbox) -> Sealed:
    apply(inbox, *samples.sealed_document(DocKind.PLAN, plan(17)))
    return samples.sealed_document(DocKind.PLAN, plan(16))


# Every way a control message is refused (the acceptance list), and the reason
# it must be refused, logged and counted with.
REFUSALS: dict[str, tuple[Callable[[ControlInbox], Sealed], Reason]] = {
    "tampered payload": (tampered, Reason.BAD_SIGNATURE),
    "re-addressed topic": (readdressed, Reason.READDRESSED),
    "unknown key id": (unknown_key, Reason.UNKNOWN_KEY),
    "revoked key": (revoked_key, Reason.REVOKED_KEY),
    "replayed command": (replayed, Reason.REPLAYED),
    "expired command": (expired, Reason.EXPIRED),
    "early command": (early, Reason.NOT_YET_VALID),
    "stale document version": (stale, Reason.STALE_VERSION),
}


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "loaxa.protocols" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_refusal_is_logged_with_its_own_reason(
        case: str, inbox: ControlInbox, caplog: pytest.LogCaptureFixture) -> None:
    make, reason = REFUSALS[case]
    sealed = make(inbox)  # any set-up (rotation, a first command) is accepted silently
    with caplog.at_level(logging.WARNING, logger="loaxa.protocols"):
        caplog.clear()
        refused(inbox.receive(*sealed), reason)
    lines = refusal_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert getattr(lines[0], "reason", None) == reason.value
    assert lines[0].getMessage().endswith(f": {reason.value}"), lines[0].getMessage()
    counted = {k: n for k, n in inbox.counter.snapshot().items() if k.endswith(reason.value)}
    assert list(counted.values()) == [1], inbox.counter.snapshot()


def test_refusal_reasons_are_pairwise_distinct() -> None:
    reasons = [reason for _, reason in REFUSALS.values()]
    assert len(set(reasons)) == len(reasons), reasons
    assert len({r.value for r in reasons}) == len(reasons)


def test_an_accepted_message_logs_no_refusal(inbox: ControlInbox,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """Control for the log assertions above: acceptance is silent at WARNING."""
    with caplog.at_level(logging.WARNING, logger="loaxa.protocols"):
        assert isinstance(inbox.receive(*samples.sealed_command(command(1))), CommandAccepted)
        apply(inbox, *samples.sealed_document(DocKind.PLAN))
    assert refusal_lines(caplog) == []


def test_trust_bundle_rotates_the_key_and_revocation_sticks(inbox: ControlInbox) -> None:
    rotate(inbox, revoke_old=True)
    refused(inbox.receive(*samples.sealed_command(command(1))), Reason.REVOKED_KEY)
    accepted = inbox.receive(*samples.sealed_command(command(2), identity=NEXT_IDENTITY))
    assert isinstance(accepted, CommandAccepted)
    # A later bundle that lists the old key again does not bring it back.
    bundle = TrustBundle(version=3, issued_ns=T0, commune=COMMUNE,
                         keys=[TrustedKey(IDENTITY.key_id, IDENTITY.public_key),
                               TrustedKey(NEXT_IDENTITY.key_id, NEXT_IDENTITY.public_key)])
    apply(inbox, *samples.sealed_document(DocKind.TRUST, bundle, identity=NEXT_IDENTITY))
    refused(inbox.receive(*samples.sealed_command(command(3))), Reason.REVOKED_KEY)


def test_trust_change_is_handed_to_the_persistence_hook(clock: ManualClock) -> None:
    saved: list[TrustStore] = []
    inbox = ControlInbox(COMMUNE, AGENT, TrustStore.from_bundle(samples.TRUST),
                         MemoryWatermarks(), clock, on_trust_change=saved.append)
    rotate(inbox, revoke_old=False)
    assert [s.state.bundle.version for s in saved if s.state.bundle] == [2]
    restored = TrustStore.from_bytes(saved[0].to_bytes())
    assert not isinstance(restored.lookup(NEXT_IDENTITY.key_id), Reason)


def test_replayed_command_is_refused(inbox: ControlInbox) -> None:
    sealed = samples.sealed_command(command(10))
    assert isinstance(inbox.receive(*sealed), CommandAccepted)
    refused(inbox.receive(*sealed), Reason.REPLAYED)
    refused(inbox.receive(*samples.sealed_command(command(9))), Reason.REPLAYED)


def test_expired_and_early_commands_are_refused(inbox: ControlInbox, clock: ManualClock) -> None:
    refused(inbox.receive(*samples.sealed_command(command(5, expires=clock.wall_ns()))),
            Reason.EXPIRED)
    refused(inbox.receive(*samples.sealed_command(
        command(6, not_before=clock.wall_ns() + 30 * 10**9))), Reason.NOT_YET_VALID)
    # Neither refusal moved the high-water mark: a valid command 5 still runs.
    assert isinstance(inbox.receive(*samples.sealed_command(command(5))), CommandAccepted)


def test_command_for_another_agent_is_refused(inbox: ControlInbox) -> None:
    other = msgspec.structs.replace(command(5), agent_id="ag-0002")
    refused(inbox.receive(*samples.sealed_command(other)), Reason.WRONG_TARGET)


def test_command_after_an_epoch_bump_is_accepted(inbox: ControlInbox) -> None:
    assert isinstance(inbox.receive(*samples.sealed_command(command(500))), CommandAccepted)
    # The controller was restored from a backup whose counter is far behind.
    refused(inbox.receive(*samples.sealed_command(command(3), epoch=1)), Reason.REPLAYED)
    assert isinstance(inbox.receive(*samples.sealed_command(command(3), epoch=2)),
                      CommandAccepted)
    refused(inbox.receive(*samples.sealed_command(command(600), epoch=1)), Reason.REPLAYED)


def test_document_versions_same_is_noop_lower_ignored_higher_replaces(
        inbox: ControlInbox) -> None:
    apply(inbox, *samples.sealed_document(DocKind.PLAN, plan(17)))
    same = inbox.receive(*samples.sealed_document(DocKind.PLAN, plan(17)))
    assert isinstance(same, DocumentAccepted) and same.verdict is DocumentVerdict.UNCHANGED
    refused(inbox.receive(*samples.sealed_document(DocKind.PLAN, plan(16))),
            Reason.STALE_VERSION)
    higher = apply(inbox, *samples.sealed_document(DocKind.PLAN, plan(18)))
    assert higher.verdict is DocumentVerdict.APPLY and higher.document.version == 18
    # After a restore the controller's version may be lower, in a higher epoch.
    bumped = apply(inbox, *samples.sealed_document(DocKind.PLAN, plan(2), epoch=2))
    assert bumped.verdict is DocumentVerdict.APPLY


def test_documents_never_expire(inbox: ControlInbox, clock: ManualClock) -> None:
    clock.advance(400 * 86_400 * 10**9)  # a year later, still valid desired state
    assert apply(inbox, *samples.sealed_document(DocKind.PLAN)).verdict is DocumentVerdict.APPLY


def test_per_agent_document_for_another_agent_is_refused(inbox: ControlInbox) -> None:
    other = msgspec.structs.replace(plan(20), agent_id="ag-0002")
    refused(inbox.receive(*samples.sealed_document(DocKind.PLAN, other)), Reason.WRONG_TARGET)


def test_every_refusal_is_counted(inbox: ControlInbox) -> None:
    sealed = samples.sealed_command(command(10))
    inbox.receive(*sealed)
    inbox.receive(*sealed)
    inbox.receive("loaxa/v1/xa-tan-lap/agent/ag-0001/bogus", b"")
    assert inbox.counter.snapshot() == {"cmd/replayed": 1, "topic/unknown_topic": 1}


def test_unknown_schema_version_is_told_apart(inbox: ControlInbox) -> None:
    from protocols.codec import Decoder
    from protocols.messages import Heartbeat
    bumped = bytearray(samples.encode_sample("heartbeat"))
    bumped[1] = 0x02
    result = Decoder[Heartbeat]("hb", Heartbeat, 512).decode(bytes(bumped))
    refused(result, Reason.UNKNOWN_VERSION)
    fields = msgspec.msgpack.decode(samples.encode_sample("heartbeat"))
    fields[1] = "x"  # a version-1 heartbeat whose stamp is a string
    refused(Decoder[Heartbeat]("hb", Heartbeat, 512).decode(msgspec.msgpack.encode(fields)),
            Reason.INVALID)
    refused(Decoder[Heartbeat]("hb", Heartbeat, 512).decode(b"\xc1"), Reason.MALFORMED)
