"""Recurrence rules: each kind by example, then against a brute-force day-by-day
reference across month ends, leap days, year boundaries and zones with DST."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import (
    Daily,
    DateRange,
    Every,
    Once,
    Recurrence,
    ScheduleError,
    Weekday,
    Weekly,
    occurrences,
)
from schedules.errors import ErrorCode

from .support import VN, ns

DAY = 86_400 * 10**9


def local(instants: list[int], tz: str = VN) -> list[str]:
    return [datetime.fromtimestamp(t / 10**9, ZoneInfo(tz)).strftime("%Y-%m-%d %a %H:%M")
            for t in instants]


def window(first: date, last: date, tz: str = VN) -> tuple[int, int]:
    """Local midnight of ``first`` to local midnight after ``last``."""
    return ns(first, time(0), tz), ns(last + timedelta(days=1), time(0), tz)


# --------------------------------------------------------------------------- by example


def test_once_fires_on_its_date_only() -> None:
    rule = Once(on=date(2024, 2, 29), at=time(5, 0))
    assert local(occurrences(rule, VN, *window(date(2024, 2, 1), date(2024, 3, 31)))) == [
        "2024-02-29 Thu 05:00"]
    assert occurrences(rule, VN, *window(date(2024, 3, 1), date(2024, 3, 31))) == []


def test_daily_crosses_the_year_and_respects_since() -> None:
    rule = Daily(at=time(5, 0), since=date(2024, 12, 30))
    got = local(occurrences(rule, VN, *window(date(2024, 12, 25), date(2025, 1, 2))))
    assert got == ["2024-12-30 Mon 05:00", "2024-12-31 Tue 05:00", "2025-01-01 Wed 05:00",
                   "2025-01-02 Thu 05:00"]


def test_daily_instant_is_utc_of_vietnam_wall_time() -> None:
    (t,) = occurrences(Daily(at=time(5, 0)), VN, *window(date(2025, 6, 1), date(2025, 6, 1)))
    assert t == calendar.timegm((2025, 5, 31, 22, 0, 0)) * 10**9  # 05:00 ICT = 22:00Z


def test_weekly_chosen_weekdays_over_a_leap_february() -> None:
    rule = Weekly(weekdays=Weekday.MON | Weekday.THU, at=time(17, 15))
    got = local(occurrences(rule, VN, *window(date(2024, 2, 24), date(2024, 3, 5))))
    assert got == ["2024-02-26 Mon 17:15", "2024-02-29 Thu 17:15", "2024-03-04 Mon 17:15"]


def test_date_range_is_inclusive_and_can_filter_weekdays() -> None:
    rule = DateRange(first=date(2025, 1, 30), last=date(2025, 2, 2), at=time(11, 0))
    assert local(occurrences(rule, VN, *window(date(2025, 1, 1), date(2025, 3, 1)))) == [
        "2025-01-30 Thu 11:00", "2025-01-31 Fri 11:00", "2025-02-01 Sat 11:00",
        "2025-02-02 Sun 11:00"]
    weekend = DateRange(first=date(2025, 1, 30), last=date(2025, 2, 2), at=time(11, 0),
                        weekdays=Weekday.SAT | Weekday.SUN)
    assert len(occurrences(weekend, VN, *window(date(2025, 1, 1), date(2025, 3, 1)))) == 2


def test_every_storm_bulletin_hourly_for_three_days_across_new_year() -> None:
    rule = Every(minutes=60, start=datetime(2024, 12, 31, 14, 0),
                 end=datetime(2025, 1, 3, 14, 0))
    got = occurrences(rule, VN, *window(date(2024, 12, 1), date(2025, 1, 31)))
    assert len(got) == 72
    assert local(got)[:2] == ["2024-12-31 Tue 14:00", "2024-12-31 Tue 15:00"]
    assert local(got)[-1] == "2025-01-03 Fri 13:00"
    assert all(b - a == 3600 * 10**9 for a, b in itertools.pairwise(got))


def test_every_within_a_daily_window_keeps_its_cadence_overnight() -> None:
    rule = Every(minutes=70, start=datetime(2025, 3, 1, 6, 0), end=datetime(2025, 3, 3, 0, 0),
                 daily_from=time(6, 0), daily_until=time(10, 0))
    assert [s[11:] for s in local(occurrences(rule, VN, *window(date(2025, 3, 1),
                                                               date(2025, 3, 2))))] == [
        "Sat 06:00", "Sat 07:10", "Sat 08:20", "Sat 09:30", "Sun 06:30", "Sun 07:40",
        "Sun 08:50"]


def test_every_daily_window_may_run_across_midnight() -> None:
    rule = Every(minutes=60, start=datetime(2025, 3, 1, 0, 0), end=datetime(2025, 3, 2, 0, 0),
                 daily_from=time(22, 0), daily_until=time(2, 0))
    assert [s[15:] for s in local(occurrences(rule, VN, *window(date(2025, 3, 1),
                                                               date(2025, 3, 1))))] == [
        "00:00", "01:00", "22:00", "23:00"]


def test_window_edges_are_half_open() -> None:
    rule = Daily(at=time(5, 0))
    t = ns(date(2025, 1, 1), time(5, 0))
    assert occurrences(rule, VN, t, t + 1) == [t]
    assert occurrences(rule, VN, t + 1, t + DAY) == []
    assert occurrences(rule, VN, t, t) == []


def test_dst_zone_keeps_wall_time_not_offset() -> None:
    """Paris springs forward on 2025-03-30: 05:00 local is 04:00Z before, 03:00Z after."""
    got = occurrences(Daily(at=time(5, 0)), "Europe/Paris",
                      *window(date(2025, 3, 29), date(2025, 3, 30), "Europe/Paris"))
    assert [t // 10**9 % 86_400 // 3600 for t in got] == [4, 3]


def test_session_time_is_used_when_a_rule_has_none() -> None:
    got = occurrences(Daily(), VN, *window(date(2025, 1, 1), date(2025, 1, 1)),
                      default_at=time(17, 0))
    assert local(got) == ["2025-01-01 Wed 17:00"]
    with pytest.raises(ScheduleError) as caught:
        occurrences(Daily(), VN, *window(date(2025, 1, 1), date(2025, 1, 1)))
    assert caught.value.code is ErrorCode.MISSING_TIME


@pytest.mark.parametrize("build", [
    lambda: Weekly(weekdays=Weekday(0), at=time(1)),
    lambda: DateRange(first=date(2025, 2, 1), last=date(2025, 1, 31)),
    lambda: Every(minutes=0, start=datetime(2025, 1, 1), end=datetime(2025, 1, 2)),
    lambda: Every(minutes=5, start=datetime(2025, 1, 2), end=datetime(2025, 1, 1)),
    lambda: Every(minutes=5, start=datetime(2025, 1, 1, tzinfo=ZoneInfo(VN)),
                  end=datetime(2025, 1, 2, tzinfo=ZoneInfo(VN))),
])
def test_invalid_rules_are_typed_errors(build: Callable[[], object]) -> None:
    with pytest.raises(ScheduleError) as caught:
        build()
    assert caught.value.code is ErrorCode.INVALID_RANGE


def test_unknown_zone_is_a_typed_error() -> None:
    with pytest.raises(ScheduleError) as caught:
        occurrences(Daily(at=time(5)), "Mars/Olympus", 0, DAY)
    assert caught.value.code is ErrorCode.UNKNOWN_TIME_ZONE


# --------------------------------------------------------------------------- brute force

ZONES = ["Asia/Ho_Chi_Minh", "Europe/Paris", "America/Sao_Paulo", "Australia/Lord_Howe",
         "Pacific/Apia", "UTC"]
# Dates that sit on month ends, leap days and year boundaries, plus anything in 2010-2030.
EDGES = [date(y, m, d) for y in (2011, 2015, 2023, 2024, 2025, 2027, 2028)
         for m, d in ((1, 1), (2, 28), (3, 1), (4, 30), (12, 31))] + [date(2024, 2, 29)]
days_near_edges = st.one_of(
    st.builds(lambda d, k: d + timedelta(days=k), st.sampled_from(EDGES),
              st.integers(-3, 3)),
    st.dates(min_value=date(2010, 1, 1), max_value=date(2030, 12, 31)))
times = st.builds(time, st.integers(0, 23), st.integers(0, 59, ).map(lambda m: m - m % 5))
masks = st.integers(1, 127).map(Weekday)


def reference_instant(day: date, at: time, tz: str) -> int:
    aware = datetime(day.year, day.month, day.day, at.hour, at.minute, at.second,
                     tzinfo=ZoneInfo(tz))
    return calendar.timegm(aware.utctimetuple()) * 10**9


def reference_fires(rule: Recurrence, day: date) -> bool:
    """The rules restated as plain predicates on one date."""
    weekday_bit = 1 << day.weekday()
    if isinstance(rule, Once):
        return day == rule.on
    if isinstance(rule, Daily):
        return rule.since is None or day >= rule.since
    if isinstance(rule, Weekly):
        return bool(weekday_bit & rule.weekdays) and (rule.since is None or day >= rule.since)
    assert isinstance(rule, DateRange)
    return rule.first <= day <= rule.last and bool(weekday_bit & rule.weekdays)


def brute_force(rule: Recurrence, tz: str, first: date, last: date) -> list[int]:
    start, end = window(first, last, tz)
    found = []
    day = first - timedelta(days=2)
    while day <= last + timedelta(days=2):
        assert not isinstance(rule, Every)
        if rule.at is not None and reference_fires(rule, day):
            t = reference_instant(day, rule.at, tz)
            if start <= t < end:
                found.append(t)
        day += timedelta(days=1)
    return sorted(found)


def dated_rules(anchor: date) -> st.SearchStrategy[Recurrence]:
    near = st.integers(-40, 40).map(lambda k: anchor + timedelta(days=k))
    return st.one_of(
        st.builds(lambda d, t: Once(on=d, at=t), near, times),
        st.builds(lambda t, s: Daily(at=t, since=s), times, st.none() | near),
        st.builds(lambda m, t, s: Weekly(weekdays=m, at=t, since=s), masks, times,
                  st.none() | near),
        st.builds(lambda a, n, t, m: DateRange(first=a, last=a + timedelta(days=n), at=t,
                                               weekdays=m), near, st.integers(0, 60), times,
                  masks),
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data(), tz=st.sampled_from(ZONES), first=days_near_edges,
       span=st.integers(0, 45))
def test_dated_rules_match_day_by_day_reference(data: st.DataObject, tz: str, first: date,
                                                 span: int) -> None:
    rule = data.draw(dated_rules(first))
    last = first + timedelta(days=span)
    got = occurrences(rule, tz, *window(first, last, tz))
    assert got == brute_force(rule, tz, first, last)


@settings(max_examples=40, deadline=None)
@given(tz=st.sampled_from(ZONES), first=days_near_edges,
       rule=st.builds(lambda m, s, h, f, u: (m, s, h, f, u), st.sampled_from([15, 30, 45, 60,
                                                                            90, 180]),
                      st.integers(-36, 36), st.integers(1, 96), st.none() | times,
                      st.none() | times))
def test_every_matches_minute_by_minute_reference(
        tz: str, first: date, rule: tuple[int, int, int, time | None, time | None]) -> None:
    minutes, start_h, hours, daily_from, daily_until = rule
    begin = datetime.combine(first, time(0)) + timedelta(hours=start_h)
    every = Every(minutes=minutes, start=begin, end=begin + timedelta(hours=hours),
                  daily_from=daily_from, daily_until=daily_until)
    lo, hi = window(first, first + timedelta(days=2), tz)
    got = occurrences(every, tz, lo, hi)
    origin = calendar.timegm(begin.replace(tzinfo=ZoneInfo(tz)).utctimetuple()) * 10**9
    stop = calendar.timegm(every.end.replace(tzinfo=ZoneInfo(tz)).utctimetuple()) * 10**9
    expected = []
    for t in range(lo, hi, 60 * 10**9):  # every minute of the window
        if origin <= t < stop and (t - origin) % (minutes * 60 * 10**9) == 0:
            wall = datetime.fromtimestamp(t // 10**9, ZoneInfo(tz)).time()
            f = daily_from or time(0)
            u = daily_until
            inside = (wall >= f and (u is None or wall < u)) if u is None or f <= u \
                else (wall >= f or wall < u)
            if daily_from is None and daily_until is None:
                inside = True
            if inside:
                expected.append(t)
    assert got == expected


@settings(max_examples=25, deadline=None)
@given(first=days_near_edges, at=times)
def test_a_year_of_daily_has_one_per_local_day(first: date, at: time) -> None:
    last = first.replace(year=first.year + 1) - timedelta(days=1) if not (
        first.month == 2 and first.day == 29) else date(first.year + 1, 2, 28)
    got = occurrences(Daily(at=at), VN, *window(first, last))
    assert len(got) == (last - first).days + 1
    assert len({datetime.fromtimestamp(t / 10**9, ZoneInfo(VN)).date() for t in got}) == len(got)
