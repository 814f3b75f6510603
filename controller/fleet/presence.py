"""Who is online, as heard from births, deaths and heartbeats.

Kept in memory and updated the moment a message arrives, so the operator sees liveness
without waiting for database writes; persisted to ``agent_presence`` in bulk by
``flush()``. An agent is online when its latest birth is newer than its latest death
(a Last Will carries the session it was registered with, so a stale Will left over from
an earlier connection is recognised and ignored) and it has been heard from recently.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from protocols.clock import Clock
from protocols.messages import Birth, Death, Heartbeat, Telemetry

from ..storage.database import Database
from ..storage.tables.fleet import AgentPresence

PRESENCE: Table = AgentPresence.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LiveState:
    agent_id: str
    commune_id: int
    online: bool = False
    session: int = 0
    death_session: int = -1
    software: str = ""
    birth_at: dt.datetime | None = None
    death_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None
    heartbeat: dict[str, Any] = field(default_factory=dict)
    telemetry: dict[str, Any] = field(default_factory=dict)


Transition = Callable[[LiveState, LiveState], None]
#: The live states of the given agents (a running fleet link's ``presence.get``).
Presence = Callable[[list[str]], Mapping[str, LiveState]]
#: A plan document's (epoch, version).
PlanMark = tuple[int, int]


def vouched_plan(state: LiveState | None) -> PlanMark | None:
    """The plan the agent's telemetry says it applied, if it also says that no item its
    documents need is missing from its cache: every item of that plan is then on the box."""
    if state is None:
        return None
    try:
        applied = state.telemetry["applied"]["plan"]
        if state.telemetry["cache"]["missing"] != 0:
            return None
        return int(applied["epoch"]), int(applied["version"])
    except (KeyError, TypeError, ValueError):
        return None


def to_plain(value: Any) -> Any:
    """A wire struct as JSON-ready dicts (by field name, not the compact array form)."""
    if isinstance(value, msgspec.Struct):
        return {name: to_plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _to_dict(message: Any) -> dict[str, Any]:
    plain = to_plain(message)
    assert isinstance(plain, dict)
    return plain


class PresenceTracker:
    def __init__(self, clock: Clock, silence_s: float = 210.0,
                 on_transition: Transition | None = None) -> None:
        self._clock = clock
        self._silence_ns = int(silence_s * 1e9)
        self._states: dict[str, LiveState] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._on_transition = on_transition

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.wall_ns() / 1e9, dt.UTC)

    def _update(self, agent_id: str, commune_id: int,
                change: Callable[[LiveState], LiveState]) -> LiveState:
        with self._lock:
            before = self._states.get(agent_id) or LiveState(agent_id, commune_id)
            after = change(before)
            self._states[agent_id] = after
            self._dirty.add(agent_id)
        if before.online != after.online and self._on_transition is not None:
            self._on_transition(before, after)
        return after

    def birth(self, commune_id: int, birth: Birth) -> LiveState:
        now = self._now()

        def change(s: LiveState) -> LiveState:
            if birth.session < s.session:
                return s  # an older retained birth arriving late
            return replace(s, session=birth.session, software=birth.software,
                           online=birth.session > s.death_session, birth_at=now,
                           last_seen_at=now)
        return self._update(birth.agent_id, commune_id, change)

    def death(self, commune_id: int, death: Death) -> LiveState:
        now = self._now()

        def change(s: LiveState) -> LiveState:
            if death.session < s.session:
                return s  # the Will of an earlier connection: stale
            return replace(s, death_session=max(s.death_session, death.session), online=False,
                           death_at=now)
        return self._update(death.agent_id, commune_id, change)

    def heartbeat(self, agent_id: str, commune_id: int, beat: Heartbeat) -> LiveState:
        now = self._now()

        def change(s: LiveState) -> LiveState:
            session = max(s.session, beat.session)
            return replace(s, session=session, online=session > s.death_session,
                           last_seen_at=now, heartbeat=_to_dict(beat))
        return self._update(agent_id, commune_id, change)

    def telemetry(self, agent_id: str, commune_id: int, telemetry: Telemetry) -> LiveState:
        now = self._now()
        return self._update(agent_id, commune_id, lambda s: replace(
            s, telemetry=_to_dict(telemetry), software=telemetry.software, last_seen_at=now))

    def sweep(self) -> list[LiveState]:
        """Mark agents silent for too long offline (a broker that never sent the Will)."""
        now = self._now()
        silent = []
        with self._lock:
            candidates = [s for s in self._states.values() if s.online and s.last_seen_at
                          and (now - s.last_seen_at).total_seconds() * 1e9 > self._silence_ns]
        for state in candidates:
            silent.append(self._update(state.agent_id, state.commune_id,
                                       lambda s: replace(s, online=False)))
        return silent

    def get(self, agent_ids: list[str] | None = None) -> dict[str, LiveState]:
        with self._lock:
            if agent_ids is None:
                return dict(self._states)
            return {a: self._states[a] for a in agent_ids if a in self._states}

    def restore(self, db: Database) -> None:
        """Start from what was persisted (retained births then refine it)."""
        with db.session() as session:
            rows = session.exec(select(AgentPresence)).all()
        with self._lock:
            for row in rows:
                self._states[row.agent_id] = LiveState(
                    row.agent_id, row.commune_id, online=False, session=row.session,
                    software=row.software, birth_at=row.birth_at, death_at=row.death_at,
                    last_seen_at=row.last_seen_at, heartbeat=json.loads(row.heartbeat),
                    telemetry=json.loads(row.telemetry))

    def flush(self, db: Database) -> int:
        """Persist changed states in one upsert; returns how many."""
        with self._lock:
            dirty = [self._states[a] for a in self._dirty]
            self._dirty.clear()
        if not dirty:
            return 0
        rows = [{"agent_id": s.agent_id, "commune_id": s.commune_id, "online": s.online,
                 "session": s.session, "software": s.software, "birth_at": s.birth_at,
                 "death_at": s.death_at, "last_seen_at": s.last_seen_at,
                 "heartbeat": json.dumps(s.heartbeat, default=str),
                 "telemetry": json.dumps(s.telemetry, default=str)} for s in dirty]
        dialect = sqlite if db.dialect == "sqlite" else postgresql
        statement = dialect.insert(PRESENCE)
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id"],
            set_={c: statement.excluded[c] for c in rows[0] if c != "agent_id"})
        with db.engine.begin() as conn:
            conn.execute(statement, rows)
        return len(rows)
