"""Journal ingest on both backends: exactly once, whatever the delivery."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import select

from controller.fleet.ingest import Delivery, JournalIngest, ack_ranges
from controller.storage.database import Database
from controller.storage.tables.fleet import AvailabilitySpan, JournalGap, JournalRecord
from controller.storage.tables.registry import AdminUnit, UnitLevel
from protocols.messages import (
    CloseReason,
    Event,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalBatch,
    JournalEntry,
    SeqRange,
)
from protocols.timefields import Stamp, TimeQuality

S = 10**9


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    with database.transaction() as session:
        session.add(AdminUnit(key="xa-a", level=UnitLevel.COMMUNE))
    yield database
    database.dispose()


def commune(db: Database) -> int:
    with db.session() as session:
        unit = session.exec(select(AdminUnit).where(AdminUnit.key == "xa-a")).one()
        assert unit.id is not None
        return unit.id


def stamp(t: int) -> Stamp:
    return Stamp(boot=1, mono_ns=t * S, wall_ns=1_800_000_000 * S + t * S,
                 quality=TimeQuality.SYNCED)


def journal(agent_seed: int, length: int) -> list[JournalEntry]:
    """An open interval extended every 300 s, an event, then closed."""
    entries = [JournalEntry(1, IntervalOpen(stamp(0), Evidence.SINK))]
    for seq in range(2, length):
        entries.append(JournalEntry(seq, IntervalExtend(stamp(300 * (seq - 1)), 1,
                                                         Evidence.SINK)))
    entries.append(JournalEntry(length, IntervalClose(stamp(300 * (length - 1)), 1,
                                                      CloseReason.STOPPED)))
    entries.insert(2, JournalEntry(length + 1, Event(stamp(1), code=f"boot-{agent_seed}")))
    return entries


def count(db: Database, table: type) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(core_select(func.count()).select_from(table)).scalar_one())


def test_a_batch_is_stored_and_acknowledged(db: Database) -> None:
    jid = bytes(range(16))
    entries = journal(1, 10)
    acks = JournalIngest(db).store([Delivery("ag-1", commune(db), JournalBatch(jid, entries))])
    assert count(db, JournalRecord) == 11
    assert acks == [("ag-1", acks[0][1])]
    assert acks[0][1].stored == [SeqRange(1, 11)]


def test_duplicates_reordering_and_split_batches_store_each_record_once(db: Database) -> None:
    rng = random.Random(7)
    jid = bytes(16)
    entries = journal(2, 40)
    ingest = JournalIngest(db)
    unit = commune(db)
    deliveries = []
    for _ in range(5):  # every record delivered five times, in random batches and orders
        shuffled = entries[:]
        rng.shuffle(shuffled)
        while shuffled:
            size = rng.randint(1, 9)
            deliveries.append(Delivery("ag-2", unit, JournalBatch(jid, shuffled[:size])))
            shuffled = shuffled[size:]
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 4):
        ingest.store(deliveries[start:start + 4])
    assert count(db, JournalRecord) == len(entries)
    with db.session() as session:
        span = session.exec(select(AvailabilitySpan)).one()
    assert (span.start_mono_ns, span.end_mono_ns, span.closed) == (0, 300 * 39 * S, True)
    assert span.evidence == Evidence.SINK


def test_a_reflashed_agent_loses_nothing(db: Database) -> None:
    ingest = JournalIngest(db)
    unit = commune(db)
    old, new = bytes([1] * 16), bytes([2] * 16)
    ingest.store([Delivery("ag-3", unit, JournalBatch(old, journal(3, 5)))])
    ingest.store([Delivery("ag-3", unit, JournalBatch(new, journal(3, 5)))])
    assert count(db, JournalRecord) == 12  # same seqs, different journals
    assert count(db, AvailabilitySpan) == 2


def test_declared_gaps_are_kept_and_acknowledged(db: Database) -> None:
    batch = JournalBatch(bytes(16), journal(4, 6), gaps=[SeqRange(8, 25)])
    JournalIngest(db).store([Delivery("ag-4", commune(db), batch)])
    acks = JournalIngest(db).store([Delivery("ag-4", commune(db), batch)])
    assert count(db, JournalGap) == 1
    assert acks[0][1].stored == [SeqRange(1, 25)]


def test_many_agents_in_one_transaction(db: Database) -> None:
    unit = commune(db)
    deliveries = [Delivery(f"ag-{n}", unit, JournalBatch(bytes([n]) * 16, journal(n, 50)))
                  for n in range(20)]
    acks = JournalIngest(db, chunk_rows=100).store(deliveries)
    assert count(db, JournalRecord) == 20 * 51
    assert len(acks) == 20


def test_ack_ranges_compacts_and_covers_declared_gaps() -> None:
    assert ack_ranges([5, 1, 2, 3, 9, 10, 3]) == [SeqRange(1, 3), SeqRange(5, 5),
                                                  SeqRange(9, 10)]
    assert ack_ranges([]) == []
    assert ack_ranges([1, 2, 9], [SeqRange(3, 8)]) == [SeqRange(1, 9)]
    assert ack_ranges([1, 20], [SeqRange(3, 8), SeqRange(5, 12)]) == [
        SeqRange(1, 1), SeqRange(3, 12), SeqRange(20, 20)]
