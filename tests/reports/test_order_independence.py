"""Any delivery order of the same records — duplicates, reordering, late backfill, the
airing index catching up at any moment in between — gives the same rollups *and the
same indicators*; and a wall-clock step on an agent changes nothing (both backends)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from controller.fleet.ingest import Delivery, JournalIngest
from controller.reports.builder import ReportBuilder, Request
from controller.reports.model import ReportData
from controller.reports.period import Period
from controller.storage.database import Database
from controller.storage.tables.airings import AiringDay, AiringMonth, AiringSlot
from controller.storage.tables.cursors import CursorState, JournalCursor
from controller.storage.tables.fleet import AvailabilitySpan, JournalGap, JournalRecord
from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.registry import (
    AdminUnit,
    AdminUnitVersion,
    Agent,
    AgentStatus,
    Cluster,
    ClusterKind,
    Station,
    StationKind,
    UnitLevel,
)
from controller.storage.tables.reports import Attestation
from controller.storage.tables.uptime import UptimeBootDay, UptimeDay, UptimeMonth
from controller.uptime.indexer import AiringIndexer
from controller.uptime.rollup import RollupMaintainer
from protocols.clock import ManualClock
from protocols.messages import (
    Anchor,
    CloseReason,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalBatch,
    JournalEntry,
    Play,
    PlayOutcome,
)
from protocols.timefields import Stamp, TimeQuality
from tests.support.databases import BACKENDS, database_url

from . import scenario

S = 10**9
# 2026-11-17 21:00 UTC = 04:00 in Hanoi, half an hour before the window opens.
DAY0 = int(dt.datetime(2026, 11, 17, 21, 0, tzinfo=dt.UTC).timestamp()) * S
PERIOD = Period(dt.date(2026, 11, 17), dt.date(2026, 11, 21))
UNTIL = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
AGENTS = ("ag-0", "ag-1")
DATA_TABLES = (UptimeMonth, UptimeDay, UptimeBootDay, AvailabilitySpan, JournalGap,
               JournalRecord, AiringMonth, AiringDay, AiringSlot, JournalCursor, CursorState,
               PlannedSlot)


@pytest.fixture(scope="module", params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[tuple[Database, int]]:
    """Commune xa-p: villages v-0 (IP cluster of ag-0), v-1 (IP cluster of ag-1 and an
    attested FM cluster), v-2 (only an FM cluster, attested for half the period)."""
    with database_url(request.param, tmp_path_factory.mktemp("order")) as url:
        database = Database(url)
        database.upgrade()
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        with database.engine.begin() as conn:
            ids: dict[str, int] = {}
            for key, level, parent in (("xa-p", UnitLevel.COMMUNE, None),
                                       ("v-0", UnitLevel.VILLAGE, "xa-p"),
                                       ("v-1", UnitLevel.VILLAGE, "xa-p"),
                                       ("v-2", UnitLevel.VILLAGE, "xa-p")):
                ids[key] = int(conn.execute(insert(AdminUnit).values(
                    key=key, level=level, created_at=now)).inserted_primary_key[0])
                conn.execute(insert(AdminUnitVersion).values(
                    unit_id=ids[key], name=key, parent_id=ids.get(parent or ""),
                    valid_from=dt.date(2026, 1, 1)))
            station = int(conn.execute(insert(Station).values(
                commune_id=ids["xa-p"], key="st", name="st", kind=StationKind.HYBRID,
                created_at=now)).inserted_primary_key[0])
            for key, village, kind, agent in (("c-0", "v-0", ClusterKind.IP, "ag-0"),
                                              ("c-1", "v-1", ClusterKind.IP, "ag-1"),
                                              ("c-2", "v-1", ClusterKind.FM, None),
                                              ("c-3", "v-2", ClusterKind.FM, None)):
                cluster = int(conn.execute(insert(Cluster).values(
                    commune_id=ids["xa-p"], station_id=station, village_id=ids[village],
                    key=key, name=key, kind=kind, created_at=now)).inserted_primary_key[0])
                if agent:
                    conn.execute(insert(Agent).values(id=agent, commune_id=ids["xa-p"],
                                                      cluster_id=cluster,
                                                      status=AgentStatus.ACTIVE,
                                                      created_at=now))
                elif key in ("c-2", "c-3"):
                    end = dt.date(2026, 12, 31) if key == "c-2" else dt.date(2026, 11, 19)
                    conn.execute(insert(Attestation).values(
                        uid=f"{key:0>32}"[-32:], commune_id=ids["xa-p"], cluster_id=cluster,
                        period_start=dt.date(2026, 11, 1), period_end=end, note="",
                        attested_by="op", attested_at=now))
        yield database, ids["xa-p"]
        database.dispose()


def wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in DATA_TABLES:
            conn.execute(delete(table))


@st.composite
def fleet(draw: st.DrawFn) -> tuple[list[tuple[str, bytes, list[JournalEntry]]],
                                    list[dict[str, Any]]]:
    """Journals (maybe reflashed, boots anchored late or never, wall steps) with play
    records for planned slots, some played twice with different outcomes."""
    journals, plans = [], []
    for agent in AGENTS:
        slots = [(f"{agent}-s{n}", DAY0 + draw(st.integers(1, 40)) * 3600 * S)
                 for n in range(draw(st.integers(0, 5)))]
        for slot_id, start in slots:
            plans.append({"agent_id": agent, "slot_id": slot_id, "start": start,
                          "withdrawn": draw(st.sampled_from([None, -3600, 60]))})
        for journal in range(draw(st.integers(1, 2))):
            entries: list[JournalEntry] = []
            seq = 0
            for boot in range(1, draw(st.integers(1, 3)) + 1):
                mono = draw(st.integers(0, 3600)) * S
                offset = DAY0 + draw(st.integers(0, 40 * 3600)) * S - mono
                skew = draw(st.sampled_from([0, -(10**9) * S, 3600 * S]))
                anchor_at = draw(st.one_of(st.none(), st.integers(0, 5)))

                def stamp(m: int, trusted: bool = False, boot: int = boot,
                          offset: int = offset, skew: int = skew) -> Stamp:
                    quality = TimeQuality.SYNCED if trusted else TimeQuality.UNSYNCED
                    return Stamp(boot, m, m + offset + (0 if trusted else skew), quality)

                for _interval in range(draw(st.integers(1, 2))):
                    seq += 1
                    opened = seq
                    evidence = draw(st.sampled_from(list(Evidence)))
                    entries.append(JournalEntry(seq, IntervalOpen(stamp(mono), evidence)))
                    for n in range(draw(st.integers(0, 6))):
                        mono += draw(st.integers(60, 6 * 3600)) * S
                        seq += 1
                        entries.append(JournalEntry(seq, IntervalExtend(stamp(mono), opened,
                                                                        evidence)))
                        if anchor_at == n:
                            seq += 1
                            entries.append(JournalEntry(seq, Anchor(stamp(mono, True))))
                            if draw(st.booleans()):  # the wall clock steps: a 2nd anchor
                                seq += 1
                                entries.append(JournalEntry(seq, Anchor(Stamp(
                                    boot, mono + S, mono + S + offset + 7200 * S,
                                    TimeQuality.SYNCED))))
                        if slots and draw(st.booleans()):
                            slot_id, start = draw(st.sampled_from(slots))
                            seq += 1
                            outcome = draw(st.sampled_from(list(PlayOutcome)))
                            entries.append(JournalEntry(seq, Play(
                                stamp(mono), slot_id, None, start, None, None, outcome, "",
                                Evidence.SINK)))
                    if draw(st.booleans()):
                        mono += draw(st.integers(1, 600)) * S
                        seq += 1
                        entries.append(JournalEntry(seq, IntervalClose(
                            stamp(mono), opened, CloseReason.STOPPED)))
                    mono += draw(st.integers(1, 4 * 3600)) * S
            journals.append((agent, bytes([AGENTS.index(agent), journal]) * 8, entries))
    return journals, plans


def plant(db: Database, commune: int, plans: list[dict[str, Any]]) -> None:
    rows = [{"agent_id": p["agent_id"], "slot_id": p["slot_id"], "commune_id": commune,
             "programme_id": "prog", "start_ns": p["start"], "duration_ms": 60_000,
             "window_end_ns": p["start"] + 1800 * S, "content": "00" * 32, "priority": 20,
             "policy": 0, "fragment": False, "plan_epoch": 1, "plan_version": 1,
             "planned_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
             "withdrawn_at": None if p["withdrawn"] is None else dt.datetime.fromtimestamp(
                 p["start"] / S + p["withdrawn"], dt.UTC)} for p in plans]
    if rows:
        with db.engine.begin() as conn:
            conn.execute(insert(PlannedSlot), rows)


def indexer(db: Database, commune: int, at_ns: int | None = None) -> AiringIndexer:
    clock = ManualClock(wall_ns=at_ns if at_ns is not None else int(UNTIL.timestamp()) * S)
    return AiringIndexer(db, commune, scenario.DEFINITION.window.tz, clock, batch_records=7)


def figures(db: Database) -> tuple[Any, ...]:
    data: ReportData = ReportBuilder(db).build(Request(PERIOD, scenario.DEFINITION, UNTIL,
                                                       unit="xa-p"))
    with db.engine.connect() as conn:
        months = sorted(tuple(r) for r in conn.execute(select(
            UptimeMonth.agent_id, UptimeMonth.month, UptimeMonth.up_ms_e0,  # type: ignore[call-overload]
            UptimeMonth.up_ms_e1, UptimeMonth.up_ms_e2, UptimeMonth.up_ms_e3,
            UptimeMonth.unanchored_ms)))
    return (tuple(dataclasses.astuple(a) for a in data.agents),
            tuple(dataclasses.astuple(v) for v in data.villages),
            tuple(dataclasses.astuple(c) for c in data.communes),
            (data.region.communes_dat, data.region.converted, data.region.stations),
            tuple(months))


def ingest(db: Database) -> JournalIngest:
    return JournalIngest(db, rollups=RollupMaintainer(scenario.DEFINITION.window, db.dialect))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=fleet(), seed=st.integers(0, 2**32))
def test_any_delivery_order_gives_the_same_indicators(db: tuple[Database, int], data: Any,
                                                      seed: int) -> None:
    database, commune = db
    journals, plans = data
    wipe(database)
    plant(database, commune, plans)
    for agent, journal, entries in journals:
        ingest(database).store([Delivery(agent, commune, JournalBatch(journal, entries))])
    indexer(database, commune).catch_up()
    expected = figures(database)

    wipe(database)
    rng = random.Random(seed)
    pieces = []
    for agent, journal, entries in journals:
        for _ in range(rng.randint(1, 3)):  # duplicates
            shuffled = entries[:]
            rng.shuffle(shuffled)
            while shuffled:
                size = rng.randint(1, 5)
                pieces.append(Delivery(agent, commune, JournalBatch(journal, shuffled[:size])))
                shuffled = shuffled[size:]
    rng.shuffle(pieces)
    # The planner records slots before they air; the index catches up now and then while
    # records trickle in, at a time when only some slots are final.
    plant(database, commune, plans)
    meanwhile = DAY0 + 20 * 3600 * S
    for start in range(0, len(pieces), 3):
        ingest(database).store(pieces[start:start + 3])
        if rng.random() < 0.3:  # later records are then "late" for the index
            indexer(database, commune, meanwhile).catch_up()
    indexer(database, commune).catch_up()
    assert figures(database) == expected


def test_a_wall_clock_step_changes_nothing(tmp_path: Any) -> None:
    """ag-a4 of the scenario steps its wall clock +2 h on 10-31 and ag-a2 starts a boot
    with a clock 1 h slow: the same stories without either give identical reports."""
    results = []
    for variant in ("as-recorded", "clocks-right"):
        db = Database(f"sqlite:///{tmp_path / variant}.db")
        db.upgrade()
        fleet_ = scenario.Fleet.build()
        if variant == "clocks-right":
            for story in fleet_.stories:
                story.boots = [dataclasses.replace(b, step_at=None, step=0, skew=0)
                               if b.anchor_at is not None else b for b in story.boots]
        ids = scenario.install_registry(db)
        agents = [a for members in scenario.COMMUNE_AGENTS.values() for a in members]
        scenario.install_plans(db, fleet_, ids, agents)
        for commune, members in scenario.COMMUNE_AGENTS.items():
            scenario.ingest(db, fleet_.deliveries(members), ids[commune])
            indexer(db, ids[commune]).catch_up()
        data = ReportBuilder(db).build(Request(Period(*scenario.PERIOD), scenario.DEFINITION,
                                               scenario.NOW, unit="tinh-a", outages=True,
                                               airings=True, days=True))
        walls = []
        with db.engine.connect() as conn:
            walls = sorted(conn.execute(select(JournalRecord.wall_ns)).scalars())  # type: ignore[call-overload]
        results.append((data, walls))
        db.dispose()
    (stepped, stepped_walls), (right, right_walls) = results
    assert stepped_walls != right_walls  # the stories really differ in their wall stamps
    for field in ("agents", "villages", "communes", "stations", "outages", "days"):
        assert getattr(stepped, field) == getattr(right, field), field
    # (the step's extra anchor record shifts later sequence numbers by one)
    assert [(a.agent_id, a.slot_id, a.start_ns, a.outcome) for a in stepped.airings] == \
        [(a.agent_id, a.slot_id, a.start_ns, a.outcome) for a in right.airings]
    assert [(i.start_ns, i.end_ns) for i in stepped.intervals] == \
        [(i.start_ns, i.end_ns) for i in right.intervals]
