"""Sessions, programmes (drafts, conflicts, approval), pins, a commune's day and an agent's
plan.

Creating, editing or approving a programme that conflicts with the approved schedule
answers 409 ``schedule_conflict`` with the conflicts listed (translated, with their
facts) and stores nothing; the same request with ``resolve: override|append`` accepts
it that way.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from controller.scheduling.describe import conflict_entry, notice_entry
from controller.scheduling.errors import ScheduleConflicts, invalid_schedule
from controller.scheduling.inputs import ItemRef, ProgrammeInput
from controller.scheduling.names import POLICIES, PRIORITIES, weekdays_of
from controller.scheduling.views import Checked, Programmed
from schedules import (
    ConflictReport,
    Daily,
    DateRange,
    Every,
    Once,
    Recurrence,
    Resolution,
    ScheduleError,
    Weekly,
)

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES, ErrorDetail, request_language
from .params import CommunePath, KeyPath
from .schedule_schemas import (
    AgentPlanOut,
    ApproveIn,
    CheckOut,
    ConflictBody,
    ConflictOut,
    DailyIn,
    EveryIn,
    ItemIn,
    NoticeOut,
    OnceIn,
    PinIn,
    PinOut,
    ProgrammeChangeIn,
    ProgrammeIn,
    ProgrammeOut,
    RangeIn,
    ScheduleDay,
    SessionChangeIn,
    SessionIn,
    SessionOut,
    Sha,
    TimelineOut,
    WeeklyIn,
)

router = APIRouter(responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ConflictBody,
                  "description": "Conflicts with the approved schedule; nothing stored."}}
ShaPath = Annotated[str, Sha]


# ---------------------------------------------------------------------------- conversions


def recurrence_of(body: OnceIn | DailyIn | WeeklyIn | RangeIn | EveryIn) -> Recurrence:
    try:
        if isinstance(body, OnceIn):
            return Once(on=body.on, at=body.at)
        if isinstance(body, DailyIn):
            return Daily(at=body.at, since=body.since)
        if isinstance(body, WeeklyIn):
            return Weekly(weekdays=weekdays_of(body.weekdays), at=body.at, since=body.since)
        if isinstance(body, RangeIn):
            return DateRange(first=body.first, last=body.last, at=body.at,
                             weekdays=weekdays_of(body.weekdays))
        return Every(minutes=body.minutes, start=body.start, end=body.end,
                     daily_from=body.daily_from, daily_until=body.daily_until)
    except ScheduleError as exc:
        raise invalid_schedule(exc) from None


def items_of(items: list[ItemIn]) -> tuple[ItemRef, ...]:
    return tuple(ItemRef(content=i.content, title=i.title, duration_ms=i.duration_ms)
                 for i in items)


CONVERT: dict[str, Any] = {
    "recurrence": recurrence_of, "items": items_of, "villages": frozenset,
    "clusters": frozenset, "priority": PRIORITIES.__getitem__,
    "policy": POLICIES.__getitem__}


def programme_input(body: ProgrammeIn) -> ProgrammeInput:
    return ProgrammeInput(
        title=body.title, items=items_of(body.items), recurrence=recurrence_of(body.recurrence),
        session=body.session, villages=frozenset(body.villages),
        clusters=frozenset(body.clusters), priority=PRIORITIES[body.priority],
        policy=POLICIES[body.policy], repeat=body.repeat, repeat_gap_s=body.repeat_gap_s,
        rank=body.rank, max_delay_minutes=body.max_delay_minutes)


def programme_changes(body: ProgrammeChangeIn) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in body.model_fields_set - {"resolve"}:
        value = getattr(body, name)
        if value is None and name != "session" and name != "max_delay_minutes":
            continue  # null means "unchanged" except where it is a value
        changes[name] = CONVERT[name](value) if name in CONVERT else value
    return changes


def resolution(name: str | None) -> Resolution | None:
    return Resolution(name) if name is not None else None


def report_lists(report: ConflictReport, tz: str, language: str
                 ) -> tuple[list[ConflictOut], list[NoticeOut]]:
    return ([ConflictOut.model_validate(conflict_entry(c, tz, language))
             for c in report.conflicts],
            [NoticeOut.model_validate(notice_entry(n, tz, language)) for n in report.impact])


def programmed(result: Programmed, request: Request) -> ProgrammeOut:
    out = ProgrammeOut.model_validate(result.programme)
    out.conflicts, out.impact = report_lists(result.report, result.tz,
                                             request_language(request))
    return out


async def conflict_response(request: Request, exc: Exception) -> JSONResponse:
    """The 409 of a conflicting programme: the error body plus the structured list."""
    assert isinstance(exc, ScheduleConflicts)
    language = request_language(request)
    conflicts, impact = report_lists(exc.report, exc.tz, language)
    body = ConflictBody(code=exc.code, message=exc.translated(language),
                        details=[ErrorDetail(field=f"conflicts[{n}]", problem=c.message)
                                 for n, c in enumerate(conflicts[:20])],
                        conflicts=conflicts, impact=impact,
                        overridable=exc.report.overridable)
    return JSONResponse(body.model_dump(mode="json"), status_code=409)


# ---------------------------------------------------------------------------- sessions


@router.get("/communes/{commune}/sessions", response_model=list[SessionOut],
            tags=["schedule"])
def list_sessions(request: Request, who: Who, commune: CommunePath) -> list[SessionOut]:
    return [SessionOut.model_validate(s) for s in
            services_of(request).scheduling.sessions.list_sessions(who, commune)]


@router.post("/communes/{commune}/sessions", response_model=SessionOut,
             status_code=status.HTTP_201_CREATED, tags=["schedule"])
def create_session(request: Request, who: Who, commune: CommunePath,
                   body: SessionIn) -> SessionOut:
    return SessionOut.model_validate(services_of(request).scheduling.sessions.create(
        who, commune, body.key, start=body.start, cap_minutes=body.cap_minutes,
        length_minutes=body.length_minutes, weekdays=int(weekdays_of(body.weekdays)),
        name=body.name))


@router.get("/communes/{commune}/sessions/{key}", response_model=SessionOut,
            tags=["schedule"])
def get_session(request: Request, who: Who, commune: CommunePath, key: KeyPath) -> SessionOut:
    return SessionOut.model_validate(services_of(request).scheduling.sessions.get(
        who, commune, key))


@router.patch("/communes/{commune}/sessions/{key}", response_model=SessionOut,
              tags=["schedule"])
def update_session(request: Request, who: Who, commune: CommunePath, key: KeyPath,
                   body: SessionChangeIn) -> SessionOut:
    """Fields sent change (``length_minutes: null`` makes the window the cap)."""
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "weekdays" and value is not None:
            value = int(weekdays_of(value))
        if value is not None or name == "length_minutes":
            changes[name] = value
    return SessionOut.model_validate(services_of(request).scheduling.sessions.update(
        who, commune, key, changes))


@router.delete("/communes/{commune}/sessions/{key}", status_code=204, tags=["schedule"],
               response_class=Response)
def delete_session(request: Request, who: Who, commune: CommunePath, key: KeyPath) -> None:
    services_of(request).scheduling.sessions.delete(who, commune, key)


# ---------------------------------------------------------------------------- programmes


@router.get("/communes/{commune}/programmes", response_model=list[ProgrammeOut],
            tags=["schedule"])
def list_programmes(request: Request, who: Who, commune: CommunePath,
                    status_: Annotated[str | None, Query(
                        alias="status", pattern=r"^(draft|approved|superseded|withdrawn)$")]
                    = None) -> list[ProgrammeOut]:
    return [ProgrammeOut.model_validate(p) for p in
            services_of(request).scheduling.programmes.list_programmes(who, commune, status_)]


@router.post("/communes/{commune}/programmes", response_model=ProgrammeOut,
             status_code=status.HTTP_201_CREATED, tags=["schedule"], responses=CONFLICT)
def create_programme(request: Request, who: Who, commune: CommunePath,
                     body: ProgrammeIn) -> ProgrammeOut:
    """A draft. Conflicts with the approved schedule answer 409 unless ``resolve``."""
    return programmed(services_of(request).scheduling.programmes.create(
        who, commune, programme_input(body), body.key, resolution(body.resolve)), request)


@router.post("/communes/{commune}/programmes/check", response_model=CheckOut,
             tags=["schedule"])
def check_programme(request: Request, who: Who, commune: CommunePath,
                    body: ProgrammeIn) -> CheckOut:
    """What creating it would find (or editing, if ``key`` names a programme); nothing
    is stored."""
    checked: Checked = services_of(request).scheduling.programmes.check(
        who, commune, programme_input(body), body.key, resolution(body.resolve))
    conflicts, impact = report_lists(checked.report, checked.tz, request_language(request))
    return CheckOut(ok=checked.report.ok, overridable=checked.report.overridable,
                    conflicts=conflicts, impact=impact)


@router.get("/communes/{commune}/programmes/{key}", response_model=ProgrammeOut,
            tags=["schedule"])
def get_programme(request: Request, who: Who, commune: CommunePath,
                  key: KeyPath) -> ProgrammeOut:
    return ProgrammeOut.model_validate(services_of(request).scheduling.programmes.get(
        who, commune, key))


@router.patch("/communes/{commune}/programmes/{key}", response_model=ProgrammeOut,
              tags=["schedule"], responses=CONFLICT)
def update_programme(request: Request, who: Who, commune: CommunePath, key: KeyPath,
                     body: ProgrammeChangeIn) -> ProgrammeOut:
    """Edits the waiting draft, or makes a new draft revision of an approved programme
    (which keeps airing until the draft is approved)."""
    return programmed(services_of(request).scheduling.programmes.update(
        who, commune, key, programme_changes(body), resolution(body.resolve)), request)


@router.post("/communes/{commune}/programmes/{key}/approve", response_model=ProgrammeOut,
             tags=["schedule"], responses=CONFLICT)
def approve_programme(request: Request, who: Who, commune: CommunePath, key: KeyPath,
                      body: ApproveIn | None = None) -> ProgrammeOut:
    """Approver only. The draft goes on the air with the next plans."""
    return programmed(services_of(request).scheduling.programmes.approve(
        who, commune, key, resolution(body.resolve if body else None)), request)


@router.post("/communes/{commune}/programmes/{key}/withdraw", response_model=ProgrammeOut,
             tags=["schedule"])
def withdraw_programme(request: Request, who: Who, commune: CommunePath,
                       key: KeyPath) -> ProgrammeOut:
    return ProgrammeOut.model_validate(services_of(request).scheduling.programmes.withdraw(
        who, commune, key))


@router.delete("/communes/{commune}/programmes/{key}/draft", status_code=204,
               tags=["schedule"], response_class=Response)
def delete_draft(request: Request, who: Who, commune: CommunePath, key: KeyPath) -> None:
    services_of(request).scheduling.programmes.discard_draft(who, commune, key)


# ---------------------------------------------------------------------------- pins


@router.get("/communes/{commune}/pins", response_model=list[PinOut], tags=["schedule"])
def list_pins(request: Request, who: Who, commune: CommunePath) -> list[PinOut]:
    return [PinOut.model_validate(p)
            for p in services_of(request).scheduling.pins.list_pins(who, commune)]


@router.post("/communes/{commune}/pins", response_model=PinOut,
             status_code=status.HTTP_201_CREATED, tags=["schedule"])
def pin(request: Request, who: Who, commune: CommunePath, body: PinIn) -> PinOut:
    return PinOut.model_validate(services_of(request).scheduling.pins.pin(
        who, commune, body.content, body.note))


@router.delete("/communes/{commune}/pins/{content}", status_code=204, tags=["schedule"],
               response_class=Response)
def unpin(request: Request, who: Who, commune: CommunePath, content: ShaPath) -> None:
    services_of(request).scheduling.pins.unpin(who, commune, content)


# ---------------------------------------------------------------------------- timelines


@router.get("/communes/{commune}/timeline", response_model=TimelineOut, tags=["schedule"])
def timeline(request: Request, who: Who, commune: CommunePath,
             day: Annotated[ScheduleDay | None, Query()] = None) -> TimelineOut:
    """What airs where and when on ``day`` (default: today), by the approved schedule."""
    view = services_of(request).scheduling.timeline.day(who, commune, day)
    language = request_language(request)
    out = TimelineOut.model_validate(dataclasses.replace(view, notices=[]))
    out.notices = [NoticeOut.model_validate(notice_entry(n, view.tz, language))
                   for n in view.notices]
    return out


@router.get("/agents/{agent_id}/plan", response_model=AgentPlanOut, tags=["schedule"])
def agent_plan(request: Request, who: Who, agent_id: KeyPath,
               withdrawn: bool = False) -> AgentPlanOut:
    """What was last published to the agent (and, with ``withdrawn``, what later plans
    took back before it aired)."""
    return AgentPlanOut.model_validate(services_of(request).scheduling.plans.agent_plan(
        who, agent_id, withdrawn))
