"""Availability and airing counts over a period, read from the rollups.

Months wholly inside the period are read from ``uptime_month``/``airing_month``, the
days at its edges from ``uptime_day``/``airing_day``: a year for 10,000 agents is
120,000 month rows, not 3.65 million day rows (``bench/bench_reports.py``). Rows are
selected by the communes that ingested them (the station's own and any merged into
it), so the query never carries a list of thousands of agent ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Table, func, select
from sqlalchemy.engine import Connection

from ..storage.tables.airings import AiringDay, AiringMonth
from ..storage.tables.uptime import UptimeDay, UptimeMonth
from ..uptime.rollup import COLUMNS
from .period import Period

UPTIME_DAYS: Table = UptimeDay.__table__  # type: ignore[attr-defined]
UPTIME_MONTHS: Table = UptimeMonth.__table__  # type: ignore[attr-defined]
AIRING_DAYS: Table = AiringDay.__table__  # type: ignore[attr-defined]
AIRING_MONTHS: Table = AiringMonth.__table__  # type: ignore[attr-defined]
LEVELS = 4


@dataclass
class Uptime:
    """Milliseconds in the service window by evidence level, plus unanchored time."""

    by_level: list[int] = field(default_factory=lambda: [0] * LEVELS)
    unanchored: int = 0

    def add(self, values: Iterable[int]) -> None:
        items = list(values)
        for level in range(LEVELS):
            self.by_level[level] += int(items[level])
        self.unanchored += int(items[LEVELS])

    def at_least(self, level: int) -> int:
        """Time up with evidence at ``level`` or stronger: what availability counts."""
        return sum(self.by_level[level:])


@dataclass
class Airings:
    targeted: int = 0
    aired: int = 0


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def uptime_sums(conn: Connection, window_key: str, period: Period,
                communes: Iterable[int]) -> dict[str, Uptime]:
    """Per agent over the period (months whole from the monthly rollup, edges daily)."""
    months, days = period.split()
    result: dict[str, Uptime] = {}
    ids = sorted(set(communes))
    sums = [func.sum(UPTIME_DAYS.c[c]) for c in COLUMNS]
    month_sums = [func.sum(UPTIME_MONTHS.c[c]) for c in COLUMNS]
    for chunk in _chunks(ids):
        if months:
            for row in conn.execute(select(UPTIME_MONTHS.c.agent_id, *month_sums).where(
                    UPTIME_MONTHS.c.window_key == window_key,
                    UPTIME_MONTHS.c.commune_id.in_(chunk),
                    UPTIME_MONTHS.c.month.in_(months)).group_by(UPTIME_MONTHS.c.agent_id)):
                result.setdefault(row[0], Uptime()).add(row[1:])
        if days:
            for row in conn.execute(select(UPTIME_DAYS.c.agent_id, *sums).where(
                    UPTIME_DAYS.c.window_key == window_key,
                    UPTIME_DAYS.c.commune_id.in_(chunk),
                    UPTIME_DAYS.c.day.in_(days)).group_by(UPTIME_DAYS.c.agent_id)):
                result.setdefault(row[0], Uptime()).add(row[1:])
    return result


def airing_sums(conn: Connection, zone: str, period: Period,
                communes: Iterable[int]) -> dict[str, Airings]:
    months, days = period.split()
    result: dict[str, Airings] = {}
    ids = sorted(set(communes))
    for chunk in _chunks(ids):
        for table, column, values in ((AIRING_MONTHS, "month", months),
                                      (AIRING_DAYS, "day", days)):
            if not values:
                continue
            for row in conn.execute(select(table.c.agent_id, func.sum(table.c.targeted),
                                           func.sum(table.c.aired)).where(
                    table.c.zone == zone, table.c.commune_id.in_(chunk),
                    table.c[column].in_(values)).group_by(table.c.agent_id)):
                held = result.setdefault(row[0], Airings())
                held.targeted += int(row[1])
                held.aired += int(row[2])
    return result


def uptime_days(conn: Connection, window_key: str, period: Period,
                communes: Iterable[int]) -> dict[tuple[str, dt.date], Uptime]:
    """Per agent and day (the timeline, and the drill-down of each figure)."""
    result: dict[tuple[str, dt.date], Uptime] = {}
    for chunk in _chunks(sorted(set(communes))):
        for row in conn.execute(select(UPTIME_DAYS.c.agent_id, UPTIME_DAYS.c.day,
                                       *[UPTIME_DAYS.c[c] for c in COLUMNS]).where(
                UPTIME_DAYS.c.window_key == window_key, UPTIME_DAYS.c.commune_id.in_(chunk),
                UPTIME_DAYS.c.day >= period.start, UPTIME_DAYS.c.day <= period.end)):
            uptime = Uptime()
            uptime.add(row[2:])
            result[(row[0], row[1])] = uptime
    return result


def airing_days(conn: Connection, zone: str, period: Period,
                communes: Iterable[int]) -> dict[tuple[str, dt.date], Airings]:
    result: dict[tuple[str, dt.date], Airings] = {}
    for chunk in _chunks(sorted(set(communes))):
        for row in conn.execute(select(AIRING_DAYS.c.agent_id, AIRING_DAYS.c.day,
                                       AIRING_DAYS.c.targeted, AIRING_DAYS.c.aired).where(
                AIRING_DAYS.c.zone == zone, AIRING_DAYS.c.commune_id.in_(chunk),
                AIRING_DAYS.c.day >= period.start, AIRING_DAYS.c.day <= period.end)):
            result[(row[0], row[1])] = Airings(int(row[2]), int(row[3]))
    return result
