"""Two communes' controllers and a regional collector, for the collection tests.

Each commune has its own SQLite database (as a station does) holding its part of the
scripted fleet of ``tests.reports.scenario``; the collector has a fresh PostgreSQL
database. The scenario's journals are split in two halves, so a test can forward the
first, break the link, and forward the second (late records included).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

from controller.storage.database import Database
from controller.storage.tables.fleet import JournalGap, JournalRecord
from controller.storage.tables.plans import PlannedSlot
from protocols.messages import JournalBatch
from tests.reports import scenario
from tests.support.databases import fresh_postgres_database, require_postgres

COMMUNES = ("xa-a", "xa-b")


@dataclass
class Commune:
    key: str
    db: Database
    ids: dict[str, int]
    first: list[tuple[str, JournalBatch]]
    second: list[tuple[str, JournalBatch]]

    @property
    def commune_id(self) -> int:
        return self.ids[self.key]

    def ingest(self, deliveries: list[tuple[str, JournalBatch]]) -> None:
        scenario.ingest(self.db, deliveries, self.commune_id)

    @property
    def records(self) -> int:
        return sum(len(b.entries) for _, b in self.first + self.second)

    @property
    def gaps(self) -> int:
        return sum(len(b.gaps) for _, b in self.first + self.second)


def split(deliveries: list[tuple[str, JournalBatch]]
          ) -> tuple[list[tuple[str, JournalBatch]], list[tuple[str, JournalBatch]]]:
    """Every batch cut in two by seq: the later halves arrive after the outage, and some
    of them (every third) before their earlier halves (late backfill)."""
    first, second = [], []
    for index, (agent, batch) in enumerate(deliveries):
        half = len(batch.entries) // 2
        early = JournalBatch(batch.journal_id, batch.entries[half:], batch.gaps)
        late = JournalBatch(batch.journal_id, batch.entries[:half], [])
        if index % 3 == 0:
            first.append((agent, early))
            second.append((agent, late))
        else:
            first.append((agent, late))
            second.append((agent, early))
    return first, second


def make_communes(root: Path, fleet: scenario.Fleet) -> dict[str, Commune]:
    communes = {}
    for key in COMMUNES:
        db = Database(f"sqlite:///{root / f'{key}.db'}")
        db.upgrade()
        ids = scenario.install_registry(db, [key])
        agents = scenario.COMMUNE_AGENTS[key]
        scenario.install_plans(db, fleet, ids, agents)
        first, second = split(fleet.deliveries(agents))
        communes[key] = Commune(key, db, ids, first, second)
    return communes


@contextmanager
def collector_database() -> Iterator[Database]:
    require_postgres()
    with fresh_postgres_database() as url:
        db = Database(url)
        db.upgrade()
        try:
            yield db
        finally:
            db.dispose()


def count(db: Database, table: type, commune: str) -> int:
    """Rows of ``table`` whose commune is ``commune`` (or a commune merged into it)."""
    with db.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text(
            "SELECT id FROM admin_unit WHERE key = :k OR merged_into_id IN "
            "(SELECT id FROM admin_unit WHERE key = :k)"), {"k": commune})]
        column = table.__table__.c.commune_id  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).where(column.in_(ids))).scalar() or 0)


def stored(db: Database, commune: str) -> tuple[int, int, int]:
    """(journal records, declared gaps, planned slots) stored for a commune."""
    return (count(db, JournalRecord, commune), count(db, JournalGap, commune),
            count(db, PlannedSlot, commune))
