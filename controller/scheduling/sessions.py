"""Broadcast sessions (khung giờ phát): the daily windows and caps programmes sit in.

A session is part of what airs, so changing one that an approved programme sits in is
an approver's decision (it changes the air without a programme approval), and no change
may leave a programme outside its session: that is refused here, when the operator can
still fix it, rather than found by the planner.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.registry.errors import Conflict, Invalid, NotFound
from controller.registry.timebase import StationTime
from controller.registry.units import check_key
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Principal
from controller.storage.database import Database
from controller.storage.tables.schedule import BroadcastSession, ProgrammeStatus
from schedules import Schedule, ScheduleError, Weekday
from schedules import Session as SessionRule

from .access import CommuneAccess
from .errors import invalid_schedule
from .names import weekday_names
from .store import programme_of, revisions_with
from .views import SessionView

LIVE = (ProgrammeStatus.APPROVED, ProgrammeStatus.DRAFT)
CHANGEABLE = frozenset({"name", "start", "cap_minutes", "length_minutes", "weekdays"})


def find_session(session: Session, commune_id: int, key: str) -> BroadcastSession:
    row = session.exec(select(BroadcastSession).where(
        BroadcastSession.commune_id == commune_id, BroadcastSession.key == key)).first()
    if row is None:
        raise NotFound(N_("No broadcast session {key} in this commune."), key=key)
    return row


def rule_of(key: str, start: dt.time, cap_minutes: int, length_minutes: int | None,
            weekdays: int) -> SessionRule:
    try:
        return SessionRule(session_id=key, start=start.replace(microsecond=0, tzinfo=None),
                           cap_minutes=cap_minutes, length_minutes=length_minutes,
                           weekdays=Weekday(weekdays))
    except ScheduleError as exc:
        raise invalid_schedule(exc) from None
    except ValueError:
        raise Invalid(N_("Weekdays must name at least one day.")) from None


class SessionService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time

    @property
    def tz(self) -> str:
        return self.time.zone.key

    def list_sessions(self, who: Principal, commune: str) -> list[SessionView]:
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            rows = work.session.exec(select(BroadcastSession).where(
                BroadcastSession.commune_id == access.unit_id))
            users = self._users(work.session, access.unit_id)
            return [self._view(access.unit.key, row, users)
                    for row in sorted(rows, key=lambda r: (r.start, r.key))]

    def get(self, who: Principal, commune: str, key: str) -> SessionView:
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            row = find_session(work.session, access.unit_id, key)
            return self._view(access.unit.key, row, self._users(work.session, access.unit_id))

    def create(self, who: Principal, commune: str, key: str, *, start: dt.time,
               cap_minutes: int, length_minutes: int | None = None,
               weekdays: int = int(Weekday.ALL), name: str = "") -> SessionView:
        check_key(key)
        rule = rule_of(key, start, cap_minutes, length_minutes, weekdays)
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            if work.session.exec(select(BroadcastSession).where(
                    BroadcastSession.commune_id == access.unit_id,
                    BroadcastSession.key == key)).first() is not None:
                raise Conflict(N_("A broadcast session {key} already exists here."), key=key)
            now = self.time.now()
            row = BroadcastSession(commune_id=access.unit_id, key=key, name=name.strip(),
                                   start=rule.start, cap_minutes=rule.cap_minutes,
                                   length_minutes=rule.length_minutes,
                                   weekdays=int(rule.weekdays), created_by=who.username[:64],
                                   created_at=now, updated_at=now)
            work.session.add(row)
            work.session.flush()
            record(work, who, "session.create", target=key, commune_id=access.unit_id,
                   detail=self._detail(row))
            return self._view(access.unit.key, row, {})

    def update(self, who: Principal, commune: str, key: str,
               changes: dict[str, Any]) -> SessionView:
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise Invalid(N_("Unknown session fields: {fields}."),
                          fields=", ".join(sorted(unknown)))
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            row = find_session(work.session, access.unit_id, key)
            merged = {"start": row.start, "cap_minutes": row.cap_minutes,
                      "length_minutes": row.length_minutes, "weekdays": row.weekdays,
                      **{k: v for k, v in changes.items() if k != "name"}}
            rule = rule_of(key, merged["start"], merged["cap_minutes"],
                           merged["length_minutes"], merged["weekdays"])
            self._check_programmes_still_fit(work.session, access, rule)
            row.start, row.cap_minutes = rule.start, rule.cap_minutes
            row.length_minutes, row.weekdays = rule.length_minutes, int(rule.weekdays)
            if changes.get("name") is not None:
                row.name = str(changes["name"]).strip()
            row.updated_at = self.time.now()
            work.session.add(row)
            record(work, who, "session.update", target=key, commune_id=access.unit_id,
                   detail=self._detail(row))
            return self._view(access.unit.key, row, self._users(work.session, access.unit_id))

    def delete(self, who: Principal, commune: str, key: str) -> None:
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            row = find_session(work.session, access.unit_id, key)
            users = self._users(work.session, access.unit_id).get(key, [])
            if users:
                raise Conflict(N_("Session {key} still holds programmes: {programmes}. "
                                  "Withdraw or move them first."), key=key,
                               programmes=", ".join(users))
            work.session.delete(row)
            record(work, who, "session.delete", target=key, commune_id=access.unit_id,
                   detail=self._detail(row))

    # ------------------------------------------------------------------ helpers

    def _check_programmes_still_fit(self, session: Session, access: CommuneAccess,
                                    rule: SessionRule) -> None:
        placed = [row for row in revisions_with(session, access.unit_id, LIVE)
                  if row.session_key == rule.session_id]
        if any(row.status is ProgrammeStatus.APPROVED for row in placed):
            access.require_approval()
        schedule = Schedule(commune=access.unit.key, tz=self.tz, sessions=(rule,))
        for row in placed:
            try:
                schedule.with_programme(programme_of(row))
            except ScheduleError:
                raise Conflict(N_("After this change programme {programme} would fall "
                                  "outside session {key}: change the programme first."),
                               programme=row.key, key=rule.session_id) from None

    @staticmethod
    def _users(session: Session, commune_id: int) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for row in revisions_with(session, commune_id, LIVE):
            if row.session_key is not None and row.key not in users.get(row.session_key, []):
                users.setdefault(row.session_key, []).append(row.key)
        return users

    @staticmethod
    def _detail(row: BroadcastSession) -> dict[str, Any]:
        return {"name": row.name, "start": row.start.isoformat(),
                "cap_minutes": row.cap_minutes, "length_minutes": row.length_minutes,
                "weekdays": weekday_names(row.weekdays)}

    @staticmethod
    def _view(commune: str, row: BroadcastSession,
              users: dict[str, list[str]]) -> SessionView:
        return SessionView(commune=commune, key=row.key, name=row.name, start=row.start,
                           cap_minutes=row.cap_minutes, length_minutes=row.length_minutes,
                           weekdays=weekday_names(row.weekdays), created_by=row.created_by,
                           created_at=row.created_at, updated_at=row.updated_at,
                           programmes=users.get(row.key, []))
