"""Reading every journal record exactly once, whatever order the records arrived in.

Journal records have no global order at the controller: agents deliver late (after an
outage), twice (after a lost ack) and out of order (go-back-N). Within one journal
they are numbered, though, so a consumer keeps per journal the highest number it has
consumed (``through``) and the *holes* below it: numbers absent when it moved past,
which it looks for again on every read until they arrive, or until the agent declares
them deliberately dropped (``journal_gap``). Every stored record is therefore seen once
and only once, and reading a journal costs two index range scans, not a table scan.

Used by the airing indexer (plays, in its own transaction) and the collector forwarder
(records, committed only when the region acknowledges the batch that carried them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..storage.tables.cursors import JournalCursor
from ..storage.tables.fleet import JournalGap, JournalRecord
from ..storage.tables.registry import Agent
from ..storage.types import utcnow

RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
GAPS: Table = JournalGap.__table__  # type: ignore[attr-defined]
CURSORS: Table = JournalCursor.__table__  # type: ignore[attr-defined]
AGENTS: Table = Agent.__table__  # type: ignore[attr-defined]

Range = tuple[int, int]


@dataclass(frozen=True)
class StoredRecord:
    """One journal row as stored: its identity, tag and msgpack body."""

    agent_id: str
    journal_id: str
    seq: int
    kind: int
    body: bytes


@dataclass
class Position:
    """Where a consumer stands in one journal."""

    agent_id: str
    journal_id: str
    through: int = 0
    holes: list[Range] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.agent_id, self.journal_id


@dataclass
class Reading:
    """What one read found: records in journal order, the positions after consuming
    them (saved by :meth:`JournalCursors.commit`), and the gaps the journals declared."""

    records: list[StoredRecord] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    gaps: dict[tuple[str, str], list[Range]] = field(default_factory=dict)
    consumed: int = 0  # records read, of any kind


def subtract(ranges: Iterable[Range], cut: Iterable[Range]) -> list[Range]:
    """The parts of ``ranges`` no range of ``cut`` covers (both inclusive)."""
    left = sorted(ranges)
    for start, end in sorted(cut):
        remaining: list[Range] = []
        for first, last in left:
            if end < first or start > last:
                remaining.append((first, last))
                continue
            if first < start:
                remaining.append((first, start - 1))
            if last > end:
                remaining.append((end + 1, last))
        left = remaining
    return left


def to_ranges(numbers: Iterable[int]) -> list[Range]:
    ranges: list[Range] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    return ranges


class JournalCursors:
    """The positions of one consumer (``name``) over one commune's journals."""

    def __init__(self, name: str, commune_id: int, dialect: str) -> None:
        self.name = name
        self.commune_id = commune_id
        self._dialect = sqlite if dialect == "sqlite" else postgresql

    # ------------------------------------------------------------------ reading
    def journals(self, conn: Connection) -> list[tuple[str, str]]:
        """Every journal of the commune's agents, found with one index seek per journal
        (a loose index scan) rather than a scan of all their records."""
        agents = conn.execute(select(AGENTS.c.id).where(
            AGENTS.c.commune_id == self.commune_id).order_by(AGENTS.c.id)).scalars().all()
        found: list[tuple[str, str]] = []
        for agent in agents:
            journal = ""
            while True:
                nxt = conn.execute(select(RECORDS.c.journal_id).where(
                    RECORDS.c.agent_id == agent, RECORDS.c.journal_id > journal)
                    .order_by(RECORDS.c.journal_id).limit(1)).scalar()
                if nxt is None:
                    break
                found.append((agent, nxt))
                journal = nxt
        return found

    def positions(self, conn: Connection) -> dict[tuple[str, str], Position]:
        rows = conn.execute(select(CURSORS).where(CURSORS.c.name == self.name,
                                                  CURSORS.c.commune_id == self.commune_id))
        return {(r.agent_id, r.journal_id): Position(
            r.agent_id, r.journal_id, r.through, [tuple(h) for h in json.loads(r.holes)])
            for r in rows}

    def read(self, conn: Connection, limit: int, kinds: Sequence[int] | None = None,
             journals: Sequence[tuple[str, str]] | None = None) -> Reading:
        """Up to ``limit`` records not consumed yet, oldest first per journal, and where
        the positions would stand once they are. ``kinds`` restricts the records
        returned (the positions still move over the others)."""
        known = self.positions(conn)
        reading = Reading()
        budget = limit
        for key in (journals if journals is not None else self.journals(conn)):
            if budget <= 0:
                break
            before = known.get(key) or Position(*key)
            position, records, gaps = self._read_one(conn, before, budget)
            budget -= len(records)
            reading.consumed += len(records)
            if position != before or key not in known:
                reading.positions.append(position)
            if records and gaps:
                reading.gaps[key] = gaps
            wanted = [r for r in records if kinds is None or r.kind in kinds]
            reading.records.extend(wanted)
        return reading

    def _read_one(self, conn: Connection, position: Position, budget: int
                  ) -> tuple[Position, list[StoredRecord], list[Range]]:
        agent, journal = position.key
        mine = and_(RECORDS.c.agent_id == agent, RECORDS.c.journal_id == journal)
        columns = (RECORDS.c.seq, RECORDS.c.kind, RECORDS.c.body)
        found: list[StoredRecord] = []
        if position.holes:
            in_holes = or_(*[RECORDS.c.seq.between(a, b) for a, b in position.holes])
            for row in conn.execute(select(*columns).where(mine, in_holes)
                                    .order_by(RECORDS.c.seq).limit(budget)):
                found.append(StoredRecord(agent, journal, row.seq, row.kind, bytes(row.body)))
        fresh = [StoredRecord(agent, journal, row.seq, row.kind, bytes(row.body))
                 for row in conn.execute(select(*columns).where(
                     mine, RECORDS.c.seq > position.through)
                     .order_by(RECORDS.c.seq).limit(max(0, budget - len(found))))]
        through = fresh[-1].seq if fresh else position.through
        missing = subtract([(position.through + 1, through)] if through > position.through
                           else [], to_ranges(r.seq for r in fresh))
        holes = subtract(position.holes, to_ranges(r.seq for r in found)) + missing
        gaps = self._gaps(conn, position.key)
        holes = subtract(holes, gaps)
        records = sorted(found + fresh, key=lambda r: r.seq)
        return Position(agent, journal, through, sorted(holes)), records, gaps

    @staticmethod
    def _gaps(conn: Connection, key: tuple[str, str]) -> list[Range]:
        return [(row.first_seq, row.last_seq) for row in conn.execute(
            select(GAPS.c.first_seq, GAPS.c.last_seq).where(
                GAPS.c.agent_id == key[0], GAPS.c.journal_id == key[1]))]

    # ------------------------------------------------------------------ writing
    def commit(self, conn: Connection, positions: Iterable[Position]) -> None:
        rows = [{"name": self.name, "agent_id": p.agent_id, "journal_id": p.journal_id,
                 "commune_id": self.commune_id, "through": p.through,
                 "holes": json.dumps([list(h) for h in p.holes]), "updated_at": utcnow()}
                for p in positions]
        if not rows:
            return
        statement = self._dialect.insert(CURSORS)
        statement = statement.on_conflict_do_update(
            index_elements=["name", "agent_id", "journal_id"],
            set_={c: statement.excluded[c] for c in ("through", "holes", "updated_at")})
        conn.execute(statement, rows)
