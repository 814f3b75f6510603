"""What a technician looks at on one agent: its last telemetry and heartbeat (from the
fleet link's presence tracker when it runs, else as last persisted) and its recent
journal records (events, plays, boots, availability intervals), newest first.

Read-only; anyone who may read the agent's commune may read these.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from sqlmodel import col, select

from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.fleet import AgentPresence, JournalRecord
from protocols.messages import (
    Anchor,
    Boot,
    Event,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    Play,
)
from protocols.messages import JournalRecord as WireRecord
from protocols.timefields import TimeQuality

from .agents import find_agent
from .timebase import StationTime
from .work import reading

MAX_RECORDS = 200
_decode = msgspec.msgpack.Decoder(WireRecord)
KIND_NAMES: dict[type, str] = {Boot: "boot", Anchor: "anchor", IntervalOpen: "interval_open",
                               IntervalExtend: "interval_extend",
                               IntervalClose: "interval_close", Event: "event", Play: "play"}


@dataclass(frozen=True)
class DeviceRecord:
    seq: int
    kind: str
    at: dt.datetime
    time_trusted: bool
    code: str  # the event code, the play outcome, the close reason, ...
    detail: str


@dataclass(frozen=True)
class DeviceTelemetry:
    agent_id: str
    online: bool
    last_seen: dt.datetime | None
    heartbeat: dict[str, Any]
    telemetry: dict[str, Any]


def describe(seq: int, row_wall_ns: int, quality: int, body: bytes) -> DeviceRecord:
    at = dt.datetime.fromtimestamp(row_wall_ns / 1e9, dt.UTC)
    trusted = TimeQuality(quality).trusted if quality in (0, 1, 2) else False
    try:
        record = _decode.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return DeviceRecord(seq, "unknown", at, trusted, "", "")
    kind = KIND_NAMES.get(type(record), "unknown")
    code, detail = "", ""
    if isinstance(record, Event):
        code, detail = record.code, record.detail
    elif isinstance(record, Play):
        code = record.outcome.name.lower()
        detail = record.slot_id + (f" ({record.reason})" if record.reason else "")
    elif isinstance(record, IntervalClose):
        code = record.reason.name.lower()
    elif isinstance(record, (IntervalOpen, IntervalExtend)):
        code = record.evidence.name.lower()
    elif isinstance(record, Boot):
        code, detail = "boot", record.software
    return DeviceRecord(seq, kind, at, trusted, code, detail)


class Presence(Protocol):
    """What the fleet link knows of an agent right now (its presence tracker's state)."""

    @property
    def online(self) -> bool: ...

    @property
    def last_seen_at(self) -> dt.datetime | None: ...

    @property
    def heartbeat(self) -> dict[str, Any]: ...

    @property
    def telemetry(self) -> dict[str, Any]: ...


class PresenceSource(Protocol):
    def get(self, agent_ids: list[str] | None = None) -> Mapping[str, Presence]: ...


class DeviceLog:
    def __init__(self, db: Database, time: StationTime) -> None:
        self.db = db
        self.time = time
        self.presence: PresenceSource | None = None

    def plug(self, presence: PresenceSource | None) -> None:
        """The fleet link's presence tracker (None when it stops)."""
        self.presence = presence

    def records(self, who: Principal, agent_id: str, limit: int = 50,
                include_extends: bool = False) -> list[DeviceRecord]:
        """The newest ``limit`` records (interval extensions left out unless asked:
        they are the agent's every-few-minutes "still up" and would hide the rest)."""
        limit = max(1, min(limit, MAX_RECORDS))
        with reading(self.db, self.time) as work:
            agent = find_agent(work.session, agent_id)
            Scope(work.session, who, self.time.today()).require(
                Permission.READ, agent.commune_id, hide=True)
            statement = select(JournalRecord.seq, JournalRecord.wall_ns,
                               JournalRecord.quality, JournalRecord.body).where(
                JournalRecord.agent_id == agent_id)
            if not include_extends:
                statement = statement.where(
                    JournalRecord.kind != IntervalExtend.__struct_config__.tag)
            rows = work.session.exec(statement.order_by(
                col(JournalRecord.wall_ns).desc(), col(JournalRecord.seq).desc()).limit(limit))
            return [describe(seq, wall, quality, bytes(body)) for seq, wall, quality, body
                    in rows]

    def telemetry(self, who: Principal, agent_id: str) -> DeviceTelemetry:
        with reading(self.db, self.time) as work:
            agent = find_agent(work.session, agent_id)
            Scope(work.session, who, self.time.today()).require(
                Permission.READ, agent.commune_id, hide=True)
            source = self.presence
            if source is not None:
                state = source.get([agent_id]).get(agent_id)
                if state is not None:
                    return DeviceTelemetry(agent_id, state.online, state.last_seen_at,
                                           dict(state.heartbeat), dict(state.telemetry))
            row = work.session.get(AgentPresence, agent_id)
            if row is None:
                return DeviceTelemetry(agent_id, False, None, {}, {})
            return DeviceTelemetry(agent_id, row.online, row.last_seen_at,
                                   _json(row.heartbeat), _json(row.telemetry))


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
