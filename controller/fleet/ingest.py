"""Storing journal batches exactly once, in bulk.

Many agents' batches are stored in one transaction with SQLAlchemy Core multi-row
upserts keyed on the durable identity ``(agent_id, journal_id, seq)``: a record
delivered twice is stored once, a reflashed agent's new journal never collides with the
old one, and acknowledgements go out only after the commit, so an acknowledged record
is durable at the controller.

Availability spans are folded in the same transaction with an order-independent merge
(start from the open record, end = the furthest extension or close by monotonic time,
evidence = the weakest seen, closed once closed), so late, duplicated or reordered
records give the same spans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, TypeDecorator, case, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from protocols.codec import encode
from protocols.messages import (
    Anchor,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalAck,
    JournalBatch,
    SeqRange,
)

from ..storage.database import Database
from ..storage.tables.fleet import AvailabilitySpan, JournalGap, JournalRecord
from ..storage.types import utcnow
from ..uptime.rollup import BootKey, RollupMaintainer

RECORDS: Table = JournalRecord.__table__  # type: ignore[attr-defined]
GAPS: Table = JournalGap.__table__  # type: ignore[attr-defined]
SPANS: Table = AvailabilitySpan.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Delivery:
    """One journal batch as received from one agent of a known commune."""

    agent_id: str
    commune_id: int
    batch: JournalBatch


@dataclass
class _Span:
    agent_id: str
    journal_id: str
    interval: int
    commune_id: int
    boot: int
    start_mono_ns: int | None = None
    start_wall_ns: int | None = None
    end_mono_ns: int = -1
    end_wall_ns: int = 0
    evidence: int = 255
    closed: bool = False

    def see_end(self, mono: int, wall: int) -> None:
        if mono > self.end_mono_ns:
            self.end_mono_ns, self.end_wall_ns = mono, wall

    def row(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Prepared:
    """One transaction's worth of deliveries, folded and converted, not yet stored."""

    rows: list[dict[str, Any]]
    copy_rows: list[list[Any]]
    gaps: list[dict[str, Any]]
    spans: list[dict[str, Any]]
    boots: dict[int, set[BootKey]]
    acks: list[tuple[str, JournalAck]]


def ack_ranges(seqs: Iterable[int], gaps: Iterable[SeqRange] = ()) -> list[SeqRange]:
    """Contiguous ranges covering ``seqs`` and the declared ``gaps`` (what an
    acknowledgement lists: the agent may forget both once the controller has them)."""
    spans = sorted([(seq, seq) for seq in set(seqs)] + [(g.first, g.last) for g in gaps])
    ranges: list[SeqRange] = []
    for first, last in spans:
        if ranges and first <= ranges[-1].last + 1:
            if last > ranges[-1].last:
                ranges[-1] = SeqRange(ranges[-1].first, last)
        else:
            ranges.append(SeqRange(first, last))
    return ranges


