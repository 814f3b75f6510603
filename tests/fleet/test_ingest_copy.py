"""PostgreSQL ingest through COPY stores exactly what the generic multi-row upsert stores.

``JournalIngest`` COPYs journal records into a temporary table and inserts them with one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` on PostgreSQL (``bench/bench_backlog.py``
shows why). Every other behaviour (exactly once, reordering, reflash, gaps) is covered on
both backends by ``test_ingest.py``; here the two PostgreSQL paths are compared row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from controller.fleet.ingest import RECORDS, Delivery, JournalIngest
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, UnitLevel
from protocols.messages import Event, JournalBatch, JournalEntry
from tests.fleet.test_ingest import journal, stamp
from tests.support.databases import fresh_postgres_database, require_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_databases() -> Iterator[tuple[Database, Database]]:
    require_postgres()
    with fresh_postgres_database() as first, fresh_postgres_database() as second:
        databases = (Database(first), Database(second))
        for db in databases:
            db.upgrade()
            with db.transaction() as session:
                session.add(AdminUnit(key="xa-a", level=UnitLevel.COMMUNE))
        yield databases
        for db in databases:
            db.dispose()


def deliveries() -> list[Delivery]:
    """Two agents; a duplicate inside the batch list, an event with text to escape."""
    odd = Event(stamp(7), code="note", detail="tab\there, quote ' \" backslash \\ newline\n")
    first = journal(1, 30)
    return [Delivery("ag-1", 1, JournalBatch(bytes([1]) * 16, first[:12])),
            Delivery("ag-1", 1, JournalBatch(bytes([1]) * 16, first[8:])),  # 8..11 twice
            Delivery("ag-2", 1, JournalBatch(bytes([2]) * 16,
                                             [*journal(2, 5), JournalEntry(99, odd)]))]


def rows(db: Database) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(RECORDS).order_by(RECORDS.c.agent_id, RECORDS.c.seq))]


def test_copy_and_upsert_store_the_same_rows(two_databases: tuple[Database, Database]) -> None:
    copied, upserted = two_databases
    before = dt.datetime.now(dt.UTC)
    acks_copy = JournalIngest(copied).store(deliveries())
    acks_upsert = JournalIngest(upserted, bulk_copy=False).store(deliveries())
    assert acks_copy == acks_upsert
    got, expected = rows(copied), rows(upserted)
    assert len(got) == 31 + 7 == len(expected)
    received = RECORDS.c.keys().index("received_at")
    for mine, theirs in zip(got, expected, strict=True):
        assert mine[:received] + mine[received + 1:] == theirs[:received] + theirs[received + 1:]
        assert isinstance(mine[received], dt.datetime)
        assert abs((mine[received] - before).total_seconds()) < 60
    # Delivered again (as after a lost ack): nothing new, nothing changed.
    JournalIngest(copied).store(deliveries())
    assert rows(copied) == got


def test_copy_stages_nothing_across_transactions(
        two_databases: tuple[Database, Database]) -> None:
    db, _ = two_databases
    ingest = JournalIngest(db)
    ingest.store(deliveries()[:1])
    ingest.store(deliveries()[2:])
    assert len(rows(db)) == 12 + 7
