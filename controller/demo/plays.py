"""What the station has heard the agents air: their play records, as stored.

Each agent journals a ``Play`` record (proof of play) when a slot ends; the record
crosses the control plane in an acknowledged journal batch and is stored once in
``journal_record``. The demo reads them back from there, as the reports do, to show
each agent's scheduled start beside the first sample its sound card presented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Table, select

from protocols.messages import Play, PlayOutcome

from ..i18n import _
from ..reports import labels
from ..storage.database import Database
from ..storage.tables.fleet import JournalRecord

RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
PLAY_KIND: int = Play.__struct_config__.tag  # type: ignore[assignment]
_play = msgspec.msgpack.Decoder(Play)


@dataclass(frozen=True)
class PlaySeen:
    agent_id: str
    slot_id: str
    scheduled_ns: int
    first_sample_ns: int | None
    end_ns: int | None
    outcome: str  # aired, partial, preempted, missed, skipped, failed
    reason: str
    received_at: dt.datetime

    @property
    def start_error_ms(self) -> float | None:
        """How far the first sample was from the scheduled start (+ late, - early)."""
        if self.first_sample_ns is None:
            return None
        return round((self.first_sample_ns - self.scheduled_ns) / 1e6, 1) + 0.0  # no -0.0

    def as_dict(self, zone: ZoneInfo) -> dict[str, Any]:
        return {"agent": self.agent_id, "slot": self.slot_id, "outcome": self.outcome,
                "reason": self.reason, "scheduled": local_iso(self.scheduled_ns, zone),
                "first_sample": local_iso(self.first_sample_ns, zone)
                if self.first_sample_ns is not None else None,
                "ended": local_iso(self.end_ns, zone) if self.end_ns is not None else None,
                "start_error_ms": self.start_error_ms,
                "received_at": self.received_at.astimezone(dt.UTC).isoformat()}


def local_iso(ns: int, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, zone).isoformat(timespec="milliseconds")


def clock_text(ns: int, zone: ZoneInfo) -> str:
    """``HH:MM:SS.mmm`` in the commune's time."""
    return dt.datetime.fromtimestamp(ns / 1e9, zone).strftime("%H:%M:%S.%f")[:-3]


def plays_of(db: Database, agent_ids: Iterable[str]) -> list[PlaySeen]:
    """Every play record stored for these agents, oldest first."""
    ids = sorted(set(agent_ids))
    if not ids:
        return []
    with db.engine.connect() as conn:
        rows = conn.execute(select(RECORDS.c.agent_id, RECORDS.c.body,
                                   RECORDS.c.received_at).where(
            RECORDS.c.kind == PLAY_KIND, RECORDS.c.agent_id.in_(ids))
            .order_by(RECORDS.c.wall_ns)).all()
    seen = []
    for agent_id, body, received_at in rows:
        try:
            play = _play.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if received_at is not None and received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=dt.UTC)
        seen.append(PlaySeen(agent_id, play.slot_id, play.scheduled_ns, play.first_sample_ns,
                             play.end_ns, PlayOutcome(play.outcome).name.lower(),
                             play.reason, received_at))
    return seen


def find(plays: Iterable[PlaySeen], agent_id: str, slot_id: str) -> PlaySeen | None:
    """The agent's record for a slot (the last one, should a slot have two)."""
    found = None
    for play in plays:
        if play.agent_id == agent_id and play.slot_id == slot_id:
            found = play
    return found


def outcome_word(outcome: str) -> str:
    """A play record's outcome in the reader's language (the reports' words)."""
    return _(labels.VALUES[outcome]) if outcome in labels.VALUES else outcome
