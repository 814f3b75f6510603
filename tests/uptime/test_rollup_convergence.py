"""Any delivery order of the same records gives the same rollups (duplicates, reordering,
late backfill), on both backends; and known spans give exactly known figures."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from controller.fleet.ingest import Delivery, JournalIngest
from controller.storage.database import Database
from controller.storage.tables.fleet import AvailabilitySpan, JournalGap, JournalRecord
from controller.storage.tables.registry import AdminUnit, UnitLevel
from controller.storage.tables.uptime import UptimeBootDay, UptimeDay
from controller.uptime.rollup import RollupMaintainer
from controller.uptime.window import DEFAULT_WINDOW
from protocols.messages import (
    Anchor,
    CloseReason,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalBatch,
    JournalEntry,
)
from protocols.timefields import Stamp, TimeQuality
from tests.support.databases import database_url

S = 10**9
# 2026-11-17 21:00 UTC = 04:00 in Hanoi, half an hour before the service window opens.
DAY0 = int(dt.datetime(2026, 11, 17, 21, 0, tzinfo=dt.UTC).timestamp()) * S


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[Database]:
    with database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        database = Database(url)
        database.upgrade()
        with database.transaction() as session:
            session.add(AdminUnit(key="xa-a", level=UnitLevel.COMMUNE))
        yield database
        database.dispose()


def wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in (UptimeDay, UptimeBootDay, AvailabilitySpan, JournalGap, JournalRecord):
            conn.execute(delete(table))


def rollups(db: Database) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(UptimeDay.agent_id, UptimeDay.day, UptimeDay.up_ms_e0,
                                   UptimeDay.up_ms_e1, UptimeDay.up_ms_e2, UptimeDay.up_ms_e3,
                                   UptimeDay.unanchored_ms)).all()
    return sorted(tuple(r) for r in rows)


def ingest(db: Database) -> JournalIngest:
    return JournalIngest(db, rollups=RollupMaintainer(DEFAULT_WINDOW, db.dialect))


@st.composite
def journals(draw: st.DrawFn) -> list[tuple[str, bytes, list[JournalEntry]]]:
    """A few agents, some reflashed, each boot maybe anchored (maybe only late, maybe with
    a wall step), intervals crossing window edges and days."""
    result = []
    for agent in range(draw(st.integers(1, 2))):
        for journal in range(draw(st.integers(1, 2))):
            entries: list[JournalEntry] = []
            seq = 0
            for boot in range(1, draw(st.integers(1, 3)) + 1):
                mono = draw(st.integers(0, 3600)) * S
                wall_offset = DAY0 + draw(st.integers(0, 40 * 3600)) * S - mono
                skew = draw(st.sampled_from([0, -(10**9) * S, 3600 * S]))  # untrusted clock
                anchor_at = draw(st.one_of(st.none(), st.integers(0, 6)))
                for _interval in range(draw(st.integers(1, 3))):
                    def stamp(m: int, trusted: bool = False, boot: int = boot,
                              offset: int = wall_offset, skew: int = skew) -> Stamp:
                        quality = TimeQuality.SYNCED if trusted else TimeQuality.UNSYNCED
                        return Stamp(boot, m, m + offset + (0 if trusted else skew), quality)
                    seq += 1
                    open_seq = seq
                    evidence = draw(st.sampled_from(list(Evidence)))
                    entries.append(JournalEntry(seq, IntervalOpen(stamp(mono), evidence)))
                    for n in range(draw(st.integers(0, 8))):
                        mono += draw(st.integers(60, 6 * 3600)) * S
                        seq += 1
                        entries.append(JournalEntry(seq, IntervalExtend(stamp(mono), open_seq,
                                                                        evidence)))
                        if anchor_at == n:
                            seq += 1
                            entries.append(JournalEntry(seq, Anchor(stamp(mono, True))))
                            if draw(st.booleans()):  # a later wall step: a second anchor
                                seq += 1
                                stepped = Stamp(boot, mono + S, mono + S + wall_offset
                                                + 7200 * S, TimeQuality.SYNCED)
                                entries.append(JournalEntry(seq, Anchor(stepped)))
                    if draw(st.booleans()):
                        mono += draw(st.integers(1, 600)) * S
                        seq += 1
                        entries.append(JournalEntry(seq, IntervalClose(stamp(mono), open_seq,
                                                                       CloseReason.STOPPED)))
                    mono += draw(st.integers(1, 4 * 3600)) * S
            result.append((f"ag-{agent}", bytes([agent, journal]) * 8, entries))
    return result


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=journals(), seed=st.integers(0, 2**32))
def test_any_delivery_order_gives_the_same_rollups(db: Database, data: Any, seed: int) -> None:
    wipe(db)
    for agent, journal, entries in data:
        ingest(db).store([Delivery(agent, 1, JournalBatch(journal, entries))])
    expected = rollups(db)

    wipe(db)
    rng = random.Random(seed)
    pieces = []
    for agent, journal, entries in data:
        for _ in range(rng.randint(1, 3)):  # duplicates
            shuffled = entries[:]
            rng.shuffle(shuffled)
            while shuffled:
                size = rng.randint(1, 5)
                pieces.append(Delivery(agent, 1, JournalBatch(journal, shuffled[:size])))
                shuffled = shuffled[size:]
    rng.shuffle(pieces)
    for start in range(0, len(pieces), 3):
        ingest(db).store(pieces[start:start + 3])
    assert rollups(db) == expected


def test_known_spans_give_exact_figures(db: Database) -> None:
    """One anchored interval from 04:00 to 22:00 local, one day: 17 h in the window."""
    wipe(db)
    start = DAY0
    boot_start_wall = start - 1000 * S
    stamp = lambda m: Stamp(1, m, boot_start_wall + m, TimeQuality.SYNCED)  # noqa: E731
    entries = [JournalEntry(1, Anchor(stamp(1000 * S))),
               JournalEntry(2, IntervalOpen(stamp(1000 * S), Evidence.SINK)),
               JournalEntry(3, IntervalClose(stamp(1000 * S + 18 * 3600 * S), 2,
                                             CloseReason.STOPPED))]
    ingest(db).store([Delivery("ag-x", 1, JournalBatch(bytes(16), entries))])
    assert rollups(db) == [("ag-x", dt.date(2026, 11, 18), 0, 17 * 3600 * 1000, 0, 0, 0)]


def test_an_unanchored_boot_counts_as_down_and_is_reported(db: Database) -> None:
    wipe(db)
    stamp = lambda m: Stamp(1, m, DAY0 + 3600 * S + m, TimeQuality.UNSYNCED)  # noqa: E731
    entries = [JournalEntry(1, IntervalOpen(stamp(0), Evidence.SINK)),
               JournalEntry(2, IntervalExtend(stamp(2 * 3600 * S), 1, Evidence.SINK))]
    ingest(db).store([Delivery("ag-y", 1, JournalBatch(bytes(16), entries))])
    assert rollups(db) == [("ag-y", dt.date(2026, 11, 18), 0, 0, 0, 0, 2 * 3600 * 1000)]
    # The anchor arrives late (backfill): the same boot is re-placed and now counts.
    late = [JournalEntry(3, Anchor(Stamp(1, 2 * 3600 * S, DAY0 + 3 * 3600 * S,
                                         TimeQuality.SYNCED)))]
    ingest(db).store([Delivery("ag-y", 1, JournalBatch(bytes(16), late))])
    assert rollups(db) == [("ag-y", dt.date(2026, 11, 18), 0, 2 * 3600 * 1000, 0, 0, 0)]


