"""Benchmark: reports from the rollups, and the cost of keeping the rollups during a drain.

**Reports** (PostgreSQL): one province of 200 communes (10 districts), 2,000 villages and
10,000 agents (5 IP clusters per village), plus a legacy FM station with two clusters in
every commune (attested all year in half of them); one year (2025) of daily rollups —
3.65 million ``uptime_day`` rows and as many ``airing_day`` rows — with this outage
distribution per agent-day: 80 % up the whole service window, 15 % a short outage
(uniform 0-2 h), 4 % a long one (2-17 h), 1 % a whole day unanchored (counts as down) —
except in one village in 50 (a bad 4G cell), where long outages take 39 % of the days;
evidence level 1 for 70 % of the agents, 2 for the rest; 3 items targeted a day, each
missed with 2 % probability. Months are summed into ``uptime_month``/``airing_month``
exactly as the rollup maintainer does. Timed: the province's year report (indicator
table and per-village summary, no drill-down) — built, laid out and rendered as JSON and
XLSX — and the same build forced to read the 365 daily rows instead of the months.

**Drain** (SQLite, as a station runs it, and PostgreSQL): 50 agents come back after a
week offline with their backlog (an interval extended every 5 minutes, a boot with an
anchor a day, 10 play records a day: ~1,400 records per agent), sent as agents do (200
records a batch) and stored as the fleet link does (many agents' batches per
transaction, up to 20,000 records). Timed with and without the rollup maintainer, over an
empty database and over one that already holds ``--history-days`` of every agent's journal
(the maintainer re-reads a boot's spans and anchors each time it is touched).

    .venv/bin/python bench/bench_reports.py                    # both parts
    .venv/bin/python bench/bench_reports.py --part reports --repeat 5
    .venv/bin/python bench/bench_reports.py --part drain --history-days 30

Prints figures; results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from controller.fleet.ingest import Delivery, JournalIngest
from controller.reports.builder import ReportBuilder, Request
from controller.reports.document import ReportKind, build_document
from controller.reports.formats import Format, render
from controller.reports.period import Period
from controller.storage.database import Database
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
from controller.uptime.definition import load_definition
from controller.uptime.indexer import AiringIndexer
from controller.uptime.rollup import RollupMaintainer
from protocols.clock import ManualClock
from protocols.messages import (
    Anchor,
    Boot,
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

PG_ADMIN = os.environ.get("LOAXA_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DEFINITION = load_definition()
S = 10**9
YEAR = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
UNTIL = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
WINDOW_MS = 17 * 3600 * 1000


@contextmanager
def postgres() -> Iterator[str]:
    name = f"loaxa_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def fmt(times: list[float]) -> str:
    return f"best {min(times):.3f} s, median {statistics.median(times):.3f} s"


# --------------------------------------------------------------------------- reports


def province(db: Database, communes: int = 200, villages: int = 10, per_village: int = 5
             ) -> int:
    """Registry rows; returns the number of agents."""
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    start = dt.date(2024, 1, 1)
    with db.engine.begin() as conn:
        def unit(key: str, level: UnitLevel, parent: int | None) -> int:
            unit_id = int(conn.execute(insert(AdminUnit).values(
                key=key, level=level, created_at=now)).inserted_primary_key[0])
            conn.execute(insert(AdminUnitVersion).values(unit_id=unit_id, name=key,
                                                         parent_id=parent, valid_from=start))
            return unit_id

        top = unit("tinh-b", UnitLevel.PROVINCE, None)
        districts = [unit(f"huyen-{d:02d}", UnitLevel.DISTRICT, top) for d in range(10)]
        agents = 0
        for c in range(communes):
            commune = unit(f"xa-{c:03d}", UnitLevel.COMMUNE, districts[c % 10])
            ip = int(conn.execute(insert(Station).values(
                commune_id=commune, key="st-ip", name="IP", kind=StationKind.IP,
                created_at=now)).inserted_primary_key[0])
            fm = int(conn.execute(insert(Station).values(
                commune_id=commune, key="st-fm", name="FM", kind=StationKind.FM,
                created_at=now)).inserted_primary_key[0])
            village_ids = [unit(f"xa-{c:03d}-t{v}", UnitLevel.VILLAGE, commune)
                           for v in range(villages)]
            cluster_rows, agent_rows = [], []
            for v, village in enumerate(village_ids):
                for k in range(per_village):
                    cluster_rows.append({"commune_id": commune, "station_id": ip,
                                         "village_id": village, "key": f"c-{v}-{k}",
                                         "name": "c", "kind": ClusterKind.IP,
                                         "created_at": now})
            for v in range(2):
                cluster_rows.append({"commune_id": commune, "station_id": fm,
                                     "village_id": village_ids[v], "key": f"fm-{v}",
                                     "name": "fm", "kind": ClusterKind.FM, "created_at": now})
            conn.execute(insert(Cluster), cluster_rows)
            ids = conn.execute(text("SELECT id FROM cluster WHERE commune_id = :c AND "
                                    "kind = 'ip' ORDER BY id"), {"c": commune}).scalars()
            for cluster_id in ids:
                agent_rows.append({"id": f"ag-{agents:06d}", "commune_id": commune,
                                   "cluster_id": cluster_id, "status": AgentStatus.ACTIVE,
                                   "created_at": now})
                agents += 1
            conn.execute(insert(Agent), agent_rows)
            if c % 2 == 0:  # attested all year, a quarter at a time
                conn.execute(insert(Attestation), [
                    {"uid": f"{c:08d}{q:024d}", "commune_id": commune, "station_id": fm,
                     "period_start": begin, "period_end": begin + dt.timedelta(days=91),
                     "note": "", "attested_by": "op", "attested_at": now}
                    for q, begin in enumerate([dt.date(2025, 1, 1), dt.date(2025, 4, 1),
                                               dt.date(2025, 7, 1), dt.date(2025, 10, 1)])])
    return agents


def rollups(db: Database) -> None:
    """A year of daily rollups with the stated distribution, then the months."""
    key, zone = DEFINITION.window.key, DEFINITION.window.tz
    with db.engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        conn.execute(text(f"""
            INSERT INTO uptime_day (agent_id, window_key, day, commune_id, up_ms_e0,
                                    up_ms_e1, up_ms_e2, up_ms_e3, unanchored_ms, updated_at)
            SELECT agent_id, :key, day, commune_id, 0,
                   CASE WHEN level = 1 THEN up ELSE 0 END,
                   CASE WHEN level = 2 THEN up ELSE 0 END, 0, unanchored, now()
            FROM (SELECT a.id AS agent_id, a.commune_id, d::date AS day,
                         CASE WHEN hashtext(a.id) % 10 < 7 THEN 1 ELSE 2 END AS level,
                         CASE WHEN c.village_id % 50 = 0 THEN 0.60 ELSE 0.95 END AS long_from,
                         random() AS r, random() AS r2
                  FROM agent a JOIN cluster c ON c.id = a.cluster_id,
                       generate_series(date '2025-01-01', date '2025-12-31',
                                       interval '1 day') d) base,
            LATERAL (SELECT CASE WHEN r < 0.80 THEN {WINDOW_MS}
                                 WHEN r < long_from THEN {WINDOW_MS}
                                                         - (r2 * 7200000)::bigint
                                 WHEN r < 0.99 THEN {WINDOW_MS} - 7200000
                                                    - (r2 * 54000000)::bigint
                                 ELSE 0 END AS up,
                            CASE WHEN r >= 0.99 THEN {WINDOW_MS} ELSE 0 END AS unanchored) o
        """), {"key": key})
        conn.execute(text("""
            INSERT INTO uptime_month (agent_id, window_key, month, commune_id, up_ms_e0,
                                      up_ms_e1, up_ms_e2, up_ms_e3, unanchored_ms, updated_at)
            SELECT agent_id, window_key, CAST(date_trunc('month', day) AS date),
                   MIN(commune_id), SUM(up_ms_e0), SUM(up_ms_e1), SUM(up_ms_e2),
                   SUM(up_ms_e3), SUM(unanchored_ms), now()
            FROM uptime_day GROUP BY 1, 2, 3"""))
        # Rolled up without spans behind them: registered as built, or the first report
        # would rebuild the window from the (absent) spans (controller.uptime.windows).
        conn.execute(text("""
            INSERT INTO uptime_window (window_key, start_local, end_local, tz, definition,
                                       built_at)
            VALUES (:key, :start, :end, :zone, :version, now())"""), {
            "key": key, "start": f"{DEFINITION.window.start:%H:%M}",
            "end": f"{DEFINITION.window.end:%H:%M}", "zone": zone,
            "version": DEFINITION.version})
        conn.execute(text("""
            INSERT INTO airing_day (agent_id, zone, day, commune_id, targeted, aired)
            SELECT a.id, :zone, d::date, a.commune_id, 3,
                   3 - (random() < 0.02)::int - (random() < 0.02)::int
                     - (random() < 0.02)::int
            FROM agent a, generate_series(date '2025-01-01', date '2025-12-31',
                                          interval '1 day') d"""), {"zone": zone})
        conn.execute(text("""
            INSERT INTO airing_month (agent_id, zone, month, commune_id, targeted, aired)
            SELECT agent_id, zone, CAST(date_trunc('month', day) AS date), MIN(commune_id),
                   SUM(targeted), SUM(aired) FROM airing_day GROUP BY 1, 2, 3"""))
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def bench_reports(repeat: int) -> None:
    with postgres() as url:
        db = Database(url)
        db.upgrade()
        started = time.perf_counter()
        agents = province(db)
        rollups(db)
        with db.engine.connect() as conn:
            days = conn.execute(text("SELECT count(*) FROM uptime_day")).scalar()
            months = conn.execute(text("SELECT count(*) FROM uptime_month")).scalar()
        print(f"workload: {agents} agents, {days} uptime_day rows, {months} uptime_month rows "
              f"(built in {time.perf_counter() - started:.0f} s)")
        builder = ReportBuilder(db)
        request = Request(YEAR, DEFINITION, UNTIL, unit="tinh-b")

        def summary() -> Any:
            data = builder.build(request)
            return data, build_document(data, ReportKind.INDICATORS, "vi", detail=False)

        build_document_times, (data, document) = timed(summary, repeat)
        lines = {line.code: line.display for line in document.lines}
        print(f"indicator table + per-village summary, province, one year: "
              f"{fmt(build_document_times)}")
        print(f"  communes {len(data.communes)}, villages {len(data.villages)}, "
              f"agents {len(data.agents)}; i1 = {lines['i1']}, i1 villages = "
              f"{lines['i1_villages']}, i2 = {lines['i2']}")
        json_times, rendered = timed(lambda: render(document, Format.JSON), repeat)
        print(f"  + render JSON: {fmt(json_times)} ({len(rendered.content):,} bytes)")
        xlsx_times, rendered = timed(lambda: render(document, Format.XLSX), max(1, repeat // 2))
        print(f"  + render XLSX: {fmt(xlsx_times)} ({len(rendered.content):,} bytes)")
        original = Period.split
        Period.split = lambda self: ([], list(self.days()))  # type: ignore[method-assign]
        try:
            day_times, _ = timed(lambda: builder.build(request), repeat)
        finally:
            Period.split = original  # type: ignore[method-assign]
        print(f"same build from the daily rows only (no monthly rollups): {fmt(day_times)}")
        commune = Request(Period(dt.date(2025, 11, 1), dt.date(2025, 11, 30)), DEFINITION,
                          UNTIL, unit="xa-007")
        commune_times, _ = timed(lambda: builder.build(commune), repeat)
        print(f"one commune, one month: {fmt(commune_times)}")
        db.dispose()


# --------------------------------------------------------------------------- drain


def journal(agent: int, first_day: dt.date, days: int, seq0: int = 0, boot0: int = 0
            ) -> list[JournalEntry]:
    """One boot a day (06:00-22:00 local), extended every 5 min, 10 plays a day."""
    entries: list[JournalEntry] = []
    seq = seq0
    for d in range(days):
        day = first_day + dt.timedelta(days=d)
        boot = boot0 + d + 1
        start = int(dt.datetime.combine(day, dt.time(6), DEFINITION_TZ).timestamp()) * S
        mono = 30 * S

        def stamp(at: int, boot: int = boot, start: int = start) -> Stamp:
            return Stamp(boot, at - start + 30 * S, at, TimeQuality.SYNCED)

        seq += 1
        entries.append(JournalEntry(seq, Boot(stamp(start), bytes(16), "bench")))
        seq += 1
        entries.append(JournalEntry(seq, Anchor(stamp(start + 60 * S))))
        seq += 1
        opened = seq
        entries.append(JournalEntry(seq, IntervalOpen(stamp(start + mono), Evidence.SINK)))
        at = start + mono
        for n in range(1, 16 * 12):
            at = start + mono + n * 300 * S
            seq += 1
            entries.append(JournalEntry(seq, IntervalExtend(stamp(at), opened, Evidence.SINK)))
            if n % 19 == 0:
                seq += 1
                entries.append(JournalEntry(seq, Play(
                    stamp(at), f"slot-{agent}-{day}-{n}", None, at, at, at + 60 * S,
                    PlayOutcome.AIRED, "", Evidence.SINK)))
        seq += 1
        entries.append(JournalEntry(seq, IntervalClose(stamp(at + 60 * S), opened,
                                                       CloseReason.STOPPED)))
    return entries


DEFINITION_TZ = dt.timezone(dt.timedelta(hours=7))
INDEXER_SECONDS: list[tuple[float, int]] = []


def drain(url: str, agents: int, history_days: int, rollups: bool, backlog_days: int
          ) -> tuple[int, float]:
    db = Database(url)
    db.upgrade()
    with db.engine.begin() as conn:
        commune = int(conn.execute(insert(AdminUnit).values(
            key="xa-drain", level=UnitLevel.COMMUNE,
            created_at=dt.datetime.now(dt.UTC))).inserted_primary_key[0])
    maintainer = RollupMaintainer(DEFINITION.window, db.dialect) if rollups else None
    ingest = JournalIngest(db, rollups=maintainer)
    journals = {a: bytes([a % 256, a // 256]) * 8 for a in range(agents)}
    start_day = dt.date(2025, 11, 1)
    if history_days:  # what the station already holds (not timed)
        for a in range(agents):
            entries = journal(a, start_day, history_days)
            for i in range(0, len(entries), 2000):
                ingest.store([Delivery(f"ag-{a:03d}", commune,
                                       JournalBatch(journals[a], entries[i:i + 2000]))])
    indexer = None
    if rollups:
        clock = ManualClock(wall_ns=int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()) * S)
        indexer = AiringIndexer(db, commune, DEFINITION.window.tz, clock)
        with db.engine.begin() as conn:  # the indexer discovers journals through agents
            conn.execute(insert(Agent), [{"id": f"ag-{a:03d}", "commune_id": commune,
                                          "status": AgentStatus.ACTIVE,
                                          "created_at": dt.datetime.now(dt.UTC)}
                                         for a in range(agents)])
        indexer.catch_up()  # the history: not timed
    backlog_day = start_day + dt.timedelta(days=history_days)
    deliveries = []
    for a in range(agents):
        seq0 = len(journal(a, start_day, history_days)) if history_days else 0
        entries = journal(a, backlog_day, backlog_days, seq0=seq0, boot0=history_days)
        deliveries += [Delivery(f"ag-{a:03d}", commune,
                                JournalBatch(journals[a], entries[i:i + 200]))
                       for i in range(0, len(entries), 200)]
    # Agents send their oldest batches first, interleaved; the link stores what arrived
    # together, up to 20,000 records per transaction.
    deliveries.sort(key=lambda d: d.batch.entries[0].seq)
    records = sum(len(d.batch.entries) for d in deliveries)
    started = time.perf_counter()
    group: list[Delivery] = []
    size = 0
    for delivery in deliveries:
        group.append(delivery)
        size += len(delivery.batch.entries)
        if size >= 20_000:
            ingest.store(group)
            group, size = [], 0
    if group:
        ingest.store(group)
    elapsed = time.perf_counter() - started
    if indexer is not None:  # the airing index catching up (the alerts component's job)
        started = time.perf_counter()
        found = indexer.catch_up()
        INDEXER_SECONDS.append((time.perf_counter() - started, found.plays))
    db.dispose()
    return records, elapsed


def bench_drain(agents: int, history_days: int, backlog_days: int, repeat: int) -> None:
    for backend in ("sqlite", "postgresql"):
        for history in sorted({0, history_days}):
            best: dict[bool, float] = {}
            records = 0
            for _ in range(repeat):
                for with_rollups in (False, True):
                    if backend == "sqlite":
                        with tempfile.TemporaryDirectory() as tmp:
                            records, elapsed = drain(f"sqlite:///{tmp}/drain.db", agents,
                                                     history, with_rollups, backlog_days)
                    else:
                        with postgres() as url:
                            records, elapsed = drain(url, agents, history, with_rollups,
                                                     backlog_days)
                    best[with_rollups] = min(best.get(with_rollups, elapsed), elapsed)
            plain, rolled = best[False], best[True]
            index_s, plays = min(INDEXER_SECONDS)
            INDEXER_SECONDS.clear()
            print(f"drain {backend}, {agents} agents x {backlog_days} days backlog "
                  f"({records} records), history {history} days (best of {repeat}): "
                  f"without rollups {records / plain:,.0f} rec/s ({plain:.2f} s), with "
                  f"rollups {records / rolled:,.0f} rec/s ({rolled:.2f} s): rollups cost "
                  f"{100 * (rolled - plain) / plain:.0f} %; airing index catch-up "
                  f"{index_s:.2f} s ({records / index_s:,.0f} rec/s, {plays} plays)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["reports", "drain", "all"], default="all")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--backlog-days", type=int, default=7)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    if args.part in ("reports", "all"):
        bench_reports(args.repeat)
    if args.part in ("drain", "all"):
        bench_drain(args.agents, args.history_days, args.backlog_days, max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
