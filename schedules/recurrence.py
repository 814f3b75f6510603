"""Recurrence rules and their expansion into UTC instants.

A rule names *local* dates and wall times, because that is how a commune programmes
("every day at 05:00", "Monday and Thursday at 17:15"); expansion converts each local
occurrence to UTC through ``zoneinfo``, date by date, so month ends, leap days, year
boundaries and (in zones that have them) DST transitions need no special cases. The
storm-bulletin rule (``Every``) instead steps in absolute time: "every 60 minutes" is a
physical interval, even across a DST change.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import IntFlag
from zoneinfo import ZoneInfo

import msgspec

from .errors import ErrorCode, ScheduleError
from .localtime import (
    NS_PER_S,
    days,
    local_date,
    local_naive_ns,
    local_ns,
    seconds_of_day,
    to_local,
    zone,
)


class Weekday(IntFlag):
    """Day bits as on the wire (``RoutineItem.weekdays``): bit 0 is Monday."""

    MON = 1
    TUE = 2
    WED = 4
    THU = 8
    FRI = 16
    SAT = 32
    SUN = 64
    ALL = 127

    @staticmethod
    def of(day: date) -> Weekday:
        return Weekday(1 << day.weekday())


def _check_weekdays(mask: int) -> None:
    if not 1 <= int(mask) <= 127:
        raise ScheduleError(ErrorCode.INVALID_RANGE, f"weekdays mask {int(mask)}")


class Once(msgspec.Struct, frozen=True, kw_only=True, tag="once"):
    """One date. Without ``at`` the programme starts when its session starts."""

    on: date
    at: time | None = None


class Daily(msgspec.Struct, frozen=True, kw_only=True, tag="daily"):
    """Every day from ``since`` (or forever back); open-ended, so part of the routine."""

    at: time | None = None
    since: date | None = None


class Weekly(msgspec.Struct, frozen=True, kw_only=True, tag="weekly"):
    """Chosen weekdays from ``since``; open-ended, so part of the routine."""

    weekdays: Weekday
    at: time | None = None
    since: date | None = None

    def __post_init__(self) -> None:
        _check_weekdays(self.weekdays)


class DateRange(msgspec.Struct, frozen=True, kw_only=True, tag="range"):
    """Every day (or chosen weekdays) from ``first`` to ``last`` inclusive."""

    first: date
    last: date
    at: time | None = None
    weekdays: Weekday = Weekday.ALL

    def __post_init__(self) -> None:
        _check_weekdays(self.weekdays)
        if self.last < self.first:
            raise ScheduleError(ErrorCode.INVALID_RANGE, f"{self.first} > {self.last}")


class Every(msgspec.Struct, frozen=True, kw_only=True, tag="every"):
    """Every ``minutes`` from ``start`` until before ``end`` (naive local datetimes).

    Optionally only inside a daily window ``[daily_from, daily_until)`` of local time;
    a window whose end is before its start runs across midnight. ``daily_until=None``
    means the end of the day. Steps are counted from ``start`` so the cadence never
    drifts when the window closes overnight.
    """

    minutes: int
    start: datetime
    end: datetime
    daily_from: time | None = None
    daily_until: time | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.minutes <= 7 * 1440:
            raise ScheduleError(ErrorCode.INVALID_RANGE, f"every {self.minutes} minutes")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ScheduleError(ErrorCode.INVALID_RANGE, "start/end are local wall times")
        if self.end <= self.start:
            raise ScheduleError(ErrorCode.INVALID_RANGE, f"{self.start} >= {self.end}")

    def in_daily_window(self, local: time) -> bool:
        if self.daily_from is None and self.daily_until is None:
            return True
        tod = seconds_of_day(local)
        lo = seconds_of_day(self.daily_from) if self.daily_from is not None else 0
        hi = seconds_of_day(self.daily_until) if self.daily_until is not None else 86_400
        return lo <= tod < hi if lo <= hi else (tod >= lo or tod < hi)


Recurrence = Once | Daily | Weekly | DateRange | Every
DatedRule = Once | Daily | Weekly | DateRange


def start_time(rule: Recurrence) -> time | None:
    """The wall time a dated rule names (``None``: at its session's start)."""
    return None if isinstance(rule, Every) else rule.at


def is_open_ended(rule: Recurrence) -> bool:
    """Standing rules (no last date): what an agent may extrapolate past its horizon."""
    return isinstance(rule, Daily | Weekly)


def rule_weekdays(rule: Recurrence) -> Weekday:
    if isinstance(rule, Weekly | DateRange):
        return rule.weekdays
    return Weekday.ALL


def dates_between(rule: DatedRule, first: date, last: date) -> list[date]:
    """The local dates in ``[first, last]`` on which a dated rule fires."""
    if isinstance(rule, Once):
        return [rule.on] if first <= rule.on <= last else []
    lo, hi = first, last
    if isinstance(rule, Daily | Weekly) and rule.since is not None:
        lo = max(lo, rule.since)
    if isinstance(rule, DateRange):
        lo, hi = max(lo, rule.first), min(hi, rule.last)
    mask = rule_weekdays(rule)
    if mask == Weekday.ALL:
        return days(lo, hi)
    return [d for d in days(lo, hi) if Weekday.of(d) & mask]


def occurrences(rule: Recurrence, tz: ZoneInfo | str, start_ns: int, end_ns: int,
                default_at: time | None = None) -> list[int]:
    """Sorted UTC instants (ns) in ``[start_ns, end_ns)`` at which ``rule`` fires.

    ``default_at`` is the wall time used when a dated rule has none (its session's
    start); a dated rule with neither is a ``ScheduleError``.
    """
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    if end_ns <= start_ns:
        return []
    if isinstance(rule, Every):
        return _every(rule, tzinfo, start_ns, end_ns)
    at = rule.at if rule.at is not None else default_at
    if at is None:
        raise ScheduleError(ErrorCode.MISSING_TIME, "a rule without a time needs a session")
    # One local day of margin on each side: an instant's local date may differ from the
    # window edges' dates around offsets and transitions at midnight.
    first = local_date(start_ns, tzinfo) - timedelta(days=1)
    last = local_date(end_ns - 1, tzinfo) + timedelta(days=1)
    found = (local_ns(d, at, tzinfo) for d in dates_between(rule, first, last))
    return sorted(t for t in found if start_ns <= t < end_ns)


def _every(rule: Every, tz: ZoneInfo, start_ns: int, end_ns: int) -> list[int]:
    step = rule.minutes * 60 * NS_PER_S
    first = local_naive_ns(rule.start, tz)
    lo = max(first, start_ns)
    hi = min(local_naive_ns(rule.end, tz), end_ns)
    k = -(-(lo - first) // step)  # ceiling division: the first step at or after lo
    return [t for t in range(first + k * step, hi, step)
            if rule.in_daily_window(to_local(t, tz).time())]
