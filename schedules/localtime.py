"""Local wall time <-> UTC nanoseconds, always through ``zoneinfo``.

Vietnam has had no daylight saving time since 1975, but communes are configured with a
zone *name*, never an offset: the same code then stays right for any zone, and the tests
exercise zones with DST transitions to prove it. All arithmetic is in integers (no float
timestamps), so instants are exact to the nanosecond.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ErrorCode, ScheduleError

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
DAY_NS = 86_400 * NS_PER_S
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The named zone; an unknown name is a typed error, not a traceback."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(ErrorCode.UNKNOWN_TIME_ZONE, name) from exc


def utc_ns(moment: datetime) -> int:
    """An aware datetime as integer UTC nanoseconds since the epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


def local_ns(day: date, at: time, tz: ZoneInfo) -> int:
    """The UTC instant of wall time ``at`` on ``day`` in ``tz``.

    Times that do not exist (a DST gap) or exist twice (a DST fold) follow Python's
    ``fold=0`` rule: the offset in force before the transition.
    """
    return utc_ns(datetime.combine(day, at, tzinfo=tz))


def local_naive_ns(moment: datetime, tz: ZoneInfo) -> int:
    """A naive local datetime (as operators enter it) as UTC nanoseconds."""
    return utc_ns(moment.replace(tzinfo=tz))


def to_local(ns: int, tz: ZoneInfo) -> datetime:
    """The aware local datetime of a UTC instant (microsecond precision)."""
    seconds, rest = divmod(ns, NS_PER_S)
    return (_EPOCH + timedelta(seconds=seconds, microseconds=rest // 1_000)).astimezone(tz)


def local_date(ns: int, tz: ZoneInfo) -> date:
    return to_local(ns, tz).date()


def seconds_of_day(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def utc_label(ns: int) -> str:
    """``YYYYMMDDTHHMMSSZ``: the compact, sortable UTC stamp used inside slot ids."""
    return (_EPOCH + timedelta(seconds=ns // NS_PER_S)).strftime("%Y%m%dT%H%M%SZ")


def days(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive (empty if ``last`` < ``first``)."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
