"""Regional collection: what a commune controller forwards to its regional collector.

A commune's controller publishes ``CollectBatch`` messages on its own broker, which
bridges them to the region; the collector stores each batch and answers ``CollectAck``
on the way back. The commune advances its forwarding cursors only on an ack, so a
batch lost anywhere (bridge down, region restarted, collector crashed mid-batch) is
simply sent again, and the collector stores every record exactly once because records
keep their durable identity ``(agent_id, journal_id, seq)`` all the way.

    loaxa/v1/<commune>/collect/batch    commune -> region   QoS 1, through the bridge
    loaxa/v1/<commune>/collect/ack      region -> commune   QoS 1, through the bridge

A batch carries journal records (as the agent sent them, with the gaps its journal
declared), planned slots once final, and, when they changed, a snapshot of the
commune's registry (units and their validity, stations, clusters, agents) and of its
attestations, so the collector can compute every report the commune can. Rollups are
not forwarded: the collector recomputes them from the records with the same code.

Like every loaxa message: msgpack arrays led by a schema version, fields only ever
appended with defaults, checked while decoding, refused as values, never raised.
"""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from typing import Annotated

import msgspec

from .codec import Decoder, RejectionCounter
from .messages import Ident, JournalEntry, SeqRange, Sha256, Uuid
from .timefields import I64, U32, U64
from .topics import NAMESPACE, WIRE_VERSION, check_id

MAX_BATCH_BYTES = 4 * 1024 * 1024  # the brokers' max_packet_size
MAX_ACK_BYTES = 1024

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Line = Annotated[str, msgspec.Meta(max_length=500)]
User = Annotated[str, msgspec.Meta(max_length=64)]
Code = Annotated[str, msgspec.Meta(max_length=32)]
SlotId = Annotated[str, msgspec.Meta(min_length=1, max_length=96)]
Uid = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
DayNumber = Annotated[int, msgspec.Meta(ge=-1_000_000, le=3_000_000)]  # days since 1970-01-01
Level = Annotated[str, msgspec.Meta(pattern=r"^(province|district|commune|village)$")]
StationKindText = Annotated[str, msgspec.Meta(pattern=r"^(ip|wired|fm|hybrid)$")]
ClusterKindText = Annotated[str, msgspec.Meta(pattern=r"^(ip|wired|fm)$")]
AgentStatusText = Annotated[str, msgspec.Meta(pattern=r"^(pending|active|revoked)$")]


class CollectChannel(StrEnum):
    BATCH = "batch"
    ACK = "ack"


def collect_topic(commune: str, channel: CollectChannel) -> str:
    return f"{NAMESPACE}/{WIRE_VERSION}/{check_id(commune, 'commune id')}/collect/" \
           f"{channel.value}"


_TOPIC = re.compile(rf"^{NAMESPACE}/{WIRE_VERSION}/([a-z0-9][a-z0-9_-]{{0,63}})/collect/"
                    r"(batch|ack)$")


def parse_collect_topic(topic: object) -> tuple[str, CollectChannel] | None:
    """``(commune, channel)`` of a collection topic, or None (never raises)."""
    if not isinstance(topic, str):
        return None
    match = _TOPIC.match(topic)
    return None if match is None else (match.group(1), CollectChannel(match.group(2)))


# --------------------------------------------------------------------------- registry


class UnitRow(msgspec.Struct, array_like=True, frozen=True):
    key: Ident
    level: Level
    code: Code | None = None
    merged_into: Ident | None = None


class UnitVersionRow(msgspec.Struct, array_like=True, frozen=True):
    key: Ident
    name: Name
    parent: Ident | None
    valid_from: DayNumber
    valid_to: DayNumber | None = None  # exclusive


class StationRow(msgspec.Struct, array_like=True, frozen=True):
    key: Ident
    commune: Ident
    name: Name
    kind: StationKindText


class ClusterRow(msgspec.Struct, array_like=True, frozen=True):
    key: Ident
    commune: Ident
    name: Name
    kind: ClusterKindText
    station: Ident
    village: Ident


