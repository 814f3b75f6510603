"""The standing routine: extracted from open-ended programmes, expanded by an agent
cut off past its plan horizon."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from protocols.messages import HardTimePolicy, Priority, RoutineItem
from schedules import (
    Daily,
    DateRange,
    Every,
    Once,
    Programme,
    Recurrence,
    Schedule,
    Session,
    Targets,
    Weekday,
    Weekly,
    expand_routine,
    extract_routine,
    resolve,
)

from .support import VN, check_invariants, item, ns, sha, topology

MONDAY = date(2025, 1, 6)
TOPO = topology({"v1": ["c1"], "v2": ["c2"]})
EVE = Session(session_id="eve", start=time(17), cap_minutes=45)


def prog(pid: str, rule: Recurrence, minutes: float = 5, **kw: Any) -> Programme:
    return Programme(programme_id=pid, items=(item(pid, minutes),),
                     recurrence=rule, **kw)


COMMUNE = Schedule(commune="xa", sessions=(EVE,), programmes=(
    prog("vov", Daily(at=time(5)), 30, priority=Priority.FILL),
    prog("weekly", Weekly(weekdays=Weekday.MON | Weekday.THU), 10, session="eve"),
    prog("v2-only", Daily(at=time(6)), targets=Targets(villages=frozenset({"v2"}))),
    prog("campaign", DateRange(first=MONDAY, last=MONDAY + timedelta(days=30), at=time(11))),
    prog("oneoff", Once(on=MONDAY, at=time(12))),
    prog("storm", Every(minutes=60, start=datetime(2025, 1, 6), end=datetime(2025, 1, 9))),
    prog("later", Daily(at=time(20), since=MONDAY + timedelta(days=30))),
))
HORIZON = ns(MONDAY + timedelta(days=7), time(0))


def test_only_open_ended_programmes_in_force_for_the_agent_are_routine() -> None:
    routine = extract_routine(COMMUNE, TOPO, "a-c1", HORIZON)
    assert [(r.programme, r.local_start_s, r.weekdays, r.duration_ms, r.priority)
            for r in routine] == [
        ("vov", 5 * 3600, 127, 30 * 60_000, Priority.FILL),
        ("weekly", 17 * 3600, int(Weekday.MON | Weekday.THU), 10 * 60_000, Priority.NORMAL)]
    assert [r.programme for r in extract_routine(COMMUNE, TOPO, "a-c2", HORIZON)] == [
        "vov", "v2-only", "weekly"]
    later = extract_routine(COMMUNE, TOPO, "a-c1", HORIZON + 30 * 86_400 * 10**9)
    assert "later" in [r.programme for r in later]


def test_routine_items_are_valid_wire_items() -> None:
    routine = list(extract_routine(COMMUNE, TOPO, "a-c2", HORIZON))
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(routine),
                                  type=list[RoutineItem]) == routine


def test_playlists_and_repeats_become_one_item_per_airing() -> None:
    schedule = Schedule(commune="xa", programmes=(Programme(
        programme_id="news", items=(item("a", 2.5), item("b", 1)), repeat=2,
        repeat_gap_s=60, recurrence=Daily(at=time(6))),))
    routine = extract_routine(schedule, TOPO, "a-c1", HORIZON)
    assert [(r.content, r.local_start_s - 6 * 3600) for r in routine] == [
        (sha("a"), 0), (sha("b"), 150), (sha("a"), 270), (sha("b"), 420)]


def test_an_airing_past_midnight_moves_to_the_next_weekday() -> None:
    schedule = Schedule(commune="xa", programmes=(Programme(
        programme_id="night", items=(item("a", 20), item("b", 5)),
        recurrence=Weekly(weekdays=Weekday.SUN, at=time(23, 50))),))
    second, first = extract_routine(schedule, TOPO, "a-c1", HORIZON)  # by local start
    assert (first.weekdays, first.local_start_s) == (int(Weekday.SUN), 23 * 3600 + 50 * 60)
    assert (second.weekdays, second.local_start_s) == (int(Weekday.MON), 10 * 60)


def test_a_late_item_of_a_session_past_midnight_counts_on_the_session_day() -> None:
    night = Session(session_id="night", start=time(23, 30), cap_minutes=60,
                    weekdays=Weekday.SAT)
    schedule = Schedule(commune="xa", sessions=(night,), programmes=(
        prog("opening", Daily(), 10, session="night"),
        prog("late", Daily(at=time(0, 15)), 10, session="night")))
    routine = {r.programme: (r.weekdays, r.local_start_s)
               for r in extract_routine(schedule, TOPO, "a-c1", HORIZON)}
    assert routine == {"opening": (int(Weekday.SAT), 23 * 3600 + 30 * 60),
                       "late": (int(Weekday.SUN), 15 * 60)}
    start = ns(MONDAY, time(0))
    timeline = resolve(schedule, TOPO, start, start + 7 * 86_400 * 10**9)
    expanded = expand_routine(extract_routine(schedule, TOPO, "a-c1", HORIZON), VN, start,
                              start + 7 * 86_400 * 10**9)
    assert [s.start_ns for s in expanded] == [s.start_ns for s in timeline.for_agent("a-c1")]


def test_repeats_that_overrun_their_session_are_not_routine() -> None:
    schedule = Schedule(commune="xa", sessions=(EVE,), programmes=(Programme(
        programme_id="rep", items=(item("r", 20),), repeat=3, session="eve",
        recurrence=Daily(at=time(17, 0)),),))
    routine = extract_routine(schedule, TOPO, "a-c1", HORIZON)
    assert [r.local_start_s for r in routine] == [17 * 3600, 17 * 3600 + 1200]


def test_session_cap_is_applied_per_weekday_in_precedence_order() -> None:
    urban = Session(session_id="eve", start=time(17), cap_minutes=15)
    schedule = Schedule(commune="xa", sessions=(urban,), programmes=(
        prog("daily", Daily(), 10, session="eve"),
        prog("monday", Weekly(weekdays=Weekday.MON), 10, session="eve",
             priority=Priority.PRIORITY)))
    by_programme = {r.programme: r.weekdays
                    for r in extract_routine(schedule, TOPO, "a-c1", HORIZON)}
    assert by_programme == {"monday": int(Weekday.MON),
                            "daily": int(Weekday.ALL & ~Weekday.MON)}


def test_expanded_routine_is_flagged_and_matches_what_the_resolver_would_air() -> None:
    routine = extract_routine(COMMUNE, TOPO, "a-c2", HORIZON)
    end = HORIZON + 4 * 86_400 * 10**9
    slots = expand_routine(routine, VN, HORIZON, end)
    assert slots and all(s.extrapolated and s.slot_id.endswith("-x") for s in slots)
    assert len({s.slot_id for s in slots}) == len(slots)
    assert all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(slots))
    standing = Schedule(commune="xa", sessions=COMMUNE.sessions, programmes=tuple(
        p for p in COMMUNE.programmes if p.programme_id in {"vov", "weekly", "v2-only"}))
    timeline = resolve(standing, TOPO, HORIZON, end)
    check_invariants(standing, timeline)
    expected = [(s.programme, s.start_ns, s.duration_ms, s.content)
                for s in timeline.for_agent("a-c2")]
    assert [(s.programme, s.start_ns, s.duration_ms, s.content) for s in slots] == expected
    assert slots[0].slot_id == "vov-20250112T220000Z-x"  # Monday 13 Jan 05:00 ICT


def test_expanded_routine_applies_the_air_time_rules_to_clashes() -> None:
    routine = [
        RoutineItem(programme="long", content=sha("l"), weekdays=127, local_start_s=5 * 3600,
                    duration_ms=20 * 60_000, priority=Priority.FILL,
                    policy=HardTimePolicy.QUEUE_AFTER),
        RoutineItem(programme="cut", content=sha("c"), weekdays=127,
                    local_start_s=5 * 3600 + 300, duration_ms=5 * 60_000,
                    priority=Priority.NORMAL, policy=HardTimePolicy.PREEMPT),
        RoutineItem(programme="skip", content=sha("s"), weekdays=127,
                    local_start_s=5 * 3600 + 360, duration_ms=60_000,
                    priority=Priority.NORMAL, policy=HardTimePolicy.SKIP_IF_BUSY),
    ]
    start = ns(MONDAY, time(0))
    slots = expand_routine(routine, VN, start, start + 86_400 * 10**9)
    assert [(s.programme, s.fragment, (s.start_ns - start) // 60 // 10**9) for s in slots] == [
        ("long", True, 300), ("cut", False, 305), ("long", False, 310)]
    assert slots[0].slot_id == "long-20250105T220000Z-x-p1"


def test_hostile_routine_does_not_break_expansion() -> None:
    base = RoutineItem(programme="x", content=sha("x"), weekdays=1, local_start_s=0,
                       duration_ms=0, priority=Priority.NORMAL,
                       policy=HardTimePolicy.QUEUE_AFTER)
    twin = msgspec.structs.replace(base, duration_ms=1000)
    other = msgspec.structs.replace(twin, content=sha("y"))
    start = ns(MONDAY, time(0))
    slots = expand_routine([base, twin, twin, other], VN, start, start + 86_400 * 10**9)
    assert len(slots) == 2 and len({s.slot_id for s in slots}) == 2
    assert expand_routine([], VN, start, start + 10) == ()
