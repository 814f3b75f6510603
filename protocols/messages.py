"""Typed wire messages, encoded as compact msgpack arrays.

Every top-level message is an ``array_like`` struct whose first element is its schema
version (the msgspec tag), so a decoder can tell an unknown version from a malformed
message. Fields are only ever appended, with defaults: an older decoder ignores trailing
fields it does not know, which keeps agents in the field working when the controller
moves on. Constraints (ranges, lengths, identifier pattern) are part of the type and are
checked while decoding.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec

from .timefields import I64, U32, U64, Stamp
from .topics import ID_PATTERN

PROTOCOL_VERSION = 1

Ident = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=256)]
Sha256 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Uuid = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
KeyId = Annotated[str, msgspec.Meta(pattern=r"^k[a-z2-7]{12}$")]


class Priority(IntEnum):
    """The ladder: emergency > live > priority > normal > fill (Circular 39 plus fill)."""

    FILL = 10
    NORMAL = 20
    PRIORITY = 30
    LIVE = 40
    EMERGENCY = 50


class HardTimePolicy(IntEnum):
    """What a slot does when something else is on air at its start."""

    PREEMPT = 0
    QUEUE_AFTER = 1
    SKIP_IF_BUSY = 2


class Evidence(IntEnum):
    """How strongly an availability figure shows a working audio path (DESIGN §4)."""

    PROCESS = 0  # the agent process is up
    SINK = 1  # the sound sink is open and accepting samples
    AMPLIFIER = 2  # amplifier power is sensed
    LOOPBACK = 3  # line/acoustic loopback or speaker-line current while playing


class ClockSource(IntEnum):
    SYSTEM = 0  # free-running system clock
    NTP = 1  # kernel clock disciplined by chrony
    EXCHANGE = 2  # loaxa's clock exchange with the controller


class DocVersion(msgspec.Struct, array_like=True, frozen=True, order=True):
    """A document's position: a restored controller bumps ``epoch`` and moves forward."""

    epoch: U64
    version: U64


# --------------------------------------------------------------------------- agent -> controller


