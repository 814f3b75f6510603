"""The scripted fleet (``scenario.py``) gives exactly the figures worked out by hand.

Every expected number below is computed here from the scenario's story, not by the
code under test: the service window is 04:30-21:30 local, 17 h = 61,200,000 ms a day;
the period 2026-10-30 .. 2026-11-02 has four of them, W = 244,800,000 ms.
"""

from __future__ import annotations

import datetime as dt

import pytest

from controller.registry.errors import NotFound
from controller.reports.builder import ReportBuilder, Request
from controller.reports.outages import Cause
from controller.reports.period import Period

from . import scenario
from .conftest import Installed

H = 3_600_000  # ms
DAY = 17 * H
W = 4 * DAY
assert W == 244_800_000


def report(installed: Installed, unit: str | None, start: dt.date = scenario.PERIOD[0],
           end: dt.date = scenario.PERIOD[1], **options: bool):
    return ReportBuilder(installed.db).build(Request(
        Period(start, end), scenario.DEFINITION, scenario.NOW, unit=unit, **options))


def local(text: str) -> int:
    """ns of '2026-10-31 20:00' in Hanoi."""
    when = dt.datetime.fromisoformat(text).replace(tzinfo=scenario.TZ)
    return int(when.timestamp()) * 10**9


# ag-a1: e2 until 10-31 20:00, e1 from 11-01 06:00.
#   e2: 10-30 (17 h) + 10-31 04:30-20:00 (15.5 h) = 32.5 h
#   e1: 11-01 06:00-21:30 (15.5 h) + 11-02 (17 h) = 32.5 h
# ag-a2: e1 except 10-30 04:30-05:00 (0.5 h) and 11-02 21:00-21:30 (0.5 h): 67 h
# ag-a3: e0 10-30 08:00-10:00 (2 h); unanchored all of 11-01 (17 h); e1 the rest: 49 h
# ag-a4: e3 all along: 68 h
# ag-b1: e1 except 10-30 21:00-21:30 (0.5 h) and all of 10-31 (17 h): 50.5 h
EXPECTED_AGENTS = {
    # agent: (e0, e1, e2, e3, unanchored, up at >= e1, targeted, aired, missed)
    "ag-a1": (0, 32.5 * H, 32.5 * H, 0, 0, 65 * H, 10, 10, 0),
    "ag-a2": (0, 67 * H, 0, 0, 0, 67 * H, 0, 0, 0),
    "ag-a3": (2 * H, 49 * H, 0, 0, 17 * H, 49 * H, 4, 1, 3),
    "ag-a4": (0, 0, 0, 68 * H, 0, 68 * H, 10, 9, 1),
    "ag-b1": (0, 50.5 * H, 0, 0, 0, 50.5 * H, 8, 6, 2),
}

