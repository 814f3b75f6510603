"""One canonical example of every wire message kind: golden bytes and fuzz seeds."""

from __future__ import annotations

from typing import Any

from protocols.enrolment import (
    BrokerAccess,
    ClaimGranted,
    ClaimRefused,
    ClaimRequest,
    DataPlaneAccess,
    RefusalReason,
)
from protocols.envelope import Domain, Signer
from protocols.keys import SigningIdentity
from protocols.messages import (
    AgentConfig,
    Anchor,
    Birth,
    Boot,
    CacheState,
    ClockSource,
    CloseReason,
    Command,
    Death,
    DocVersion,
    Emergency,
    Event,
    Evidence,
    HardTimePolicy,
    Heartbeat,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalAck,
    JournalBatch,
    JournalEntry,
    LinkStats,
    Plan,
    PlanSlot,
    Play,
    PlayOutcome,
    Priority,
    Reboot,
    RestartService,
    RoutineItem,
    SeqRange,
    SetVolume,
    StopPlayback,
    Telemetry,
    TrustBundle,
    TrustedKey,
)
from protocols.timefields import Stamp, TimeQuality
from protocols.topics import AgentChannel, DocKind, agent_topic, document_topic

COMMUNE = "xa-tan-lap"
AGENT = "ag-0001"
T0 = 1_795_000_000_000_000_000  # 2026-11-18T09:46:40Z
STAMP = Stamp(boot=3, mono_ns=12_345_678_901, wall_ns=T0, quality=TimeQuality.SYNCED)
RAW_STAMP = Stamp(boot=3, mono_ns=1_000_000_000, wall_ns=0, quality=TimeQuality.UNSYNCED)
JOURNAL = bytes(range(16))
HASH = bytes(range(32))
SEED = bytes([7]) * 32
SEED_NEXT = bytes([8]) * 32
IDENTITY = SigningIdentity(SEED)
NEXT_IDENTITY = SigningIdentity(SEED_NEXT)

TRUST = TrustBundle(version=1, issued_ns=T0, commune=COMMUNE,
                    keys=[TrustedKey(IDENTITY.key_id, IDENTITY.public_key)])

AGENT_MESSAGES: dict[str, Any] = {
    "birth": Birth(protocol=1, agent_id=AGENT, session=42, software="loaxa 0.1.0",
                   capabilities=["opus", "clock-exchange"],
                   applied={"trust": DocVersion(1, 1), "plan": DocVersion(1, 17)},
                   journal_id=JOURNAL, stamp=STAMP),
    "death": Death(agent_id=AGENT, session=42),
    "heartbeat": Heartbeat(stamp=STAMP, session=42, uptime_s=86_400, disk_free_mb=2048,
                           volume=80, amp_on=False, playing=None,
                           clock_source=ClockSource.NTP, clock_offset_us=-1200,
                           link=LinkStats(tx_bytes=123_456, rx_bytes=654_321, reconnects=2,
                                          rssi_dbm=-71),
                           backlog_records=0, backlog_oldest_s=0, cpu_temp_dc=523,
                           throttled=0),
    "telemetry": Telemetry(stamp=STAMP, software="loaxa 0.1.0", hostname="loa-thon-1",
                           os="Debian GNU/Linux 12", uptime_s=86_400, disk_total_mb=29_000,
                           disk_free_mb=2048, rss_kb=31_000, volume=80, amp_on=False,
                           sink="alsa:hw:0", clock_source=ClockSource.NTP,
                           clock_offset_us=-1200, clock_uncertainty_us=800,
                           cache=CacheState(items=3, bytes=4_500_000, quota_bytes=2**30,
                                            missing=0),
                           applied={"plan": DocVersion(1, 17)},
                           rejected={"cmd/replayed": 1}),
    "journal": JournalBatch(journal_id=JOURNAL, entries=[
        JournalEntry(1, Boot(RAW_STAMP, kernel_boot_id=bytes(range(16, 32)),
                             software="loaxa 0.1.0")),
        JournalEntry(2, IntervalOpen(RAW_STAMP, evidence=Evidence.SINK)),
        JournalEntry(3, Anchor(STAMP)),
        JournalEntry(4, IntervalExtend(STAMP, interval=2, evidence=Evidence.SINK)),
        JournalEntry(5, Event(STAMP, code="sink-error", detail="ALSA underrun")),
        JournalEntry(6, Play(STAMP, slot_id="p7-20261118T0500", content=HASH,
                             scheduled_ns=T0, first_sample_ns=T0 + 2_000_000,
                             end_ns=T0 + 600 * 10**9, outcome=PlayOutcome.AIRED, reason="",
                             evidence=Evidence.SINK)),
        JournalEntry(7, IntervalClose(STAMP, interval=2, reason=CloseReason.STOPPED)),
    ], gaps=[SeqRange(8, 9)]),
}