class JournalIngest:
    """``rollups``, when given, are refreshed in the same transaction as the records, so
    a committed record is always reflected in the daily availability it touches."""

    def __init__(self, db: Database, chunk_rows: int = 2000,
                 rollups: RollupMaintainer | None = None, *,
                 bulk_copy: bool | None = None) -> None:
        self.db = db
        self._dialect = sqlite if db.dialect == "sqlite" else postgresql
        self._chunk = chunk_rows
        self._rollups = rollups
        # PostgreSQL: records go in through COPY (see ``_copy_insert_ignore``).
        self._copy = db.dialect == "postgresql" if bulk_copy is None else bulk_copy

    def store(self, deliveries: Sequence[Delivery]) -> list[tuple[str, JournalAck]]:
        """Store every delivery in one transaction; return the acks to send afterwards."""
        return self.commit(self.prepare(deliveries))

    def prepare(self, deliveries: Sequence[Delivery]) -> Prepared:
        """Everything of a transaction that needs no database: a caller may prepare the
        next transaction while the database works on this one (``FleetLink`` does)."""
        now = utcnow()
        rows: list[dict[str, Any]] = []
        gaps: list[dict[str, Any]] = []
        spans: dict[tuple[str, str, int], _Span] = {}
        acks: list[tuple[str, JournalAck]] = []
        boots: dict[int, set[BootKey]] = {}
        for delivery in deliveries:
            journal = delivery.batch.journal_id.hex()
            for entry in delivery.batch.entries:
                rows.append(self._row(delivery, journal, entry.seq, entry.record, now))
                self._fold_span(spans, delivery, journal, entry.seq, entry.record)
                if isinstance(entry.record, (IntervalOpen, IntervalExtend, IntervalClose,
                                             Anchor)):
                    boots.setdefault(delivery.commune_id, set()).add(
                        BootKey(delivery.agent_id, journal, entry.record.stamp.boot))
            gaps += [{"agent_id": delivery.agent_id, "journal_id": journal,
                      "first_seq": gap.first, "last_seq": gap.last,
                      "commune_id": delivery.commune_id} for gap in delivery.batch.gaps]
            stored = ack_ranges((entry.seq for entry in delivery.batch.entries),
                                delivery.batch.gaps)
            if stored:
                acks.append((delivery.agent_id, JournalAck(delivery.batch.journal_id, stored)))
        copy_rows = self._copy_rows(RECORDS, rows) if self._copy else []
        return Prepared(rows=[] if self._copy else rows, copy_rows=copy_rows, gaps=gaps,
                        spans=[span.row() for span in spans.values()], boots=boots, acks=acks)

    def commit(self, prepared: Prepared) -> list[tuple[str, JournalAck]]:
        """Store a prepared transaction; return its acks (to send only now: committed)."""
        with self.db.engine.begin() as conn:
            if self._copy:
                self._copy_insert_ignore(conn, RECORDS, prepared.copy_rows)
            else:
                for start in range(0, len(prepared.rows), self._chunk):
                    self._insert_ignore(conn, RECORDS,
                                        prepared.rows[start:start + self._chunk])
            self._insert_ignore(conn, GAPS, prepared.gaps)
            self._merge_spans(conn, prepared.spans)
            if self._rollups is not None:
                for commune_id, touched in prepared.boots.items():
                    self._rollups.refresh(conn, commune_id, touched)
        return prepared.acks

    @staticmethod
    def _row(delivery: Delivery, journal: str, seq: int, record: Any,
             now: dt.datetime) -> dict[str, Any]:
        stamp = record.stamp
        return {"agent_id": delivery.agent_id, "journal_id": journal, "seq": seq,
                "commune_id": delivery.commune_id, "kind": type(record).__struct_config__.tag,
                "boot": stamp.boot, "mono_ns": stamp.mono_ns, "wall_ns": stamp.wall_ns,
                "quality": int(stamp.quality),
                "interval": seq if isinstance(record, IntervalOpen) else getattr(
                    record, "interval", None),
                "body": encode(record), "received_at": now}

    @staticmethod
    def _fold_span(spans: dict[tuple[str, str, int], _Span], delivery: Delivery, journal: str,
                   seq: int, record: Any) -> None:
        if isinstance(record, IntervalOpen):
            interval = seq
        elif isinstance(record, (IntervalExtend, IntervalClose)):
            interval = record.interval
        else:
            return
        key = (delivery.agent_id, journal, interval)
        span = spans.get(key)
        if span is None:
            span = spans[key] = _Span(delivery.agent_id, journal, interval, delivery.commune_id,
                                      record.stamp.boot)
        stamp = record.stamp
        span.see_end(stamp.mono_ns, stamp.wall_ns)
        if isinstance(record, IntervalOpen):
            span.start_mono_ns, span.start_wall_ns = stamp.mono_ns, stamp.wall_ns
            span.evidence = min(span.evidence, int(record.evidence))
        elif isinstance(record, IntervalExtend):
            span.evidence = min(span.evidence, int(record.evidence))
        else:
            span.closed = True

    def _insert_ignore(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = self._dialect.insert(table).on_conflict_do_nothing(
            index_elements=[c.name for c in table.primary_key.columns])
        conn.execute(statement, rows)

    def _copy_rows(self, table: Table, rows: list[dict[str, Any]]) -> list[list[Any]]:
        """The rows as COPY takes them: in column order, custom types converted."""
        convert = {column.name: column.type for column in table.columns
                   if isinstance(column.type, TypeDecorator)}
        dialect = self.db.engine.dialect
        columns = [column.name for column in table.columns]
        return [[convert[name].process_bind_param(row[name], dialect)
                 if name in convert else row[name] for name in columns] for row in rows]

    def _copy_insert_ignore(self, conn: Connection, table: Table,
                            rows: list[list[Any]]) -> None:
        """PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT ... ON
        CONFLICT DO NOTHING``: the same rows as ``_insert_ignore`` (a duplicate, within the
        batch or already stored, is skipped), for about half the CPU on both sides.
        psycopg runs an executemany as one INSERT per row on the server; a backlog drain
        is hundreds of thousands of rows (``bench/bench_backlog.py``)."""
        if not rows:
            return
        names = ", ".join(f'"{column.name}"' for column in table.columns)
        stage = f"loaxa_stage_{table.name}"
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{stage}" '
                           f'(LIKE "{table.name}") ON COMMIT DELETE ROWS')
            with cursor.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
            key = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
            cursor.execute(f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
                           f'FROM "{stage}" ON CONFLICT ({key}) DO NOTHING')
            cursor.execute(f'DELETE FROM "{stage}"')

    def _merge_spans(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = self._dialect.insert(SPANS)
        new = statement.excluded
        old = SPANS.c
        further = new.end_mono_ns > old.end_mono_ns
        statement = statement.on_conflict_do_update(
            index_elements=["agent_id", "journal_id", "interval"],
            set_={
                "start_mono_ns": func.coalesce(new.start_mono_ns, old.start_mono_ns),
                "start_wall_ns": func.coalesce(new.start_wall_ns, old.start_wall_ns),
                "end_mono_ns": case((further, new.end_mono_ns), else_=old.end_mono_ns),
                "end_wall_ns": case((further, new.end_wall_ns), else_=old.end_wall_ns),
                "evidence": case((new.evidence < old.evidence, new.evidence),
                                 else_=old.evidence),
                "closed": old.closed | new.closed,
            })
        conn.execute(statement, rows)