EXPECTED_OUTAGES = [
    # agent, start, end, ms in the window, cause
    ("ag-a1", "2026-10-31 20:00", "2026-11-01 06:00", 3 * H, Cause.NO_RECORD),
    ("ag-a2", "2026-10-30 03:00", "2026-10-30 05:00", H // 2, Cause.NO_RECORD),
    ("ag-a2", "2026-11-01 22:00", "2026-11-02 02:00", 0, Cause.NO_RECORD),
    ("ag-a2", "2026-11-02 21:00", "2026-11-02 23:00", H // 2, Cause.NO_RECORD),
    ("ag-a3", "2026-10-30 08:00", "2026-10-30 10:00", 2 * H, Cause.LOW_EVIDENCE),
    ("ag-a3", "2026-11-01 00:00", "2026-11-02 00:00", 17 * H, Cause.UNANCHORED),
    ("ag-b1", "2026-10-30 21:00", "2026-10-31 23:00", H // 2 + 17 * H, Cause.NO_RECORD),
]


def test_availability_per_agent(installed: Installed) -> None:
    data = report(installed, "tinh-a", outages=True, airings=True)
    found = {a.agent_id: (*a.by_level, a.unanchored_ms, a.up_ms, a.targeted, a.aired,
                          a.missed) for a in data.agents}
    assert found == {k: tuple(int(v) for v in values)
                     for k, values in EXPECTED_AGENTS.items()}
    for agent in data.agents:
        assert agent.window_ms == W
        assert agent.availability == pytest.approx(EXPECTED_AGENTS[agent.agent_id][5] / W)
        # The rollups and the outages agree to the millisecond: up + down = the window.
        assert agent.up_ms + agent.outage_ms == W
    assert data.meta.window_ms == W


def test_outages_span_days_months_and_window_edges(installed: Installed) -> None:
    data = report(installed, "tinh-a", outages=True)
    found = [(o.agent_id, o.start_ns, o.end_ns, o.in_window_ms, o.cause) for o in data.outages]
    assert found == [(agent, local(start), local(end), ms, cause)
                     for agent, start, end, ms, cause in EXPECTED_OUTAGES]
    assert not any(o.from_before or o.ongoing for o in data.outages)


def test_missed_airings(installed: Installed) -> None:
    data = report(installed, "tinh-a", airings=True)
    missed = [(a.agent_id, a.slot_id, a.outcome) for a in data.missed]
    assert missed == [("ag-a3", "prog-103107", "missed"), ("ag-a3", "prog-110107", "no-record"),
                      ("ag-a3", "prog-110207", "failed"), ("ag-a4", "prog-110211", "preempted"),
                      ("ag-b1", "prog-103107", "no-record"), ("ag-b1", "prog-103117", "no-record")]
    # Targeted = 10 + 0 + 4 + 10 + 8: not the withdrawn-before-start slot, not the
    # fragment, not the slots outside the period; the slot withdrawn after its start is in.
    assert len(data.airings) == 32
    assert sum(a.aired for a in data.airings) == 26


def test_indicators_at_commune_level(installed: Installed) -> None:
    data = report(installed, "tinh-a")
    villages = {v.key: (v.reached, v.basis) for v in data.villages}
    assert villages == {
        "thon-a1": (True, "ip"),  # 65/68 = 95.6 %, 10/10 aired
        "thon-a2": (True, "ip-availability-only"),  # 67/68, nothing targeted (and attested)
        "thon-a3": (True, "ip"),  # c-a3 49/68 fails, c-a4 68/68 with 9/10 = 90 % aired
        "thon-b1": (False, "none"),  # 50.5/68 = 74.3 %
        "thon-b2": (True, "attested"),  # the station st-b1 is attested 10-01 .. 12-31
        "thon-c1": (False, "none"),  # expired in August; the other one was withdrawn
    }
    communes = {c.key: (c.dat, c.villages_reached, c.villages, c.converted, c.stations)
                for c in data.communes}
    assert communes == {"xa-a": (True, 3, 3, 2, 2), "xa-b": (False, 1, 3, 0, 2)}
    stations = {s.key: (s.kind, s.ip_clusters, s.clusters, s.converted) for s in data.stations}
    assert stations == {"st-a1": ("ip", 3, 3, True), "st-a2": ("hybrid", 1, 2, True),
                        "st-b1": ("hybrid", 1, 3, False), "st-c1": ("fm", 0, 1, False)}
    best = {v.key: v.best_availability for v in data.villages}
    assert best["thon-a3"] == 1.0 and best["thon-a1"] == pytest.approx(65 / 68)
    assert best["thon-b2"] is None


def test_indicators_at_regional_level(installed: Installed) -> None:
    province = report(installed, "tinh-a").region
    assert (province.communes_dat, len(province.communes)) == (1, 2)  # 50 %
    assert (province.converted, province.stations) == (2, 4)  # 50 %
    district = report(installed, "huyen-a").region
    assert (district.communes_dat, len(district.communes), district.converted,
            district.stations) == (1, 1, 2, 2)
    commune = report(installed, "xa-b").region
    assert (commune.communes_dat, commune.converted, commune.stations) == (0, 0, 2)


def test_the_tree_is_taken_as_of_the_last_day(installed: Installed) -> None:
    # Before the merge (2026-10-01) xa-c was its own commune with thon-c1 and st-c1.
    september = report(installed, "tinh-a", dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert sorted(c.key for c in september.communes) == ["xa-a", "xa-b", "xa-c"]
    assert {v.key: v.commune for v in september.villages}["thon-c1"] == "xa-c"
    # huyen-b was abolished on 2026-07-01: in June it held xa-b and xa-c ...
    june = report(installed, "huyen-b", dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    assert sorted(c.key for c in june.communes) == ["xa-b", "xa-c"]
    # ... and in the report period it no longer exists.
    with pytest.raises(NotFound):
        report(installed, "huyen-b")
    # A period ending on the day of the merge already counts xa-c inside xa-b.
    merged = report(installed, "tinh-a", dt.date(2026, 9, 1), dt.date(2026, 10, 1))
    assert sorted(c.key for c in merged.communes) == ["xa-a", "xa-b"]


def test_whole_months_read_the_monthly_rollups(installed: Installed) -> None:
    """October and November are read from ``uptime_month``; same hand arithmetic:
    ag-a1 is up 10-29 12:00-21:30 (9.5 h), 10-30 (17), 10-31 until 20:00 (15.5),
    11-01 from 06:00 (15.5), 11-02 (17), 11-03 until 12:00 (7.5): 82 h. The window is
    measured until the report is made (11-05 19:00 local): 31 + 4 days and 14.5 h."""
    data = report(installed, "xa-a", dt.date(2026, 10, 1), dt.date(2026, 11, 30))
    agent = next(a for a in data.agents if a.agent_id == "ag-a1")
    assert agent.up_ms == 82 * H
    assert agent.window_ms == 35 * DAY + int(14.5 * H)
    assert (agent.targeted, agent.aired) == (12, 12)  # + 10-29 17:00 and 11-03 07:00
    edges = report(installed, "xa-a", dt.date(2026, 10, 29), dt.date(2026, 11, 3))
    assert next(a for a in edges.agents if a.agent_id == "ag-a1").up_ms == 82 * H


def test_a_period_still_running_is_measured_until_now(installed: Installed) -> None:
    """Made at 2026-11-01 12:00 local: the window is 10-30 and 10-31 whole and 11-01
    04:30-12:00; no day after 11-01 is read (the rollups of a day still running hold
    what has happened so far: here the test database already has the whole day)."""
    until = dt.datetime(2026, 11, 1, 12, 0, tzinfo=scenario.TZ)
    data = ReportBuilder(installed.db).build(Request(
        Period(dt.date(2026, 10, 30), dt.date(2026, 11, 30)), scenario.DEFINITION, until,
        unit="xa-a", days=True))
    agent = next(a for a in data.agents if a.agent_id == "ag-a4")
    assert agent.window_ms == 2 * DAY + int(7.5 * H)
    assert agent.up_ms == 3 * DAY  # 10-30, 10-31, 11-01: not 11-02 and 11-03
    assert agent.availability == 1.0
    assert max(d.day for d in data.days) == dt.date(2026, 11, 1)
    assert (agent.targeted, agent.aired) == (7, 7)  # 10-30: 07, 11, 17; 10-31, 11-01: 07, 17


def test_cluster_station_and_commune_availability(installed: Installed) -> None:
    """A cluster is its agent; a village's best and mean, a station's and a commune's
    mean are over their IP clusters (legacy ones have none). In hours of the 68:
    c-a1 65, c-a2 67, c-a3 49, c-a4 68, c-b1 50.5."""
    data = report(installed, "tinh-a")
    clusters = {c.key: (c.kind, c.availability, c.reaches) for c in data.clusters}
    assert clusters == {
        "c-a1": ("ip", pytest.approx(65 / 68), True),
        "c-a2": ("ip", pytest.approx(67 / 68), True),
        "c-a3": ("ip", pytest.approx(49 / 68), False),  # under 90 %, 1 of 4 aired
        "c-a4": ("ip", 1.0, True),
        "c-a5": ("wired", None, True),  # attested 10-15 .. 2027-01-14
        "c-b1": ("ip", pytest.approx(50.5 / 68), False),
        "c-b2": ("wired", None, True),  # its station st-b1 is attested
        "c-b3": ("fm", None, True),
        "c-c1": ("fm", None, False),  # expired in August, the other one withdrawn
    }
    means = {v.key: v.mean_availability for v in data.villages}
    assert means == {"thon-a1": pytest.approx(65 / 68), "thon-a2": pytest.approx(67 / 68),
                     "thon-a3": pytest.approx((49 + 68) / 2 / 68),
                     "thon-b1": pytest.approx(50.5 / 68), "thon-b2": None, "thon-c1": None}
    stations = {s.key: s.mean_availability for s in data.stations}
    assert stations == {"st-a1": pytest.approx((65 + 67 + 49) / 3 / 68), "st-a2": 1.0,
                        "st-b1": pytest.approx(50.5 / 68), "st-c1": None}
    communes = {c.key: (c.mean_availability, c.coverage) for c in data.communes}
    assert communes == {"xa-a": (pytest.approx((65 + 67 + 49 + 68) / 4 / 68), 1.0),
                        "xa-b": (pytest.approx(50.5 / 68), pytest.approx(1 / 3))}


def test_period_presets_name_whole_ranges() -> None:
    d = dt.date
    assert Period.of("day", d(2026, 10, 31)) == Period(d(2026, 10, 31), d(2026, 10, 31))
    # ISO weeks run Monday to Sunday (10-30 is a Friday; 12-31 a Thursday).
    assert Period.of("week", d(2026, 10, 30)) == Period(d(2026, 10, 26), d(2026, 11, 1))
    assert Period.of("week", d(2026, 12, 31)) == Period(d(2026, 12, 28), d(2027, 1, 3))
    assert Period.of("week", d(2026, 11, 2)) == Period(d(2026, 11, 2), d(2026, 11, 8))
    assert Period.of("month", d(2028, 2, 10)) == Period(d(2028, 2, 1), d(2028, 2, 29))
    assert Period.of("quarter", d(2026, 11, 2)) == Period(d(2026, 10, 1), d(2026, 12, 31))
    assert Period.of("quarter", d(2028, 2, 29)) == Period(d(2028, 1, 1), d(2028, 3, 31))
    assert Period.of("quarter", d(2026, 6, 30)) == Period(d(2026, 4, 1), d(2026, 6, 30))
    assert Period.of("year", d(2026, 7, 1)) == Period(d(2026, 1, 1), d(2026, 12, 31))
    assert [Period.of(p, d(2026, 11, 2)).days_count
            for p in ("day", "week", "month", "quarter", "year")] == [1, 7, 30, 92, 365]
    with pytest.raises(ValueError):
        Period.of("fortnight", d(2026, 11, 2))


def test_the_cli_reads_a_preset_or_a_range() -> None:
    from controller.cli.errors import CliError
    from controller.cli.report import _period

    on = dt.datetime(2026, 10, 30)
    assert _period(None, None, "week", on) == (dt.date(2026, 10, 26), dt.date(2026, 11, 1))
    assert _period(None, None, "quarter", on) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert _period(on, None, None, None) == (on.date(), on.date())  # --from alone: one day
    assert _period(on, dt.datetime(2026, 11, 2), None, None) == (on.date(), dt.date(2026, 11, 2))
    with pytest.raises(CliError, match="--period"):
        _period(on, None, "week", None)  # both ways at once
    with pytest.raises(CliError, match="--from"):
        _period(None, None, None, on)  # neither


def test_one_report_per_preset(installed: Installed) -> None:
    """Each preset through the builder, measured until the report is made (11-05 19:00).

    day 10-31 (17 h): ag-a1 up until 20:00 (15.5 h: 91.2 %, 2 of 2 aired), ag-b1 down
    all day; c-a4 aired both 10-31 items: xa-a đạt, xa-b not.
    week 10-26 .. 11-01 (7 x 17 = 119 h): ag-a1 10-29 12:00-21:30 (9.5) + 17 + 15.5 +
    15.5 = 57.5 h; ag-a4 10-29 07:00-21:30 (14.5) + 3 x 17 = 65.5 h; ag-b1 10-29
    06:00-21:30 (15.5) + 10-30 until 21:00 (16.5) + 11-01 (17) = 49 h. Nobody reported
    before 10-29: every village fails but the attested ones (c-a5 from 10-15 reaches
    thon-a2, st-b1 from 10-01 thon-b2).
    quarter 10-01 .. 12-31, measured 10-01 .. 11-05 19:00 (35 x 17 + 14.5 = 609.5 h):
    ag-a1 82 h (see the monthly test); st-b1's attestation covers it from 10-01, c-a5's
    only from 10-15, so thon-b2 is reached and thon-a2 is not.
    year 2026, measured to the same instant (308 x 17 + 14.5 = 5,250.5 h): ag-a1 82 h;
    no attestation covers January.
    """
    def run(preset: str, on: dt.date):  # type: ignore[no-untyped-def]
        period = Period.of(preset, on)
        return ReportBuilder(installed.db).build(Request(period, scenario.DEFINITION,
                                                         scenario.NOW, unit="tinh-a"))

    def up(data, agent: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        row = next(a for a in data.agents if a.agent_id == agent)
        return row.up_ms, row.window_ms

    day = run("day", dt.date(2026, 10, 31))
    assert (day.meta.period.start, day.meta.period.end) == (dt.date(2026, 10, 31),) * 2
    assert up(day, "ag-a1") == (int(15.5 * H), DAY) and up(day, "ag-b1") == (0, DAY)
    a1 = next(a for a in day.agents if a.agent_id == "ag-a1")
    assert (a1.targeted, a1.aired) == (2, 2)
    assert {v.key: v.reached for v in day.villages} == {
        "thon-a1": True, "thon-a2": True, "thon-a3": True, "thon-b1": False,
        "thon-b2": True, "thon-c1": False}
    assert (day.region.communes_dat, len(day.region.communes)) == (1, 2)

    week = run("week", dt.date(2026, 10, 30))
    assert (week.meta.period.start, week.meta.period.end) == (dt.date(2026, 10, 26),
                                                              dt.date(2026, 11, 1))
    assert up(week, "ag-a1") == (int(57.5 * H), 7 * DAY)
    assert up(week, "ag-a4") == (int(65.5 * H), 7 * DAY)
    assert up(week, "ag-b1") == (49 * H, 7 * DAY)
    assert {v.key: (v.reached, v.basis) for v in week.villages} == {
        "thon-a1": (False, "none"), "thon-a2": (True, "attested"),
        "thon-a3": (False, "none"), "thon-b1": (False, "none"),
        "thon-b2": (True, "attested"), "thon-c1": (False, "none")}
    assert week.region.communes_dat == 0

    quarter = run("quarter", dt.date(2026, 11, 2))
    assert (quarter.meta.period.start, quarter.meta.period.end) == (dt.date(2026, 10, 1),
                                                                    dt.date(2026, 12, 31))
    assert up(quarter, "ag-a1") == (82 * H, 35 * DAY + int(14.5 * H))
    reached = {v.key: (v.reached, v.basis) for v in quarter.villages}
    assert reached["thon-b2"] == (True, "attested")
    assert reached["thon-a2"] == (False, "none")
    assert quarter.region.communes_dat == 0
    assert (quarter.region.converted, quarter.region.stations) == (2, 4)

    year = run("year", dt.date(2026, 11, 2))
    assert (year.meta.period.start, year.meta.period.end) == (dt.date(2026, 1, 1),
                                                              dt.date(2026, 12, 31))
    assert up(year, "ag-a1") == (82 * H, 308 * DAY + int(14.5 * H))
    assert not any(v.reached for v in year.villages)
    assert (year.region.communes_dat, year.region.converted) == (0, 2)
