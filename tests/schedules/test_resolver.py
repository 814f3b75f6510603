"""The resolver by example: each hard-time policy, pre-emption and restart inside and
outside the window, operator order for priority clashes, session caps, playlists,
targets, slot ids and the wire mapping."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import msgspec
import pytest

from protocols.messages import HardTimePolicy, PlanSlot, Priority
from schedules import (
    CapExceeded,
    Daily,
    DateRange,
    Every,
    NoAgents,
    Once,
    OutsideSession,
    Placement,
    Preempted,
    Programme,
    Schedule,
    ScheduleError,
    Session,
    Skipped,
    Targets,
    Timeline,
    Topology,
    UnknownTarget,
    Weekday,
    WindowPassed,
    plan_slots,
    resolve,
)
from schedules.errors import ErrorCode

from .support import check_invariants, item, ns, sha, summary, topology

MONDAY = date(2025, 1, 6)
ONE = topology({"v1": ["c1"]})
AGENT = "a-c1"
PREEMPT, QUEUE, SKIP = (HardTimePolicy.PREEMPT, HardTimePolicy.QUEUE_AFTER,
                        HardTimePolicy.SKIP_IF_BUSY)
EVENING = Session(session_id="eve", start=time(17, 0), cap_minutes=45)


def prog(pid: str, minutes: float, at: time | None = None, *, session: str | None = None,
         **kw: Any) -> Programme:
    rule = kw.pop("recurrence", None) or Once(on=MONDAY, at=at)
    return Programme(programme_id=pid, items=(item(pid, minutes),), recurrence=rule,
                     session=session, **kw)


def day(*programmes: Programme, sessions: tuple[Session, ...] = (EVENING,),
        topo: Topology = ONE) -> Timeline:
    schedule = Schedule(commune="xa", sessions=sessions, programmes=programmes)
    timeline = resolve(schedule, topo, ns(MONDAY, time(0)), ns(MONDAY, time(23, 59)))
    check_invariants(schedule, timeline)
    return timeline


# --------------------------------------------------------------------------- policies


def test_preempt_interrupts_lower_and_it_restarts_inside_the_session() -> None:
    t = day(prog("relay", 20, session="eve", priority=Priority.FILL),
            prog("news", 10, time(17, 5), session="eve", policy=PREEMPT))
    assert summary(t, AGENT) == [("relay*", "17:00", 5), ("news", "17:05", 10),
                                 ("relay", "17:15", 20)]
    fragment, _, restart = t.for_agent(AGENT)
    assert fragment.slot_id == "relay-20250106T100000Z-p1"
    assert restart.slot_id == "relay-20250106T100000Z"  # the complete airing keeps the id
    assert not t.notices


def test_preempted_item_that_cannot_restart_before_the_session_ends_is_reported() -> None:
    short = Session(session_id="eve", start=time(17, 0), cap_minutes=30)
    t = day(prog("relay", 20, session="eve", priority=Priority.FILL),
            prog("news", 10, time(17, 5), session="eve", policy=PREEMPT), sessions=(short,))
    assert summary(t, AGENT) == [("relay*", "17:00", 5), ("news", "17:05", 10)]
    (notice,) = t.notices
    assert isinstance(notice, Preempted)
    assert (notice.programme, notice.by_programme, notice.slot_id) == (
        "relay", "news", "relay-20250106T100000Z")
    assert notice.window_end_ns == ns(MONDAY, time(17, 30))


def test_free_standing_restart_is_bounded_by_max_delay() -> None:
    inside = day(prog("talk", 20, time(8), max_delay_minutes=15),
                 prog("alert", 5, time(8, 10), priority=Priority.PRIORITY, policy=PREEMPT))
    assert summary(inside, AGENT) == [("talk*", "08:00", 10), ("alert", "08:10", 5),
                                      ("talk", "08:15", 20)]
    outside = day(prog("talk", 20, time(8), max_delay_minutes=10),
                  prog("alert", 5, time(8, 10), priority=Priority.PRIORITY, policy=PREEMPT))
    assert summary(outside, AGENT) == [("talk*", "08:00", 10), ("alert", "08:10", 5)]
    assert [type(n) for n in outside.notices] == [Preempted]


def test_preempt_does_not_interrupt_equal_or_higher_priority() -> None:
    t = day(prog("a", 20, time(8), priority=Priority.PRIORITY),
            prog("b", 5, time(8, 5), priority=Priority.NORMAL, policy=PREEMPT),
            prog("c", 5, time(8, 6), priority=Priority.PRIORITY, policy=PREEMPT))
    assert summary(t, AGENT) == [("a", "08:00", 20), ("c", "08:20", 5), ("b", "08:25", 5)]


def test_queue_after_waits_for_what_is_on_air() -> None:
    t = day(prog("a", 20, time(8), priority=Priority.FILL),
            prog("b", 5, time(8, 5), priority=Priority.EMERGENCY, policy=QUEUE))
    assert summary(t, AGENT) == [("a", "08:00", 20), ("b", "08:20", 5)]


def test_queue_after_that_waits_past_its_window_is_reported() -> None:
    t = day(prog("a", 40, time(8)), prog("b", 5, time(8, 5), max_delay_minutes=10))
    assert summary(t, AGENT) == [("a", "08:00", 40)]
    (notice,) = t.notices
    assert isinstance(notice, WindowPassed)
    assert (notice.earliest_ns, notice.window_end_ns) == (ns(MONDAY, time(8, 40)),
                                                         ns(MONDAY, time(8, 20)))


def test_skip_if_busy_is_dropped_when_busy_and_airs_when_free() -> None:
    t = day(prog("a", 20, time(8)), prog("b", 5, time(8, 5), policy=SKIP),
            prog("c", 5, time(9), policy=SKIP))
    assert summary(t, AGENT) == [("a", "08:00", 20), ("c", "09:00", 5)]
    (notice,) = t.notices
    assert isinstance(notice, Skipped)
    assert (notice.programme, notice.busy_programme, notice.agents) == ("b", "a", (AGENT,))


def test_simultaneous_arrivals_air_highest_first() -> None:
    t = day(prog("fill", 5, time(8), priority=Priority.FILL),
            prog("norm", 5, time(8)), prog("prio", 5, time(8), priority=Priority.PRIORITY))
    assert [p for p, _, _ in summary(t, AGENT)] == ["prio", "norm", "fill"]


def test_waiting_items_leave_the_queue_by_priority_not_arrival() -> None:
    t = day(prog("a", 20, time(8)), prog("b", 5, time(8, 5)),
            prog("c", 5, time(8, 10), priority=Priority.PRIORITY))
    assert summary(t, AGENT) == [("a", "08:00", 20), ("c", "08:20", 5), ("b", "08:25", 5)]


def test_after_a_preemption_the_best_waiting_item_airs_first() -> None:
    """A priority item queued behind a fill is not overtaken by a normal pre-emptor."""
    t = day(prog("fill", 30, time(8), priority=Priority.FILL),
            prog("prio", 5, time(8, 5), priority=Priority.PRIORITY),
            prog("norm", 5, time(8, 10), policy=PREEMPT))
    assert summary(t, AGENT) == [("fill*", "08:00", 10), ("prio", "08:10", 5),
                                 ("norm", "08:15", 5), ("fill", "08:20", 30)]
    assert not t.notices  # the fill restarts within its default 30-minute delay


def test_emergency_preempts_anything_every_hour_of_a_storm() -> None:
    storm = prog("storm", 3, recurrence=Every(minutes=60, start=datetime(2025, 1, 6, 16),
                                              end=datetime(2025, 1, 6, 19)),
                 priority=Priority.EMERGENCY, policy=PREEMPT)
    t = day(prog("relay", 40, session="eve", priority=Priority.LIVE), storm,
            sessions=(Session(session_id="eve", start=time(17), cap_minutes=45,
                              length_minutes=60),))
    assert summary(t, AGENT) == [("storm", "16:00", 3), ("storm", "17:00", 3),
                                 ("relay", "17:03", 40), ("storm", "18:00", 3)]


# --------------------------------------------------------------------------- operator order


@pytest.mark.parametrize(("rank_district", "rank_commune", "first"),
                         [(0, 1, "district"), (1, 0, "commune")])
def test_operator_rank_orders_clashing_priority_items(rank_district: int, rank_commune: int,
                                                      first: str) -> None:
    t = day(prog("district", 10, time(11), priority=Priority.PRIORITY, rank=rank_district),
            prog("commune", 10, time(11), priority=Priority.PRIORITY, rank=rank_commune))
    assert next(p for p, _, _ in summary(t, AGENT)) == first
    assert len(t.for_agent(AGENT)) == 2


def test_operator_rank_lets_a_preempting_priority_item_interrupt_another() -> None:
    t = day(prog("district", 10, time(11), priority=Priority.PRIORITY, rank=1),
            prog("commune", 5, time(11, 2), priority=Priority.PRIORITY, rank=0, policy=PREEMPT))
    assert summary(t, AGENT) == [("district*", "11:00", 2), ("commune", "11:02", 5),
                                 ("district", "11:07", 10)]
    same_rank = day(prog("district", 10, time(11), priority=Priority.PRIORITY),
                    prog("commune", 5, time(11, 2), priority=Priority.PRIORITY, policy=PREEMPT))
    assert summary(same_rank, AGENT) == [("district", "11:00", 10), ("commune", "11:10", 5)]


def test_rank_never_beats_a_higher_priority() -> None:
    t = day(prog("low", 10, time(11), priority=Priority.NORMAL, rank=-100),
            prog("high", 10, time(11), priority=Priority.PRIORITY, rank=100))
    assert [p for p, _, _ in summary(t, AGENT)] == ["high", "low"]


def test_placements_override_and_append() -> None:
    t = day(prog("a", 10, time(8), priority=Priority.PRIORITY),
            prog("b", 10, time(8), priority=Priority.PRIORITY, placement=Placement.APPEND),
            prog("c", 10, time(8), placement=Placement.APPEND, priority=Priority.EMERGENCY),
            prog("d", 10, time(8), priority=Priority.NORMAL))
    # append goes after everything else waiting, whatever its priority
    assert [p for p, _, _ in summary(t, AGENT)] == ["a", "d", "c", "b"]
    o = day(prog("a", 10, time(8), priority=Priority.PRIORITY),
            prog("z", 5, time(8, 2), priority=Priority.PRIORITY, placement=Placement.OVERRIDE,
                 policy=PREEMPT))
    assert summary(o, AGENT) == [("a*", "08:00", 2), ("z", "08:02", 5), ("a", "08:07", 10)]


# --------------------------------------------------------------------------- sessions


def test_session_cap_refuses_what_does_not_fit_and_says_by_how_much() -> None:
    urban = Session(session_id="eve", start=time(17), cap_minutes=15, length_minutes=60)
    t = day(prog("a", 10, session="eve"), prog("b", 10, time(17, 20), session="eve"),
            prog("c", 5, time(17, 30), session="eve"), sessions=(urban,))
    assert summary(t, AGENT) == [("a", "17:00", 10), ("c", "17:30", 5)]
    (notice,) = t.notices
    assert isinstance(notice, CapExceeded)
    assert (notice.programme, notice.cap_ms, notice.used_ms, notice.needed_ms,
            notice.excess_ms) == ("b", 15 * 60_000, 10 * 60_000, 10 * 60_000, 5 * 60_000)


def test_session_cap_goes_to_the_higher_priority_even_if_it_comes_later() -> None:
    urban = Session(session_id="eve", start=time(17), cap_minutes=15, length_minutes=60)
    t = day(prog("normal", 10, session="eve"),
            prog("prio", 10, time(17, 20), session="eve", priority=Priority.PRIORITY),
            sessions=(urban,))
    assert summary(t, AGENT) == [("prio", "17:20", 10)]
    assert [(type(n), n.programme) for n in t.notices] == [(CapExceeded, "normal")]


def test_item_longer_than_what_is_left_of_the_session_is_reported() -> None:
    t = day(prog("a", 30, session="eve"), prog("b", 20, time(17, 10), session="eve"))
    assert summary(t, AGENT) == [("a", "17:00", 30)]
    assert [type(n) for n in t.notices] in ([WindowPassed], [CapExceeded])


def test_session_weekdays_restrict_recurring_items_silently_but_not_one_offs() -> None:
    weekdays = Session(session_id="eve", start=time(17), cap_minutes=45,
                       weekdays=Weekday.ALL & ~(Weekday.SAT | Weekday.SUN))
    schedule = Schedule(commune="xa", sessions=(weekdays,), programmes=(
        prog("daily", 5, session="eve", recurrence=Daily()),
        prog("oneoff", 5, session="eve", recurrence=Once(on=date(2025, 1, 11)))))
    t = resolve(schedule, ONE, ns(MONDAY, time(0)))  # a week from Monday
    assert [s.programme for s in t.for_agent(AGENT)] == ["daily"] * 5
    (notice,) = t.notices
    assert isinstance(notice, OutsideSession)
    assert (notice.programme, notice.session) == ("oneoff", "eve")


def test_a_time_outside_its_session_is_refused_when_programming() -> None:
    with pytest.raises(ScheduleError) as caught:
        Schedule(commune="xa", sessions=(EVENING,),
                 programmes=(prog("late", 5, time(18), session="eve"),))
    assert caught.value.code is ErrorCode.INVALID_RANGE
    with pytest.raises(ScheduleError) as unknown:
        Schedule(commune="xa", programmes=(prog("x", 5, session="nope"),))
    assert unknown.value.code is ErrorCode.UNKNOWN_SESSION


# --------------------------------------------------------------------------- playlists, targets


def test_playlist_repeats_with_gaps_and_numbered_slot_ids() -> None:
    playlist = Programme(programme_id="news", items=(item("n1", 3), item("n2", 2)),
                         recurrence=Once(on=MONDAY, at=time(6)), repeat=2, repeat_gap_s=300)
    t = day(playlist)
    assert summary(t, AGENT) == [("news", "06:00", 3), ("news", "06:03", 2),
                                 ("news", "06:10", 3), ("news", "06:13", 2)]
    assert [s.slot_id for s in t.for_agent(AGENT)] == [
        f"news-20250105T230000Z-{n}" for n in range(4)]
    assert [s.content for s in t.for_agent(AGENT)] == [sha("n1"), sha("n2")] * 2


def test_a_playlist_is_not_interleaved_by_lower_items() -> None:
    playlist = Programme(programme_id="pl", items=(item("p1", 5), item("p2", 5)),
                         recurrence=Once(on=MONDAY, at=time(6)))
    t = day(playlist, prog("x", 5, time(6, 5), priority=Priority.EMERGENCY))
    assert summary(t, AGENT) == [("pl", "06:00", 5), ("pl", "06:05", 5), ("x", "06:10", 5)]


def test_targets_choose_agents_and_lanes_share_identical_timelines() -> None:
    topo = topology({"v1": ["c1", "c2"], "v2": ["c3"], "v3": ["c4"]})
    t = day(prog("all", 5, time(6)),
            prog("v1only", 5, time(7), targets=Targets(villages=frozenset({"v1"}))),
            prog("c4only", 5, time(8), targets=Targets(clusters=frozenset({"c4"}))),
            prog("ghost", 5, time(9), targets=Targets(villages=frozenset({"v9"}))),
            topo=topo)
    assert [lane.agents for lane in t.lanes] == [("a-c1", "a-c2"), ("a-c3",), ("a-c4",)]
    assert [s.programme for s in t.for_agent("a-c2")] == ["all", "v1only"]
    assert [s.programme for s in t.for_agent("a-c3")] == ["all"]
    assert [s.programme for s in t.for_agent("a-c4")] == ["all", "c4only"]
    assert t.for_agent("nobody") == ()
    assert {type(n) for n in t.notices} == {UnknownTarget, NoAgents}


def test_plan_slots_are_valid_wire_slots() -> None:
    t = day(prog("relay", 20, session="eve", priority=Priority.FILL),
            prog("news", 10, time(17, 5), session="eve", policy=PREEMPT))
    slots = plan_slots(t, AGENT)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(slots), type=list[PlanSlot])
    assert decoded == slots
    assert [(s.slot_id, s.priority, s.policy) for s in slots] == [
        ("relay-20250106T100000Z-p1", Priority.FILL, QUEUE),
        ("news-20250106T100500Z", Priority.NORMAL, PREEMPT),
        ("relay-20250106T100000Z", Priority.FILL, QUEUE)]
    assert slots[1].window_end_ns == ns(MONDAY, time(17, 45))
    assert plan_slots(t, "nobody") == []


def test_longest_programme_id_keeps_slot_ids_within_the_wire_limit() -> None:
    pid = "p" * 64
    playlist = Programme(programme_id=pid, items=(item("a", 1),) * 9, repeat=111,
                         recurrence=Once(on=MONDAY, at=time(1)), max_delay_minutes=1440)
    t = day(playlist, prog("x", 1, time(1, 0, 30), priority=Priority.EMERGENCY,
                           policy=PREEMPT))
    assert max(len(s.slot_id) for s in t.for_agent(AGENT)) <= 96
    msgspec.msgpack.decode(msgspec.msgpack.encode(plan_slots(t, AGENT)), type=list[PlanSlot])


def test_lookback_keeps_what_is_still_airing_at_the_window_start() -> None:
    schedule = Schedule(commune="xa", programmes=(
        prog("a", 30, time(23, 50), recurrence=DateRange(first=MONDAY, last=MONDAY,
                                                         at=time(23, 50))),))
    midnight = ns(date(2025, 1, 7), time(0))
    t = resolve(schedule, ONE, midnight, midnight + 3600 * 10**9)
    assert [s.start_ns for s in t.for_agent(AGENT)] == [ns(MONDAY, time(23, 50))]
    blind = resolve(schedule, ONE, midnight, midnight + 3600 * 10**9, lookback_ns=0)
    assert blind.for_agent(AGENT) == ()


def test_default_horizon_is_seven_days() -> None:
    schedule = Schedule(commune="xa", programmes=(prog("d", 5, recurrence=Daily(at=time(5))),))
    t = resolve(schedule, ONE, ns(MONDAY, time(0)))
    assert len(t.for_agent(AGENT)) == 7
    assert t.end_ns - t.start_ns == 7 * 86_400 * 10**9