class AgentRow(msgspec.Struct, array_like=True, frozen=True):
    agent_id: Ident
    commune: Ident
    cluster: Ident | None
    status: AgentStatusText


class Registry(msgspec.Struct, array_like=True, frozen=True):
    """The commune's part of the registry: itself and the communes merged into it, their
    villages, the units above them, and their stations, clusters and agents."""

    units: Annotated[list[UnitRow], msgspec.Meta(max_length=20_000)]
    versions: Annotated[list[UnitVersionRow], msgspec.Meta(max_length=50_000)]
    stations: Annotated[list[StationRow], msgspec.Meta(max_length=1000)]
    clusters: Annotated[list[ClusterRow], msgspec.Meta(max_length=20_000)]
    agents: Annotated[list[AgentRow], msgspec.Meta(max_length=20_000)]


class AttestationRow(msgspec.Struct, array_like=True, frozen=True):
    uid: Uid
    commune: Ident
    cluster: Ident | None
    station: Ident | None
    period_start: DayNumber
    period_end: DayNumber
    note: Line
    attested_by: User
    attested_at_ns: I64
    withdrawn_by: User | None = None
    withdrawn_at_ns: I64 | None = None


# --------------------------------------------------------------------------- plan and journal


class SlotRow(msgspec.Struct, array_like=True, frozen=True):
    """One planned slot, forwarded once final (its window has ended)."""

    agent_id: Ident
    slot_id: SlotId
    programme: Annotated[str, msgspec.Meta(max_length=64)]
    start_ns: I64
    duration_ms: U64
    window_end_ns: I64
    content: Sha256
    priority: Annotated[int, msgspec.Meta(ge=0, le=255)]
    policy: Annotated[int, msgspec.Meta(ge=0, le=255)]
    fragment: bool
    plan_epoch: U64
    plan_version: U64
    planned_at_ns: I64
    withdrawn_at_ns: I64 | None = None


class JournalSlice(msgspec.Struct, array_like=True, frozen=True):
    """Records of one agent's journal, oldest first, with the gaps it declared."""

    agent_id: Ident
    journal_id: Uuid
    entries: Annotated[list[JournalEntry], msgspec.Meta(max_length=20_000)]
    gaps: Annotated[list[SeqRange], msgspec.Meta(max_length=1024)] = []


class CollectBatch(msgspec.Struct, array_like=True, frozen=True, tag=1):
    commune: Ident
    batch: U64  # the commune's running number (for acks and logs; not for dedup)
    sent_ns: I64
    journals: Annotated[list[JournalSlice], msgspec.Meta(max_length=5000)] = []
    slots: Annotated[list[SlotRow], msgspec.Meta(max_length=50_000)] = []
    registry: Registry | None = None  # only when it changed
    attestations: Annotated[list[AttestationRow], msgspec.Meta(max_length=20_000)] = []
    registry_digest: Annotated[bytes, msgspec.Meta(max_length=32)] = b""


class AckStatus(IntEnum):
    STORED = 0  # everything in the batch is durably stored at the region
    REFUSED = 1  # not stored (``reason`` says why): the commune must not move on


class CollectAck(msgspec.Struct, array_like=True, frozen=True, tag=1):
    commune: Ident
    batch: U64
    status: AckStatus
    records: U32 = 0  # journal records the batch carried
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


def batch_decoder(counter: RejectionCounter | None = None) -> Decoder[CollectBatch]:
    return Decoder[CollectBatch]("collect/batch", CollectBatch, MAX_BATCH_BYTES, counter)


def ack_decoder(counter: RejectionCounter | None = None) -> Decoder[CollectAck]:
    return Decoder[CollectAck]("collect/ack", CollectAck, MAX_ACK_BYTES, counter)


EPOCH_DAY = 719_163  # date(1970, 1, 1).toordinal()


def day_number(ordinal: int) -> int:
    """A ``date.toordinal()`` as days since 1970-01-01 (what the wire carries)."""
    return ordinal - EPOCH_DAY


def day_ordinal(number: int) -> int:
    return number + EPOCH_DAY
