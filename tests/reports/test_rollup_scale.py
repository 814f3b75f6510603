"""One ingest transaction that touches many agents at once (a collector storing a big
commune's batch, a station after a region-wide power cut) keeps every statement within
the databases' limits (bound parameters, SQLite's expression depth), on both backends,
and rolls every agent up: days, months and airings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from controller.fleet.ingest import Delivery, JournalIngest
from controller.storage.database import Database
from controller.storage.tables.airings import AiringDay
from controller.storage.tables.registry import AdminUnit, UnitLevel
from controller.storage.tables.uptime import UptimeDay, UptimeMonth
from controller.uptime.airings import AiringIndex, PlanFact, PlayFact
from controller.uptime.rollup import RollupMaintainer
from protocols.messages import (
    Anchor,
    Evidence,
    IntervalExtend,
    IntervalOpen,
    JournalBatch,
    JournalEntry,
)
from protocols.timefields import Stamp, TimeQuality
from tests.support.databases import BACKENDS, database_url

from . import scenario

S = 10**9
START = int(dt.datetime(2026, 11, 17, 23, 0, tzinfo=dt.UTC).timestamp()) * S  # 06:00 local
AGENTS = 1200


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_transaction_touching_many_agents(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        db = Database(url)
        db.upgrade()
        with db.engine.begin() as conn:
            commune = int(conn.execute(insert(AdminUnit).values(
                key="xa-big", level=UnitLevel.COMMUNE,
                created_at=dt.datetime.now(dt.UTC))).inserted_primary_key[0])
        stamp = lambda m: Stamp(1, m, START - S + m, TimeQuality.SYNCED)  # noqa: E731
        deliveries = [Delivery(f"ag-{n:05d}", commune, JournalBatch(
            n.to_bytes(16, "big"),
            [JournalEntry(1, Anchor(stamp(S))), JournalEntry(2, IntervalOpen(stamp(S),
                                                                             Evidence.SINK)),
             JournalEntry(3, IntervalExtend(stamp(S + 3600 * S), 2, Evidence.SINK))]))
            for n in range(AGENTS)]
        JournalIngest(db, rollups=RollupMaintainer(scenario.DEFINITION.window, db.dialect)
                      ).store(deliveries)
        index = AiringIndex(scenario.DEFINITION.window.tz, db.dialect)
        with db.engine.begin() as conn:
            index.add(conn, commune, plans=[PlanFact(f"ag-{n:05d}", "s", START, START + S,
                                                     "p", True) for n in range(AGENTS)],
                      plays=[PlayFact(f"ag-{n:05d}", "s", START, 0, "j", 1)
                             for n in range(AGENTS)])
        with db.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(UptimeDay)).scalar() == AGENTS
            assert conn.execute(select(func.sum(UptimeMonth.up_ms_e1))).scalar() == \
                AGENTS * 3600 * 1000  # one hour each, inside the window
            assert conn.execute(select(func.sum(AiringDay.aired))).scalar() == AGENTS
        db.dispose()
