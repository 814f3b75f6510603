"""Targeted and aired items per agent: the airing half of "village reached" (DESIGN §4).

An item counts as *targeted* at an agent when its planned slot was not withdrawn
before its start (a pre-emption fragment is part of the item it interrupts, not a new
one) and its window has ended, and as *aired* when a play record of the agent for that
``slot_id`` says ``AIRED``. The two sides reach the controller separately and in any
order, so each is upserted into ``airing_slot`` touching only its own columns (the best
outcome wins), then the touched days and months are re-summed from the slot rows: the
counts are a function of what is stored, never of the order it came in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, case, delete, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from protocols.messages import PlayOutcome

from ..storage.tables.airings import AiringDay, AiringMonth, AiringSlot
from ..storage.types import utcnow
from .keys import pairs_in
from .rollup import next_month

SLOTS: Table = AiringSlot.__table__  # type: ignore[attr-defined]
DAYS: Table = AiringDay.__table__  # type: ignore[attr-defined]
MONTHS: Table = AiringMonth.__table__  # type: ignore[attr-defined]
AIRED = int(PlayOutcome.AIRED)


@dataclass(frozen=True)
class PlanFact:
    """The plan's side of one slot, once final."""

    agent_id: str
    slot_id: str
    start_ns: int
    window_end_ns: int
    programme_id: str
    targeted: bool


@dataclass(frozen=True)
class PlayFact:
    """The agent's side: one play record for a slot."""

    agent_id: str
    slot_id: str
    scheduled_ns: int
    outcome: int
    journal_id: str
    seq: int
    first_sample_ns: int | None = None


