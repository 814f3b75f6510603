"""Report periods: whole local days, from a first to a last day (both included).

Presets (day, week, month, quarter, year) are only ways to name a custom range. A
period that reaches into today or the future is measured *until now*: the service
window of a day counts only up to the report's ``until`` instant, so a report of the
current month is not dragged down by days that have not happened yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from ..uptime.rollup import next_month
from ..uptime.window import ServiceWindow

MAX_DAYS = 3700  # ten years: beyond that a typo, not a report


class PeriodError(ValueError):
    """A period that cannot be reported on; the message says why."""


class Preset(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"the period ends ({self.end}) before it starts ({self.start})")
        if (self.end - self.start).days >= MAX_DAYS:
            raise PeriodError(f"a period is at most {MAX_DAYS} days")

    @classmethod
    def of(cls, preset: Preset | str, on: dt.date) -> Period:
        """The day, ISO week, month, quarter or year that contains ``on``."""
        kind = Preset(preset)
        if kind is Preset.DAY:
            return cls(on, on)
        if kind is Preset.WEEK:
            start = on - dt.timedelta(days=on.weekday())
            return cls(start, start + dt.timedelta(days=6))
        if kind is Preset.MONTH:
            start = on.replace(day=1)
            return cls(start, next_month(start) - dt.timedelta(days=1))
        if kind is Preset.QUARTER:
            start = dt.date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
            end = next_month(next_month(next_month(start)))
            return cls(start, end - dt.timedelta(days=1))
        return cls(dt.date(on.year, 1, 1), dt.date(on.year, 12, 31))

    @property
    def days_count(self) -> int:
        return (self.end - self.start).days + 1

    def days(self) -> Iterator[dt.date]:
        day = self.start
        while day <= self.end:
            yield day
            day += dt.timedelta(days=1)

    def split(self) -> tuple[list[dt.date], list[dt.date]]:
        """(months wholly inside, as their first day; the remaining days), so sums can
        read monthly rollups for the bulk and daily rollups for the edges."""
        months: list[dt.date] = []
        days: list[dt.date] = []
        day = self.start
        while day <= self.end:
            month_end = next_month(day) - dt.timedelta(days=1)
            if day.day == 1 and month_end <= self.end:
                months.append(day)
                day = month_end + dt.timedelta(days=1)
            else:
                days.append(day)
                day += dt.timedelta(days=1)
        return months, days

    def bounds_ns(self, tz: str) -> tuple[int, int]:
        """Local midnight before the first day to local midnight after the last."""
        return midnight_ns(self.start, tz), midnight_ns(self.end + dt.timedelta(days=1), tz)

    def label(self) -> str:
        return self.start.isoformat() if self.start == self.end else \
            f"{self.start.isoformat()} .. {self.end.isoformat()}"


I64_MAX = 2**63 - 1


def midnight_ns(day: dt.date, tz: str) -> int:
    """Local midnight in UTC ns, kept within what a BIGINT column holds (years past 2262
    cannot be in the database anyway)."""
    ns = int(dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).timestamp()) * 10**9
    return max(-I64_MAX, min(I64_MAX, ns))


def window_ms(window: ServiceWindow, day: dt.date, until_ns: int) -> int:
    """The service window of ``day`` in milliseconds, counted only up to ``until_ns``."""
    start, end = window.on(day)
    return max(0, min(end, until_ns) - start) // 1_000_000


def period_window_ms(window: ServiceWindow, period: Period, until_ns: int) -> int:
    return sum(window_ms(window, day, until_ns) for day in period.days())
