"""Conflicts when programming: overlaps, session caps, content that cannot reach an
agent in time, and the operator's two answers, override and append."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from protocols.messages import HardTimePolicy, Priority
from schedules import (
    CapExceeded,
    ConflictReport,
    NotCachedInTime,
    Once,
    Overlap,
    Placement,
    Programme,
    Resolution,
    Schedule,
    ScheduleError,
    Session,
    SessionOverbooked,
    Skipped,
    Targets,
    apply_resolution,
    check_programme,
    resolve,
)

from .support import check_invariants, item, ns, sha, summary, topology

DAY = date(2025, 3, 3)
TOPO = topology({"v1": ["c1", "c2"], "v2": ["c3"]})
EVE = Session(session_id="eve", start=time(17), cap_minutes=45)


def prog(pid: str, minutes: float, at: time | None, **kw: Any) -> Programme:
    kw.setdefault("session", "eve")
    return Programme(programme_id=pid, items=(item(pid, minutes),),
                     recurrence=Once(on=DAY, at=at), **kw)


EXISTING = Schedule(commune="xa", sessions=(EVE,), programmes=(
    prog("relay", 20, None, priority=Priority.FILL),
    prog("news", 10, time(17, 20)),
))
START, END = ns(DAY, time(0)), ns(DAY, time(23))


def check(proposed: Programme, **kw: Any) -> ConflictReport:
    return check_programme(EXISTING, TOPO, proposed, START, END, **kw)


def test_overlaps_name_the_programmes_agents_and_times() -> None:
    report = check(prog("notice", 15, time(17, 10), targets=Targets(villages=frozenset({"v1"}))))
    assert not report.ok
    overlaps = report.overlaps
    assert [(o.other_programme, o.agents, o.other_start_ns, o.other_end_ns, o.overridable)
            for o in overlaps] == [
        ("relay", ("a-c1", "a-c2"), ns(DAY, time(17)), ns(DAY, time(17, 20)), True),
        ("news", ("a-c1", "a-c2"), ns(DAY, time(17, 20)), ns(DAY, time(17, 30)), True)]
    assert overlaps[0].slot_id == "notice-20250303T101000Z"
    assert (overlaps[0].start_ns, overlaps[0].end_ns) == (ns(DAY, time(17, 10)),
                                                        ns(DAY, time(17, 25)))
    assert report.overridable


def test_no_conflict_when_the_air_is_free() -> None:
    report = check(prog("free", 5, time(17, 30)))
    assert report.ok and not report.impact


def test_session_cap_exceeded_says_by_how_much() -> None:
    report = check(prog("long", 20, time(17, 30)))
    (cap,) = [c for c in report.conflicts if isinstance(c, SessionOverbooked)]
    assert (cap.session, cap.cap_ms, cap.existing_ms, cap.proposed_ms, cap.excess_ms) == (
        "eve", 45 * 60_000, 30 * 60_000, 20 * 60_000, 5 * 60_000)
    assert cap.agents == ("a-c1", "a-c2", "a-c3")
    assert cap.session_start_ns == ns(DAY, time(17))


def test_content_that_cannot_be_cached_in_time_is_reported_per_agent() -> None:
    ready = {"a-c1": ns(DAY, time(17, 45)), "a-c2": None, "a-c3": ns(DAY, time(9))}

    def ready_at(agent: str, content: bytes) -> int | None:
        assert content == sha("fresh")
        return ready[agent]

    report = check(prog("fresh", 5, time(17, 30)), ready_at=ready_at)
    late = [c for c in report.conflicts if isinstance(c, NotCachedInTime)]
    assert [(c.agent_id, c.ready_ns, c.first_start_ns, c.airings) for c in late] == [
        ("a-c1", ns(DAY, time(17, 45)), ns(DAY, time(17, 30)), 1),
        ("a-c2", None, ns(DAY, time(17, 30)), 1)]


def test_override_makes_the_new_programme_win_and_shows_who_pays() -> None:
    big = Session(session_id="eve", start=time(17), cap_minutes=60)
    existing = Schedule(commune="xa", sessions=(big,), programmes=(
        prog("relay", 20, None, priority=Priority.FILL), prog("news", 10, time(17, 20))))
    proposed = prog("notice", 10, time(17, 10))
    assert not check_programme(existing, TOPO, proposed, START, END).ok
    resolved = apply_resolution(proposed, Resolution.OVERRIDE)
    assert (resolved.placement, resolved.policy) == (Placement.OVERRIDE, HardTimePolicy.PREEMPT)
    report = check_programme(existing, TOPO, resolved, START, END)
    assert report.impact == ()  # the relay restarts after it, inside the session
    timeline = resolve(existing.with_programme(resolved), TOPO, START, END)
    check_invariants(existing.with_programme(resolved), timeline)
    assert summary(timeline, "a-c1") == [("relay*", "17:00", 10), ("notice", "17:10", 10),
                                         ("news", "17:20", 10), ("relay", "17:30", 20)]


def test_override_beats_the_same_priority_and_takes_the_cap_first() -> None:
    proposed = apply_resolution(prog("notice", 20, time(17, 5)), Resolution.OVERRIDE)
    report = check(proposed)
    assert [(type(n), n.programme) for n in report.impact] == [
        (CapExceeded, "relay")]
    timeline = resolve(EXISTING.with_programme(proposed), TOPO, START, END)
    assert summary(timeline, "a-c3") == [("notice", "17:05", 20), ("news", "17:25", 10)]


def test_append_goes_after_the_existing_items_and_yields_the_cap() -> None:
    proposed = prog("notice", 10, time(17, 10))
    appended = apply_resolution(proposed, Resolution.APPEND)
    assert (appended.placement, appended.policy) == (Placement.APPEND,
                                                     HardTimePolicy.QUEUE_AFTER)
    timeline = resolve(EXISTING.with_programme(appended), TOPO, START, END)
    check_invariants(EXISTING.with_programme(appended), timeline)
    assert summary(timeline, "a-c1") == [("relay", "17:00", 20), ("news", "17:20", 10),
                                         ("notice", "17:30", 10)]
    too_long = apply_resolution(prog("notice", 20, time(17, 10)), Resolution.APPEND)
    report = check(too_long)
    (refused,) = report.impact
    assert isinstance(refused, CapExceeded)
    assert (refused.programme, refused.agents, refused.excess_ms) == (
        "notice", ("a-c1", "a-c2", "a-c3"), 5 * 60_000)


def test_override_cannot_beat_a_higher_priority() -> None:
    existing = Schedule(commune="xa", sessions=(EVE,), programmes=(
        prog("alarm", 10, time(17), priority=Priority.EMERGENCY),))
    report = check_programme(existing, TOPO, prog("notice", 5, time(17, 5)), START, END)
    (overlap,) = report.overlaps
    assert isinstance(overlap, Overlap)
    assert (overlap.other_priority, overlap.overridable) == (Priority.EMERGENCY, False)
    assert not report.overridable


def test_impact_lists_only_what_the_proposal_changes() -> None:
    existing = EXISTING.with_programme(prog("skipper", 5, time(17, 5),
                                            policy=HardTimePolicy.SKIP_IF_BUSY))
    base = resolve(existing, TOPO, START, END)
    assert base.notices  # the skipper is already skipped before any proposal
    proposed = prog("cut", 3, time(17, 10), priority=Priority.PRIORITY,
                    policy=HardTimePolicy.PREEMPT, session=None)
    report = check_programme(existing, TOPO, proposed, START, END)
    assert report.overlaps  # it does cut into the relay ...
    assert report.impact == ()  # ... which restarts in the session (skipper: skipped before)
    joined = existing.with_programme(proposed)
    timeline = resolve(joined, TOPO, START, END)
    check_invariants(joined, timeline)
    assert summary(timeline, "a-c3") == [("relay*", "17:00", 10), ("cut", "17:10", 3),
                                         ("relay", "17:13", 20), ("news", "17:33", 10)]
    shifted = prog("cut", 5, time(17, 2), priority=Priority.PRIORITY,
                   policy=HardTimePolicy.PREEMPT, session=None)
    (changed,) = check_programme(existing, TOPO, shifted, START, END).impact
    assert isinstance(changed, Skipped)
    assert (changed.code, changed.programme, changed.busy_programme) == (
        "skipped_busy", "skipper", "cut")  # now skipped because of the new item


def test_proposal_replacing_an_existing_programme_does_not_conflict_with_itself() -> None:
    report = check(prog("news", 10, time(17, 20)))
    assert all(o.other_programme != "news" for o in report.overlaps)


def test_an_invalid_proposal_is_a_typed_error() -> None:
    with pytest.raises(ScheduleError):
        check(prog("late", 5, time(19)))