class AiringIndex:
    def __init__(self, zone: str, dialect: str) -> None:
        self.zone = zone
        self._tz = ZoneInfo(zone)
        self._dialect = sqlite if dialect == "sqlite" else postgresql

    def day_of(self, wall_ns: int) -> dt.date:
        return dt.datetime.fromtimestamp(wall_ns / 1e9, self._tz).date()

    def day_bounds(self, day: dt.date) -> tuple[int, int]:
        start = dt.datetime.combine(day, dt.time(), self._tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self._tz)
        return int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9

    def add(self, conn: Connection, commune_id: int, plans: Iterable[PlanFact] = (),
            plays: Iterable[PlayFact] = ()) -> int:
        """Store both sides; re-sum what they touch. Returns the days re-summed."""
        touched: set[tuple[str, dt.date]] = set()
        now = utcnow()
        plan_rows: list[dict[str, Any]] = [
            {"agent_id": p.agent_id, "slot_id": p.slot_id, "commune_id": commune_id,
             "start_ns": p.start_ns, "targeted": p.targeted, "programme_id": p.programme_id,
             "window_end_ns": p.window_end_ns, "updated_at": now} for p in plans]
        play_rows: list[dict[str, Any]] = [
            {"agent_id": p.agent_id, "slot_id": p.slot_id, "commune_id": commune_id,
             "start_ns": p.scheduled_ns, "outcome": int(p.outcome),
             "play_journal_id": p.journal_id, "play_seq": p.seq,
             "first_sample_ns": p.first_sample_ns, "updated_at": now} for p in plays]
        for rows in (plan_rows, play_rows):
            keys = [(r["agent_id"], r["slot_id"]) for r in rows]
            for start in range(0, len(keys), 200):
                chunk = keys[start:start + 200]
                touched |= {(row.agent_id, self.day_of(row.start_ns)) for row in conn.execute(
                    select(SLOTS.c.agent_id, SLOTS.c.start_ns).where(
                        pairs_in(SLOTS.c.agent_id, SLOTS.c.slot_id, chunk)))}
            touched |= {(r["agent_id"], self.day_of(r["start_ns"])) for r in rows}
        self._upsert_plans(conn, plan_rows)
        self._upsert_plays(conn, play_rows)
        self.resum(conn, commune_id, touched)
        return len(touched)

    def _upsert_plans(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # One row per slot per statement: PostgreSQL refuses to update a row twice.
        rows = list({(r["agent_id"], r["slot_id"]): r for r in rows}.values())
        statement = self._dialect.insert(SLOTS)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "slot_id"],
            set_={"start_ns": new.start_ns, "targeted": new.targeted,
                  "programme_id": new.programme_id, "window_end_ns": new.window_end_ns,
                  "updated_at": new.updated_at})
        for start in range(0, len(rows), 1000):
            conn.execute(statement, rows[start:start + 1000])

    def _upsert_plays(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = self._dialect.insert(SLOTS)
        new, old = statement.excluded, SLOTS.c
        # Better = a lower outcome (AIRED is 0); ties go to the lower journal position,
        # so duplicates and reordering always leave the same row.
        better = or_(old.outcome.is_(None), new.outcome < old.outcome,
                     and_(new.outcome == old.outcome,
                          tuple_(new.play_journal_id, new.play_seq)
                          < tuple_(old.play_journal_id, old.play_seq)))

        def pick(column: str) -> object:
            return case((better, new[column]), else_=old[column])

        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "slot_id"],
            set_={"outcome": pick("outcome"), "play_journal_id": pick("play_journal_id"),
                  "play_seq": pick("play_seq"), "first_sample_ns": pick("first_sample_ns"),
                  "updated_at": new.updated_at})
        # One row per slot per statement: PostgreSQL refuses to update a row twice.
        best: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            key = (row["agent_id"], row["slot_id"])
            held = best.get(key)
            if held is None or _rank(row) < _rank(held):
                best[key] = row
        ordered = [best[k] for k in sorted(best, key=str)]
        for start in range(0, len(ordered), 1000):
            conn.execute(statement, ordered[start:start + 1000])

    def resum(self, conn: Connection, commune_id: int,
              touched: set[tuple[str, dt.date]]) -> None:
        if not touched:
            return
        agents = sorted({agent for agent, _ in touched})
        low = self.day_bounds(min(day for _, day in touched))[0]
        high = self.day_bounds(max(day for _, day in touched))[1]
        counts: dict[tuple[str, dt.date], list[int]] = {}
        for start in range(0, len(agents), 500):
            for row in conn.execute(select(SLOTS.c.agent_id, SLOTS.c.start_ns,
                                           SLOTS.c.outcome).where(
                    SLOTS.c.agent_id.in_(agents[start:start + 500]),
                    SLOTS.c.start_ns >= low, SLOTS.c.start_ns < high,
                    SLOTS.c.targeted.is_(True))):
                key = (row.agent_id, self.day_of(row.start_ns))
                if key in touched:
                    total = counts.setdefault(key, [0, 0])
                    total[0] += 1
                    total[1] += row.outcome == AIRED
        self._store(conn, DAYS, "day", commune_id, touched, counts)
        months = {(agent, day.replace(day=1)) for agent, day in touched}
        first = min(m for _, m in months)
        last = next_month(max(m for _, m in months))
        month_counts: dict[tuple[str, dt.date], list[int]] = {}
        for start in range(0, len(agents), 500):
            for month_row in conn.execute(select(DAYS.c.agent_id, DAYS.c.day, DAYS.c.targeted,
                                           DAYS.c.aired).where(
                    DAYS.c.zone == self.zone, DAYS.c.agent_id.in_(agents[start:start + 500]),
                    DAYS.c.day >= first, DAYS.c.day < last)):
                key = (month_row.agent_id, month_row.day.replace(day=1))
                if key in months:
                    total = month_counts.setdefault(key, [0, 0])
                    total[0] += month_row.targeted
                    total[1] += month_row.aired
        self._store(conn, MONTHS, "month", commune_id, months, month_counts)

    def _store(self, conn: Connection, table: Table, column: str, commune_id: int,
               keys: set[tuple[str, dt.date]],
               counts: dict[tuple[str, dt.date], list[int]]) -> None:
        empty = sorted(keys - set(counts))
        for start in range(0, len(empty), 200):
            conn.execute(delete(table).where(
                table.c.zone == self.zone,
                pairs_in(table.c.agent_id, table.c[column], empty[start:start + 200])))
        if not counts:
            return
        rows = [{"agent_id": agent, "zone": self.zone, column: when,
                 "commune_id": commune_id, "targeted": c[0], "aired": c[1]}
                for (agent, when), c in sorted(counts.items())]
        statement = self._dialect.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "zone", column],
            set_={"targeted": statement.excluded.targeted, "aired": statement.excluded.aired})
        for start in range(0, len(rows), 1000):
            conn.execute(statement, rows[start:start + 1000])


def _rank(row: dict[str, Any]) -> tuple[int, str, int]:
    outcome, journal, seq = row["outcome"], row["play_journal_id"], row["play_seq"]
    assert isinstance(outcome, int) and isinstance(journal, str) and isinstance(seq, int)
    return outcome, journal, seq
