"""Keeping the airing index up to date at a commune station.

The planner writes ``planned_slot`` and the fleet link stores play records; neither
knows about airings. The indexer catches up from both, incrementally: play records
through a journal cursor (each read once, late ones included), planned slots once
final (their window has ended, so no withdrawal can change them) by their start time,
re-reading a trailing ``lookback`` so a slot the planner recorded late still counts.
Everything it writes is an idempotent upsert, so a crash between passes loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from protocols.clock import Clock
from protocols.messages import Play

from ..storage.database import Database
from ..storage.tables.cursors import CursorState
from ..storage.tables.plans import PlannedSlot
from ..storage.tables.registry import Agent
from ..storage.types import utcnow
from .airings import AiringIndex, PlanFact, PlayFact
from .cursor import JournalCursors, StoredRecord

log = logging.getLogger("loaxa.uptime")
PLAN: Table = PlannedSlot.__table__  # type: ignore[attr-defined]
STATE: Table = CursorState.__table__  # type: ignore[attr-defined]
AGENTS: Table = Agent.__table__  # type: ignore[attr-defined]
PLAY_KIND: int = Play.__struct_config__.tag  # type: ignore[assignment]
NAME = "airings"
_play = msgspec.msgpack.Decoder(Play)


@dataclass(frozen=True)
class IndexPass:
    plays: int
    plans: int


def play_fact(record: StoredRecord) -> PlayFact | None:
    """A stored play record as an airing fact (None for a body that does not decode:
    it was validated on the way in, so only a corrupted database gets here)."""
    try:
        play = _play.decode(record.body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        log.warning("play record %s/%s/%d does not decode", record.agent_id,
                    record.journal_id, record.seq)
        return None
    return PlayFact(record.agent_id, play.slot_id, play.scheduled_ns, int(play.outcome),
                    record.journal_id, record.seq, play.first_sample_ns)


def plan_fact(row: Any) -> PlanFact:
    """A ``planned_slot`` row as the plan's side of an airing (see ``airings``)."""
    withdrawn = row.withdrawn_at
    start_ns: int = row.start_ns
    before_start = withdrawn is not None and withdrawn.timestamp() * 1e9 < start_ns
    return PlanFact(row.agent_id, row.slot_id, start_ns, row.window_end_ns,
                    row.programme_id, targeted=not before_start and not row.fragment)


def final_plans(conn: Connection, agents: list[str], since_ns: int,
                until_ns: int) -> list[PlanFact]:
    """Slots of ``agents`` whose window ended in ``(since_ns, until_ns]`` (a window ends
    at most a day after its start, which bounds the index range scanned)."""
    facts: list[PlanFact] = []
    for start in range(0, len(agents), 500):
        rows = conn.execute(select(PLAN.c.agent_id, PLAN.c.slot_id, PLAN.c.start_ns,
                                   PLAN.c.window_end_ns, PLAN.c.programme_id,
                                   PLAN.c.withdrawn_at, PLAN.c.fragment).where(
            PLAN.c.agent_id.in_(agents[start:start + 500]),
            PLAN.c.start_ns > since_ns - 86_400 * 10**9, PLAN.c.start_ns <= until_ns,
            PLAN.c.window_end_ns > since_ns, PLAN.c.window_end_ns <= until_ns))
        facts.extend(plan_fact(row) for row in rows)
    return facts


class AiringIndexer:
    def __init__(self, db: Database, commune_id: int, zone: str, clock: Clock, *,
                 lookback_s: int = 2 * 86_400, batch_records: int = 20_000) -> None:
        self.db = db
        self.commune_id = commune_id
        self.clock = clock
        self.index = AiringIndex(zone, db.dialect)
        self.cursors = JournalCursors(NAME, commune_id, db.dialect)
        self._dialect = sqlite if db.dialect == "sqlite" else postgresql
        self._lookback_ns = lookback_s * 10**9
        self._batch = batch_records

    def catch_up(self) -> IndexPass:
        """Index everything stored so far; returns how many plays and plan rows."""
        plays = plans = 0
        while True:
            found_plays, found_plans, more = self._once(first=plans == 0 and plays == 0)
            plays += found_plays
            plans += found_plans
            if not more:
                return IndexPass(plays, plans)

    def _once(self, *, first: bool) -> tuple[int, int, bool]:
        now = self.clock.wall_ns()
        with self.db.engine.begin() as conn:
            reading = self.cursors.read(conn, self._batch, kinds=(PLAY_KIND,))
            plays = [f for f in map(play_fact, reading.records) if f is not None]
            plans: list[PlanFact] = []
            if first:
                mark = self._mark(conn)
                agents = list(conn.execute(select(AGENTS.c.id).where(
                    AGENTS.c.commune_id == self.commune_id)).scalars())
                plans = final_plans(conn, agents, mark - self._lookback_ns, now)
                self._set_mark(conn, max(mark, now))
            self.index.add(conn, self.commune_id, plans, plays)
            self.cursors.commit(conn, reading.positions)
        return len(plays), len(plans), reading.consumed >= self._batch

    def _mark(self, conn: Connection) -> int:
        value = conn.execute(select(STATE.c.value).where(
            STATE.c.commune_id == self.commune_id, STATE.c.name == f"{NAME}.plans")).scalar()
        return int(value) if value else 0

    def _set_mark(self, conn: Connection, mark: int) -> None:
        statement = self._dialect.insert(STATE).values(
            commune_id=self.commune_id, name=f"{NAME}.plans", value=str(mark),
            updated_at=utcnow())
        conn.execute(statement.on_conflict_do_update(
            index_elements=["commune_id", "name"],
            set_={"value": statement.excluded.value,
                  "updated_at": statement.excluded.updated_at}))


def index_all(db: Database, zone: str, clock: Clock) -> None:
    """Catch up the airing index of every commune with agents in this database (one
    commune at a station; several at a hub that shares a database)."""
    with db.engine.connect() as conn:
        communes = sorted(set(conn.execute(select(AGENTS.c.commune_id)).scalars()))
    for commune_id in communes:
        AiringIndexer(db, commune_id, zone, clock).catch_up()
