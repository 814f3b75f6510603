"""Programmes and sessions stored on both backends: drafts, revisions, approval rules,
conflicts when programming, and the audit trail of every change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pytest
from sqlmodel import select

from controller.events import ProgrammeApproved, ProgrammeWithdrawn
from controller.registry.errors import Conflict, Forbidden, Invalid, NotFound
from controller.scheduling import ItemRef, ProgrammeInput, ScheduleConflicts
from controller.scheduling.readiness import Reach, Readiness
from controller.scheduling.store import approved_schedule, programme_of
from controller.storage.tables.audit import AuditEntry
from controller.storage.tables.schedule import ProgrammeRevision
from protocols.messages import HardTimePolicy, Priority
from schedules import (
    Daily,
    NotCachedInTime,
    Overlap,
    Placement,
    Resolution,
    SessionOverbooked,
)

from .conftest import MORNING, MUSIC, NOT_IN_LIBRARY, STORM, Commune


def daily(title: str = "Tin sáng", at: dt.time | None = dt.time(5), content: str = MORNING,
          **fields: object) -> ProgrammeInput:
    return ProgrammeInput(title=title, items=(ItemRef(content=content),),
                          recurrence=Daily(at=at), **fields)  # type: ignore[arg-type]


def actions(commune: Commune) -> list[tuple[str, str, str]]:
    with commune.kit.db.session() as session:
        rows = session.exec(select(AuditEntry).order_by(AuditEntry.id))  # type: ignore[arg-type]
        return [(r.action, r.username, r.target) for r in rows
                if r.action.split(".")[0] in ("programme", "session", "emergency", "pin")]


def on_air(commune: Commune) -> dict[str, int]:
    with commune.kit.db.session() as session:
        schedule, rows = approved_schedule(session, commune.commune_id, "xa-a",
                                           "Asia/Ho_Chi_Minh")
    assert {p.programme_id for p in schedule.programmes} == set(rows)
    return {key: row.revision for key, row in rows.items()}


def test_operators_draft_and_only_approvers_approve(commune: Commune) -> None:
    programmes = commune.services.programmes
    with pytest.raises(Forbidden):
        programmes.create(commune.who("viewer-a"), "xa-a", daily())
    with pytest.raises(NotFound):  # another commune's operator does not even see it
        programmes.create(commune.who("op-b"), "xa-a", daily())
    made = programmes.create(commune.who("op-a"), "xa-a", daily(), key="tin-sang")
    assert (made.programme.status, made.programme.revision, made.programme.created_by) == (
        "draft", 1, "op-a")
    assert on_air(commune) == {}  # a draft is not part of what airs
    for username in ("op-a", "admin-a", "em-a"):
        with pytest.raises(Forbidden):
            programmes.approve(commune.who(username), "xa-a", "tin-sang")
    approved = programmes.approve(commune.who("appr-a"), "xa-a", "tin-sang").programme
    assert (approved.status, approved.approved_by, approved.on_air_revision) == (
        "approved", "appr-a", 1)
    assert on_air(commune) == {"tin-sang": 1}
    assert [e.programme for e in commune.kit.events if isinstance(e, ProgrammeApproved)] == [
        "tin-sang"]
    assert actions(commune) == [("programme.create", "op-a", "tin-sang"),
                                ("programme.approve", "appr-a", "tin-sang")]
    with pytest.raises(Conflict):  # nothing left to approve
        programmes.approve(commune.who("appr-a"), "xa-a", "tin-sang")


def test_the_stored_programme_is_the_one_checked(commune: Commune) -> None:
    spec = daily(villages=frozenset({"thon-a2"}), priority=Priority.PRIORITY,
                 policy=HardTimePolicy.SKIP_IF_BUSY, repeat=2, repeat_gap_s=30, rank=3,
                 max_delay_minutes=10)
    commune.services.programmes.create(commune.who("op-a"), "xa-a", spec, key="p1")
    with commune.kit.db.session() as session:
        row = session.exec(select(ProgrammeRevision)).one()
    programme = programme_of(row)
    assert (row.title, row.priority, row.status.value) == ("Tin sáng", 30, "draft")
    assert programme.items[0].content.hex() == MORNING
    assert programme.items[0].duration_ms == 300_000  # from the library
    assert programme.targets.villages == frozenset({"thon-a2"})
    assert (programme.repeat, programme.repeat_gap_s, programme.rank,
            programme.max_delay_minutes, programme.policy) == (
        2, 30, 3, 10, HardTimePolicy.SKIP_IF_BUSY)


def test_editing_an_approved_programme_keeps_it_on_the_air_until_approved(
        commune: Commune) -> None:
    programmes = commune.services.programmes
    programmes.create(commune.who("op-a"), "xa-a", daily(), key="tin-sang")
    programmes.approve(commune.who("appr-a"), "xa-a", "tin-sang")
    edited = programmes.update(commune.who("op-a"), "xa-a", "tin-sang",
                               {"recurrence": Daily(at=dt.time(6)), "title": "Tin sáu giờ"})
    assert (edited.programme.revision, edited.programme.status,
            edited.programme.on_air_revision) == (2, "draft", 1)
    assert on_air(commune) == {"tin-sang": 1}  # the approved revision keeps airing
    again = programmes.update(commune.who("op-a"), "xa-a", "tin-sang", {"repeat": 2})
    assert again.programme.revision == 2  # the waiting draft is edited in place
    programmes.approve(commune.who("appr-a"), "xa-a", "tin-sang")
    shown = programmes.get(commune.who("viewer-a"), "xa-a", "tin-sang")
    assert [(r.revision, r.status) for r in shown.revisions] == [(1, "superseded"),
                                                                 (2, "approved")]
    assert (shown.title, shown.recurrence["at"], shown.repeat) == ("Tin sáu giờ",
                                                                   "06:00:00", 2)
    assert on_air(commune) == {"tin-sang": 2}


def test_withdrawing_and_deleting_a_draft(commune: Commune) -> None:
    programmes = commune.services.programmes
    programmes.create(commune.who("op-a"), "xa-a", daily(), key="tin-sang")
    programmes.discard_draft(commune.who("op-a"), "xa-a", "tin-sang")
    with pytest.raises(NotFound):
        programmes.get(commune.who("op-a"), "xa-a", "tin-sang")
    programmes.create(commune.who("op-a"), "xa-a", daily(), key="tin-sang")
    programmes.approve(commune.who("appr-a"), "xa-a", "tin-sang")
    programmes.update(commune.who("op-a"), "xa-a", "tin-sang", {"repeat": 3})
    with pytest.raises(Forbidden):
        programmes.withdraw(commune.who("viewer-a"), "xa-a", "tin-sang")
    withdrawn = programmes.withdraw(commune.who("op-a"), "xa-a", "tin-sang")
    assert (withdrawn.status, withdrawn.on_air_revision) == ("withdrawn", None)
    assert on_air(commune) == {}
    assert [r.status for r in programmes.get(commune.who("op-a"), "xa-a",
                                             "tin-sang").revisions] == ["withdrawn"] * 2
    assert any(isinstance(e, ProgrammeWithdrawn) for e in commune.kit.events)
    with pytest.raises(Conflict):
        programmes.withdraw(commune.who("op-a"), "xa-a", "tin-sang")
    listed = programmes.list_programmes(commune.who("viewer-a"), "xa-a", "withdrawn")
    assert [p.key for p in listed] == ["tin-sang"]
    assert [a for a, _u, _t in actions(commune)] == [
        "programme.create", "programme.delete", "programme.create", "programme.approve",
        "programme.update", "programme.withdraw"]


def test_conflicts_refuse_the_programme_until_resolved(commune: Commune) -> None:
    programmes = commune.services.programmes
    programmes.create(commune.who("op-a"), "xa-a", daily(), key="tin-sang")
    programmes.approve(commune.who("appr-a"), "xa-a", "tin-sang")
    clash = daily(title="Nhạc", at=dt.time(5, 2), content=MUSIC)
    with pytest.raises(ScheduleConflicts) as refused:
        programmes.create(commune.who("op-a"), "xa-a", clash, key="nhac")
    overlaps = [c for c in refused.value.report.conflicts if isinstance(c, Overlap)]
    assert overlaps and {c.other_programme for c in overlaps} == {"tin-sang"}
    assert set(overlaps[0].agents) == {"ag-1", "ag-2", "ag-3"}
    assert refused.value.report.overridable
    assert [p.key for p in programmes.list_programmes(commune.who("op-a"), "xa-a")] == [
        "tin-sang"]  # nothing stored
    appended = programmes.create(commune.who("op-a"), "xa-a", clash, key="nhac",
                                 resolution=Resolution.APPEND)
    assert (appended.programme.placement, appended.programme.policy) == ("append",
                                                                         "queue_after")
    assert appended.report.conflicts  # accepted knowingly, and reported back
    overriding = programmes.create(commune.who("op-a"), "xa-a", daily(
        title="Tin khác", at=dt.time(5, 1), content=STORM), key="tin-khac",
        resolution=Resolution.OVERRIDE)
    assert (overriding.programme.placement, overriding.programme.policy) == ("override",
                                                                             "preempt")
    # a later edit keeps the operator's resolution instead of refusing again
    kept = programmes.update(commune.who("op-a"), "xa-a", "nhac", {"title": "Nhạc chờ"})
    assert kept.programme.placement == "append"
    # approval checks again, and accepts a resolved programme
    assert programmes.approve(commune.who("appr-a"), "xa-a", "nhac").programme.status == \
        "approved"


def test_session_caps_and_content_that_cannot_reach_the_agents(commune: Commune) -> None:
    sessions, programmes = commune.services.sessions, commune.services.programmes
    sessions.create(commune.who("op-a"), "xa-a", "sang", start=dt.time(5), cap_minutes=6)
    programmes.create(commune.who("op-a"), "xa-a", daily(at=None, session="sang"), key="a")
    programmes.approve(commune.who("appr-a"), "xa-a", "a")
    with pytest.raises(ScheduleConflicts) as over:
        programmes.create(commune.who("op-a"), "xa-a",
                          daily(at=None, session="sang", content=STORM), key="b")
    caps = [c for c in over.value.report.conflicts if isinstance(c, SessionOverbooked)]
    assert caps and (caps[0].cap_ms, caps[0].existing_ms, caps[0].proposed_ms) == (
        360_000, 300_000, 120_000)
    missing = ProgrammeInput(title="Chưa thu", items=(ItemRef(content=NOT_IN_LIBRARY,
                                                              duration_ms=60_000),),
                             recurrence=Daily(at=dt.time(20)))
    with pytest.raises(ScheduleConflicts) as late:
        programmes.create(commune.who("op-a"), "xa-a", missing, key="c")
    uncached = [c for c in late.value.report.conflicts if isinstance(c, NotCachedInTime)]
    assert {c.agent_id for c in uncached} == {"ag-1", "ag-2", "ag-3"}
    assert all(c.ready_ns is None and c.airings == 7 for c in uncached)
    with pytest.raises(Invalid):  # not in the library and no duration: nothing to plan
        programmes.create(commune.who("op-a"), "xa-a", ProgrammeInput(
            title="?", items=(ItemRef(content=NOT_IN_LIBRARY),), recurrence=Daily(
                at=dt.time(20))))
    with pytest.raises(Invalid):  # an unknown session is the operator's mistake
        programmes.create(commune.who("op-a"), "xa-a", daily(session="toi"))
    with pytest.raises(Invalid):
        programmes.create(commune.who("op-a"), "xa-a", daily(villages=frozenset({"thon-b1"})))


def test_the_readiness_estimator_is_a_hook(commune: Commune) -> None:
    """The content service plugs in its own estimate; the conflict check asks it."""
    asked: list[tuple[list[str], dict[bytes, int]]] = []

    class TwoDaysAway:
        """ag-1 gets the item in two days; ag-2 is offline, last seen at ``now``."""

        def estimate(self, commune_id: int, now_ns: int, agents: Sequence[str],
                     airs: Mapping[bytes, int]) -> Readiness:
            asked.append((list(agents), dict(airs)))
            answers = {("ag-1", c): Reach(now_ns + 2 * 86_400 * 10**9) for c in airs}
            answers.update({("ag-2", c): Reach(None, offline=True, last_seen_ns=now_ns)
                            for c in airs})
            return Readiness(answers, default=Reach(now_ns))

    commune.services.programmes.plug_readiness(TwoDaysAway())
    with pytest.raises(ScheduleConflicts) as late:
        commune.services.programmes.create(commune.who("op-a"), "xa-a", daily())
    uncached = {c.agent_id: c for c in late.value.report.conflicts
                if isinstance(c, NotCachedInTime)}
    assert set(uncached) == {"ag-1", "ag-2"}  # ag-3 is ready now: no conflict
    assert (uncached["ag-1"].airings, uncached["ag-1"].offline) == (2, False)
    assert uncached["ag-1"].ready_ns == commune.now_ns + 2 * 86_400 * 10**9
    assert (uncached["ag-2"].ready_ns, uncached["ag-2"].offline,
            uncached["ag-2"].last_seen_ns) == (None, True, commune.now_ns)
    # asked with the first airing: tomorrow 05:00 in Hanoi (the kit's clock: 10:00)
    tomorrow_five = int(dt.datetime(2026, 1, 1, 22, tzinfo=dt.UTC).timestamp()) * 10**9
    assert asked == [(["ag-1", "ag-2", "ag-3"], {bytes.fromhex(MORNING): tomorrow_five})]
    commune.services.programmes.unplug_readiness()  # back to the library's answer
    assert commune.services.programmes.create(commune.who("op-a"), "xa-a",
                                              daily()).report.ok


def test_sessions_guard_the_programmes_in_them(commune: Commune) -> None:
    sessions, programmes = commune.services.sessions, commune.services.programmes
    made = sessions.create(commune.who("op-a"), "xa-a", "sang", start=dt.time(5),
                           cap_minutes=30, weekdays=0b0011111, name="Buổi sáng")
    assert made.weekdays == ["mon", "tue", "wed", "thu", "fri"]
    with pytest.raises(Conflict):
        sessions.create(commune.who("op-a"), "xa-a", "sang", start=dt.time(6), cap_minutes=5)
    with pytest.raises(Invalid):  # a window shorter than its cap
        sessions.create(commune.who("op-a"), "xa-a", "x", start=dt.time(6), cap_minutes=30,
                        length_minutes=10)
    programmes.create(commune.who("op-a"), "xa-a", daily(at=dt.time(5, 10), session="sang"),
                      key="a")
    programmes.approve(commune.who("appr-a"), "xa-a", "a")
    with pytest.raises(Forbidden):  # it would change what airs without an approval
        sessions.update(commune.who("op-a"), "xa-a", "sang", {"cap_minutes": 20})
    with pytest.raises(Conflict):  # 05:10 would fall outside 06:00-06:30
        sessions.update(commune.who("appr-a"), "xa-a", "sang", {"start": dt.time(6)})
    changed = sessions.update(commune.who("appr-a"), "xa-a", "sang",
                              {"cap_minutes": 20, "length_minutes": 40})
    assert (changed.cap_minutes, changed.length_minutes, changed.programmes) == (20, 40, ["a"])
    with pytest.raises(Conflict):
        sessions.delete(commune.who("op-a"), "xa-a", "sang")
    programmes.withdraw(commune.who("op-a"), "xa-a", "a")
    sessions.delete(commune.who("op-a"), "xa-a", "sang")
    assert sessions.list_sessions(commune.who("viewer-a"), "xa-a") == []
    assert [a for a, _u, _t in actions(commune) if a.startswith("session.")] == [
        "session.create", "session.update", "session.delete"]


def test_placement_survives_the_round_trip(commune: Commune) -> None:
    commune.services.programmes.create(commune.who("op-a"), "xa-a", daily(), key="a",
                                       resolution=Resolution.OVERRIDE)
    with commune.kit.db.session() as session:
        row = session.exec(select(ProgrammeRevision)).one()
    assert programme_of(row).placement is Placement.OVERRIDE