class Birth(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Retained on connect; ``session`` grows with every connection (Sparkplug-style)."""

    protocol: U32
    agent_id: Ident
    session: U64
    software: Text
    capabilities: Annotated[list[Ident], msgspec.Meta(max_length=32)]
    applied: Annotated[dict[Ident, DocVersion], msgspec.Meta(max_length=16)]
    journal_id: Uuid
    stamp: Stamp


class Death(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """The Last Will: stale when its session is older than the latest birth's."""

    agent_id: Ident
    session: U64


class LinkStats(msgspec.Struct, array_like=True, frozen=True):
    tx_bytes: U64
    rx_bytes: U64
    reconnects: U32
    rssi_dbm: Annotated[int, msgspec.Meta(ge=-200, le=0)] | None = None


class Heartbeat(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Live-only liveness with compact telemetry; never journalled, never replayed."""

    stamp: Stamp
    session: U64
    uptime_s: U32
    disk_free_mb: U32
    volume: Percent
    amp_on: bool
    playing: Annotated[str, msgspec.Meta(max_length=64)] | None
    clock_source: ClockSource
    clock_offset_us: I64 | None
    link: LinkStats
    backlog_records: U32
    backlog_oldest_s: U32  # age of the oldest unacknowledged journal record
    cpu_temp_dc: Annotated[int, msgspec.Meta(ge=-1000, le=2000)] | None = None  # 0.1 degC
    throttled: U32 | None = None  # Raspberry Pi under-voltage/throttling flags


class CacheState(msgspec.Struct, array_like=True, frozen=True):
    items: U32
    bytes: U64
    quota_bytes: U64
    missing: U32  # items a document needs that are not cached yet


class Telemetry(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Full telemetry, retained, sent when something in it changes."""

    stamp: Stamp
    software: Text
    hostname: Text
    os: Text
    uptime_s: U32
    disk_total_mb: U32
    disk_free_mb: U32
    rss_kb: U32
    volume: Percent
    amp_on: bool
    sink: Text
    clock_source: ClockSource
    clock_offset_us: I64 | None
    clock_uncertainty_us: U64 | None
    cache: CacheState
    applied: Annotated[dict[Ident, DocVersion], msgspec.Meta(max_length=16)]
    rejected: Annotated[dict[Text, U32], msgspec.Meta(max_length=64)]
    cpu_temp_dc: Annotated[int, msgspec.Meta(ge=-1000, le=2000)] | None = None
    throttled: U32 | None = None


# --------------------------------------------------------------------------- the journal


class Boot(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """A new boot: maps the journal boot number to the kernel's boot UUID."""

    stamp: Stamp
    kernel_boot_id: Uuid
    software: Text


class Anchor(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """Time became trusted in ``stamp.boot``: re-anchors that boot's earlier stamps."""

    stamp: Stamp


class IntervalOpen(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """Availability starts; the interval is identified by this record's ``seq``."""

    stamp: Stamp
    evidence: Evidence


class IntervalExtend(msgspec.Struct, array_like=True, frozen=True, tag=4):
    stamp: Stamp
    interval: U64
    evidence: Evidence


class CloseReason(IntEnum):
    STOPPED = 0  # orderly shutdown
    UNHEALTHY = 1  # the audio path stopped showing the interval's evidence
    RECOVERED = 2  # closed after a crash, at the interval's last extension


class IntervalClose(msgspec.Struct, array_like=True, frozen=True, tag=5):
    stamp: Stamp
    interval: U64
    reason: CloseReason


class Event(msgspec.Struct, array_like=True, frozen=True, tag=6):
    stamp: Stamp
    code: Ident
    detail: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class PlayOutcome(IntEnum):
    AIRED = 0
    PARTIAL = 1  # stopped early (stop command, sink failure)
    PREEMPTED = 2
    MISSED = 3
    SKIPPED = 4  # skip_if_busy found something else on air
    FAILED = 5


class Play(msgspec.Struct, array_like=True, frozen=True, tag=7):
    """Proof of play for one slot."""

    stamp: Stamp
    slot_id: Annotated[str, msgspec.Meta(max_length=96)]
    content: Sha256 | None
    scheduled_ns: I64
    first_sample_ns: I64 | None
    end_ns: I64 | None
    outcome: PlayOutcome
    reason: Text
    evidence: Evidence
    extrapolated: bool = False


JournalRecord = Boot | Anchor | IntervalOpen | IntervalExtend | IntervalClose | Event | Play


class JournalEntry(msgspec.Struct, array_like=True, frozen=True):
    seq: U64
    record: JournalRecord


class SeqRange(msgspec.Struct, array_like=True, frozen=True):
    first: U64
    last: U64


class JournalBatch(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Oldest first. ``gaps`` declares sequence numbers deliberately coalesced away."""

    journal_id: Uuid
    entries: Annotated[list[JournalEntry], msgspec.Meta(max_length=2000)]
    gaps: Annotated[list[SeqRange], msgspec.Meta(max_length=256)] = []


class JournalAck(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Signed by the controller: these sequence numbers are stored."""

    journal_id: Uuid
    stored: Annotated[list[SeqRange], msgspec.Meta(max_length=256)]


# --------------------------------------------------------------------------- documents


class TrustedKey(msgspec.Struct, array_like=True, frozen=True):
    key_id: KeyId
    public_key: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]


class TrustBundle(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """The controller keys an agent accepts. ``revoked`` only ever grows on an agent."""

    version: U64
    issued_ns: I64
    commune: Ident
    keys: Annotated[list[TrustedKey], msgspec.Meta(min_length=1, max_length=16)]
    revoked: Annotated[list[KeyId], msgspec.Meta(max_length=256)] = []


class AgentConfig(msgspec.Struct, array_like=True, frozen=True, tag=1):
    version: U64
    issued_ns: I64
    heartbeat_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 60
    journal_extend_s: Annotated[int, msgspec.Meta(ge=30, le=3600)] = 300
    volume: Percent = 80
    emergency_volume: Percent = 100
    amp_lead_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 2000
    amp_tail_ms: Annotated[int, msgspec.Meta(ge=0, le=600_000)] = 3000
    village: Ident | None = None
    cluster: Ident | None = None


class PlanSlot(msgspec.Struct, array_like=True, frozen=True):
    slot_id: Annotated[str, msgspec.Meta(max_length=96)]
    programme: Ident
    start_ns: I64  # UTC
    content: Sha256
    duration_ms: U32
    priority: Priority
    policy: HardTimePolicy
    window_end_ns: I64  # the slot must have finished by then (a restart too)
    # Appended in v1.1 (older agents ignore them):
    fragment: bool = False  # the interrupted part of a slot a higher one pre-empts
    village_peers: U32 = 0  # other agents of the same village airing this slot: a late
    #                         start then joins at the right offset instead of restarting


class RoutineItem(msgspec.Struct, array_like=True, frozen=True):
    """A standing daily/weekly item an agent may extrapolate past the plan's horizon."""

    programme: Ident
    content: Sha256
    weekdays: Annotated[int, msgspec.Meta(ge=1, le=127)]  # bit 0 = Monday
    local_start_s: Annotated[int, msgspec.Meta(ge=0, lt=86_400)]
    duration_ms: U32
    priority: Priority
    policy: HardTimePolicy
    window_s: U32 = 1800  # appended in v1.1: how late an extrapolated item may still start


class Plan(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """An agent's resolved timeline for the next days, plus its standing routine."""

    version: U64
    issued_ns: I64
    agent_id: Ident
    tz: Annotated[str, msgspec.Meta(max_length=64)]
    horizon_end_ns: I64
    slots: Annotated[list[PlanSlot], msgspec.Meta(max_length=20_000)]
    routine: Annotated[list[RoutineItem], msgspec.Meta(max_length=512)] = []
    pins: Annotated[list[Sha256], msgspec.Meta(max_length=512)] = []


class Emergency(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """The commune's active emergency; ``active=False`` is the stop."""

    version: U64
    issued_ns: I64
    emergency_id: Ident
    active: bool
    content: Sha256 | None
    villages: Annotated[list[Ident], msgspec.Meta(max_length=512)]  # empty = whole commune
    started_ns: I64
    repeat_every_s: U32 = 0  # 0 = air once
    volume: Percent = 100
    attention_tone: bool = True


# For annotations only: documents are decoded by the kind named in their topic, so the
# union is never handed to a decoder (every kind starts at schema version 1).
Document = TrustBundle | AgentConfig | Plan | Emergency


# --------------------------------------------------------------------------- commands


class Reboot(msgspec.Struct, array_like=True, frozen=True, tag="reboot"):
    pass


class RestartService(msgspec.Struct, array_like=True, frozen=True, tag="restart"):
    pass


class StopPlayback(msgspec.Struct, array_like=True, frozen=True, tag="stop"):
    pass


class SetVolume(msgspec.Struct, array_like=True, frozen=True, tag="volume"):
    level: Percent


Action = Reboot | RestartService | StopPlayback | SetVolume


class Command(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Short-lived: valid in ``[not_before_ns, expires_ns)`` and only above the high-water mark."""

    counter: U64
    agent_id: Ident
    not_before_ns: I64
    expires_ns: I64
    action: Action
