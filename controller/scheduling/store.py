"""Rows <-> ``schedules`` structs, and the approved schedule of a commune.

A programme revision keeps the whole ``schedules.Programme`` as JSON (msgspec encodes
and validates it both ways), so what the resolver sees is exactly what was checked and
approved. The approved schedule is built defensively: a programme that no longer fits
its session (the session was edited under it) is left out and reported, rather than
stopping every plan of the commune.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec
from sqlmodel import Session, col, select

from controller.storage.tables.schedule import (
    BroadcastSession,
    ContentPin,
    ProgrammeRevision,
    ProgrammeStatus,
)
from schedules import Programme, Schedule, ScheduleError, Weekday
from schedules import Session as SessionRule

log = logging.getLogger("loaxa.scheduling")


def programme_json(programme: Programme) -> str:
    return msgspec.json.encode(programme).decode()


def programme_of(row: ProgrammeRevision) -> Programme:
    return msgspec.json.decode(row.spec, type=Programme)


def session_rule(row: BroadcastSession) -> SessionRule:
    return SessionRule(session_id=row.key, start=row.start, cap_minutes=row.cap_minutes,
                       length_minutes=row.length_minutes, weekdays=Weekday(row.weekdays))


def session_rows(session: Session, commune_id: int) -> list[BroadcastSession]:
    return list(session.exec(select(BroadcastSession).where(
        BroadcastSession.commune_id == commune_id).order_by(col(BroadcastSession.key))))


def revisions_with(session: Session, commune_id: int,
                   statuses: Iterable[ProgrammeStatus]) -> list[ProgrammeRevision]:
    return list(session.exec(select(ProgrammeRevision).where(
        ProgrammeRevision.commune_id == commune_id,
        col(ProgrammeRevision.status).in_(list(statuses)))
        .order_by(col(ProgrammeRevision.key), col(ProgrammeRevision.revision))))


def approved_schedule(session: Session, commune_id: int, commune: str, tz: str
                      ) -> tuple[Schedule, dict[str, ProgrammeRevision]]:
    """The schedule agents may air (approved revisions only), and those revisions by key."""
    sessions: list[SessionRule] = []
    for stored in session_rows(session, commune_id):
        try:
            sessions.append(session_rule(stored))
        except ScheduleError as exc:  # pragma: no cover - refused when written
            log.error("session %s of %s is invalid and ignored: %s", stored.key, commune,
                      exc)
    schedule = Schedule(commune=commune, tz=tz, sessions=tuple(sessions))
    programmes: list[Programme] = []
    rows: dict[str, ProgrammeRevision] = {}
    for row in revisions_with(session, commune_id, [ProgrammeStatus.APPROVED]):
        try:
            programme = programme_of(row)
            schedule.with_programme(programme)  # validates it against the sessions
        except (ScheduleError, msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.error("approved programme %s of %s cannot be resolved and is left out: %s",
                      row.key, commune, exc)
            continue
        programmes.append(programme)
        rows[row.key] = row
    return msgspec.structs.replace(schedule, programmes=tuple(programmes)), rows


def pinned_content(session: Session, commune_id: int) -> list[str]:
    return list(session.exec(select(ContentPin.content).where(
        ContentPin.commune_id == commune_id).order_by(col(ContentPin.content))))