DOCUMENTS: dict[DocKind, Any] = {
    DocKind.TRUST: TRUST,
    DocKind.CONFIG: AgentConfig(version=3, issued_ns=T0, village="thon-1", cluster="cum-1a"),
    DocKind.PLAN: Plan(version=17, issued_ns=T0, agent_id=AGENT, tz="Asia/Ho_Chi_Minh",
                       horizon_end_ns=T0 + 7 * 86_400 * 10**9,
                       slots=[PlanSlot(slot_id="p7-20261118T0500", programme="p7",
                                       start_ns=T0, content=HASH, duration_ms=600_000,
                                       priority=Priority.NORMAL,
                                       policy=HardTimePolicy.QUEUE_AFTER,
                                       window_end_ns=T0 + 45 * 60 * 10**9)],
                       routine=[RoutineItem(programme="p7", content=HASH, weekdays=0b0011111,
                                            local_start_s=5 * 3600, duration_ms=600_000,
                                            priority=Priority.NORMAL,
                                            policy=HardTimePolicy.QUEUE_AFTER)],
                       pins=[HASH]),
    DocKind.EMERGENCY: Emergency(version=2, issued_ns=T0, emergency_id="bao-so-9", active=True,
                                 content=HASH, villages=["thon-1", "thon-2"], started_ns=T0,
                                 repeat_every_s=900),
}

COMMANDS: dict[str, Command] = {
    "reboot": Command(counter=5, agent_id=AGENT, not_before_ns=T0, expires_ns=T0 + 60 * 10**9,
                      action=Reboot()),
    "stop": Command(counter=6, agent_id=AGENT, not_before_ns=T0, expires_ns=T0 + 60 * 10**9,
                    action=StopPlayback()),
    "volume": Command(counter=7, agent_id=AGENT, not_before_ns=T0,
                      expires_ns=T0 + 60 * 10**9, action=SetVolume(level=65)),
    "restart": Command(counter=8, agent_id=AGENT, not_before_ns=T0,
                       expires_ns=T0 + 60 * 10**9, action=RestartService()),
}

ACK = JournalAck(journal_id=JOURNAL, stored=[SeqRange(1, 7)])

ENROLMENT: dict[str, Any] = {
    "claim_request": ClaimRequest(code="7K2M-9QXD-4RWA", curve_public_key=bytes(range(32)),
                                  serial="00000000a1b2c3d4", hostname="loa-thon-1",
                                  software="loaxa 0.1.0"),
    "claim_granted": ClaimGranted(
        agent_id=AGENT, commune=COMMUNE, village="thon-1", cluster="cum-1a",
        broker=BrokerAccess(host="station.example", port=8883, username=AGENT,
                            password="s3cret", ca_pem="-----BEGIN CERTIFICATE-----\n...",
                            server_name="loaxa-broker"),
        data_plane=DataPlaneAccess(endpoint="tcp://station.example:7710",
                                   server_public_key=bytes(range(32, 64))),
        trust=TRUST, trust_mark=DocVersion(1, 1)),
    "claim_refused": ClaimRefused(reason=RefusalReason.EXPIRED),
}


def signer(epoch: int = 1, identity: SigningIdentity = IDENTITY) -> Signer:
    return Signer(identity, epoch)


def sealed_document(kind: DocKind, document: Any | None = None, epoch: int = 1,
                    identity: SigningIdentity = IDENTITY) -> tuple[str, bytes]:
    from protocols.inbox import AGENT_SCOPED_DOCUMENTS
    topic = document_topic(COMMUNE, kind, AGENT if kind in AGENT_SCOPED_DOCUMENTS else None)
    body = DOCUMENTS[kind] if document is None else document
    return topic, signer(epoch, identity).seal(Domain.DOCUMENT, topic, body)


def sealed_command(command: Command, epoch: int = 1,
                   identity: SigningIdentity = IDENTITY) -> tuple[str, bytes]:
    topic = agent_topic(COMMUNE, AGENT, AgentChannel.COMMAND)
    return topic, signer(epoch, identity).seal(Domain.COMMAND, topic, command)


def sealed_ack(ack: JournalAck = ACK, epoch: int = 1) -> tuple[str, bytes]:
    topic = agent_topic(COMMUNE, AGENT, AgentChannel.ACK)
    return topic, signer(epoch).seal(Domain.JOURNAL_ACK, topic, ack)


def encode_sample(name: str) -> bytes:
    from protocols.codec import encode
    return encode(AGENT_MESSAGES[name])
