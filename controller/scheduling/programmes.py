"""Programmes: drafts, conflict checks when programming, approval, withdrawal.

Editing an approved programme creates a new *draft revision* rather than turning the
programme back into a draft: the approved revision keeps airing until an approver
approves the edit, so fixing a typo in the 05:00 relay never silences it, and what is
on the air is always something an approver approved.

Every create, edit and approval runs ``schedules.check_programme`` against the approved
schedule and the live topology, and asks the readiness estimate (``readiness.py``; in a
running station ``delivery.py``) whether each item can reach each targeted agent by its
first airing. Conflicts refuse the change (nothing is stored) unless
the operator answered with a resolution (``override``/``append``, applied with
``schedules.apply_resolution``); a programme placed by a resolution keeps it across
later edits, since the operator already decided how it stands against the others.
"""

from __future__ import annotations

import base64
import secrets
from collections import defaultdict
from typing import Any

import msgspec
from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus, ProgrammeApproved, ProgrammeWithdrawn
from controller.i18n import N_
from controller.registry.errors import Conflict, Invalid, NotFound
from controller.registry.timebase import StationTime
from controller.registry.units import check_key, check_name
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Principal
from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.schedule import ProgrammeRevision, ProgrammeStatus
from schedules import (
    DEFAULT_HORIZON_NS,
    ConflictReport,
    Placement,
    Programme,
    Resolution,
    ScheduleError,
    apply_resolution,
    check_programme,
    resolve_targets,
)

from .access import CommuneAccess
from .errors import ScheduleConflicts, invalid_schedule
from .inputs import ProgrammeInput, build_programme, input_of, with_changes
from .names import policy_name, priority_name, recurrence_dict
from .readiness import LibraryReadiness, ReadinessEstimator, first_airings
from .store import approved_schedule, programme_json, programme_of
from .topology import commune_clusters, commune_villages, load_topology
from .views import Checked, ItemView, Programmed, ProgrammeView, RevisionView

STATUSES = tuple(s.value for s in ProgrammeStatus)


def new_programme_key() -> str:
    return "ct-" + base64.b32encode(secrets.token_bytes(5)).decode().lower()


class ProgrammeService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime, *,
                 readiness: ReadinessEstimator | None = None,
                 horizon_ns: int = DEFAULT_HORIZON_NS) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.readiness: ReadinessEstimator = readiness or LibraryReadiness(db)
        self.horizon_ns = horizon_ns

    def plug_readiness(self, estimator: ReadinessEstimator) -> None:
        """The station's delivery estimate replaces the library-only default."""
        self.readiness = estimator

    def unplug_readiness(self) -> None:
        """Back to the library-only default (the content service stopped)."""
        self.readiness = LibraryReadiness(self.db)

    @property
    def tz(self) -> str:
        return self.time.zone.key

    # ------------------------------------------------------------------ reading

    def list_programmes(self, who: Principal, commune: str, status: str | None = None
                        ) -> list[ProgrammeView]:
        if status is not None and status not in STATUSES:
            raise Invalid(N_("Unknown programme status {status}."), status=status)
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            rows = work.session.exec(select(ProgrammeRevision).where(
                ProgrammeRevision.commune_id == access.unit_id).order_by(
                col(ProgrammeRevision.key), col(ProgrammeRevision.revision)))
            by_key: dict[str, list[ProgrammeRevision]] = defaultdict(list)
            for row in rows:
                by_key[row.key].append(row)
            titles = self._titles(work.session, access.unit_id)
            views = [self._view(access.unit.key, revisions, titles)
                     for revisions in by_key.values()]
        return [v for v in views if status is None or v.status == status]

    def get(self, who: Principal, commune: str, key: str) -> ProgrammeView:
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            revisions = self._revisions(work.session, access.unit_id, key)
            return self._view(access.unit.key, revisions,
                              self._titles(work.session, access.unit_id), history=True)

    def check(self, who: Principal, commune: str, spec: ProgrammeInput,
              key: str | None = None, resolution: Resolution | None = None) -> Checked:
        """What creating (or, for an existing ``key``, editing) would find; stores nothing."""
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            programme = self._prepare(work.session, access, key or new_programme_key(), spec,
                                      resolution)
            return Checked(self._check(work.session, access, programme), self.tz)

    # ------------------------------------------------------------------ changing

    def create(self, who: Principal, commune: str, spec: ProgrammeInput,
               key: str | None = None, resolution: Resolution | None = None) -> Programmed:
        key = check_key(key) if key is not None else new_programme_key()
        title = check_name(spec.title)
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            if work.session.exec(select(ProgrammeRevision.id).where(
                    ProgrammeRevision.commune_id == access.unit_id,
                    ProgrammeRevision.key == key)).first() is not None:
                raise Conflict(N_("A programme {key} already exists here."), key=key)
            programme = self._prepare(work.session, access, key, spec, resolution)
            report = self._gate(self._check(work.session, access, programme), programme)
            now = self.time.now()
            row = ProgrammeRevision(
                commune_id=access.unit_id, key=key, revision=1, title=title,
                status=ProgrammeStatus.DRAFT, priority=int(programme.priority),
                session_key=programme.session, spec=programme_json(programme),
                created_by=who.username[:64], created_at=now, updated_at=now)
            work.session.add(row)
            work.session.flush()
            record(work, who, "programme.create", target=key, commune_id=access.unit_id,
                   detail=self._detail(row, programme, report, resolution))
            view = self._view(access.unit.key, [row],
                              self._titles(work.session, access.unit_id))
        return Programmed(view, report, self.tz)

    def update(self, who: Principal, commune: str, key: str, changes: dict[str, Any],
               resolution: Resolution | None = None) -> Programmed:
        if "title" in changes:
            changes = {**changes, "title": check_name(changes["title"])}
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            revisions = self._revisions(work.session, access.unit_id, key)
            draft = self._with(revisions, ProgrammeStatus.DRAFT)
            base = draft or self._with(revisions, ProgrammeStatus.APPROVED) or revisions[-1]
            before = programme_of(base)
            spec = with_changes(input_of(base.title, before), changes)
            programme = self._prepare(work.session, access, key, spec, resolution)
            if resolution is None:
                programme = msgspec.structs.replace(programme, placement=before.placement)
            report = self._gate(self._check(work.session, access, programme), programme)
            now = self.time.now()
            if draft is None:
                draft = ProgrammeRevision(
                    commune_id=access.unit_id, key=key, revision=revisions[-1].revision + 1,
                    title=spec.title, status=ProgrammeStatus.DRAFT, priority=0, spec="",
                    created_by=who.username[:64], created_at=now)
                revisions.append(draft)
            draft.title, draft.priority = spec.title, int(programme.priority)
            draft.session_key, draft.spec = programme.session, programme_json(programme)
            draft.updated_at = now
            work.session.add(draft)
            work.session.flush()
            detail = self._detail(draft, programme, report, resolution)
            record(work, who, "programme.update", target=key, commune_id=access.unit_id,
                   detail={**detail, "changed": sorted(changes)})
            view = self._view(access.unit.key, revisions,
                              self._titles(work.session, access.unit_id))
        return Programmed(view, report, self.tz)

    def approve(self, who: Principal, commune: str, key: str,
                resolution: Resolution | None = None) -> Programmed:
        """The waiting draft goes on the air, replacing the approved revision. The check
        runs again: the approved schedule may have changed since the draft was made."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_approval()
            revisions = self._revisions(work.session, access.unit_id, key)
            draft = self._with(revisions, ProgrammeStatus.DRAFT)
            if draft is None:
                raise Conflict(N_("Programme {key} has no draft waiting for approval."),
                               key=key)
            programme = programme_of(draft)
            if resolution is not None:
                programme = apply_resolution(programme, resolution)
                draft.spec = programme_json(programme)
            report = self._gate(self._check(work.session, access, programme), programme)
            now = self.time.now()
            current = self._with(revisions, ProgrammeStatus.APPROVED)
            if current is not None:
                current.status = ProgrammeStatus.SUPERSEDED
                current.ended_by, current.ended_at = who.username[:64], now
                work.session.add(current)
                work.session.flush()  # one approved revision at any moment
            draft.status = ProgrammeStatus.APPROVED
            draft.approved_by, draft.approved_at = who.username[:64], now
            work.session.add(draft)
            work.session.flush()
            record(work, who, "programme.approve", target=key, commune_id=access.unit_id,
                   detail={**self._detail(draft, programme, report, resolution),
                           "replaces": current.revision if current else None})
            work.events.append(ProgrammeApproved(
                commune_id=access.unit_id, commune=access.unit.key, programme=key,
                revision=draft.revision, title=draft.title, approved_by=who.username))
            view = self._view(access.unit.key, revisions,
                              self._titles(work.session, access.unit_id))
        return Programmed(view, report, self.tz)

    def withdraw(self, who: Principal, commune: str, key: str) -> ProgrammeView:
        """Off the air (and any waiting draft with it); the history stays."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            revisions = self._revisions(work.session, access.unit_id, key)
            live = [r for r in revisions
                    if r.status in (ProgrammeStatus.APPROVED, ProgrammeStatus.DRAFT)]
            if not live:
                raise Conflict(N_("Programme {key} is already withdrawn."), key=key)
            now = self.time.now()
            was_on_air = any(r.status is ProgrammeStatus.APPROVED for r in live)
            for row in live:
                row.status = ProgrammeStatus.WITHDRAWN
                row.ended_by, row.ended_at = who.username[:64], now
                work.session.add(row)
            work.session.flush()
            record(work, who, "programme.withdraw", target=key, commune_id=access.unit_id,
                   detail={"revisions": [r.revision for r in live],
                           "was_on_air": was_on_air})
            if was_on_air:
                work.events.append(ProgrammeWithdrawn(
                    commune_id=access.unit_id, commune=access.unit.key, programme=key,
                    withdrawn_by=who.username))
            return self._view(access.unit.key, revisions,
                              self._titles(work.session, access.unit_id))

    def discard_draft(self, who: Principal, commune: str, key: str) -> None:
        """Delete the waiting draft (never aired, so nothing refers to it; the audit log
        keeps what it was). A programme that only had that draft is gone."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            access.require_programming()
            revisions = self._revisions(work.session, access.unit_id, key)
            draft = self._with(revisions, ProgrammeStatus.DRAFT)
            if draft is None:
                raise Conflict(N_("Programme {key} has no draft to delete; withdraw it "
                                  "instead."), key=key)
            record(work, who, "programme.delete", target=key, commune_id=access.unit_id,
                   detail={"revision": draft.revision, "title": draft.title,
                           "spec": draft.spec})
            work.session.delete(draft)

    # ------------------------------------------------------------------ helpers

    def _prepare(self, session: Session, access: CommuneAccess, key: str,
                 spec: ProgrammeInput, resolution: Resolution | None) -> Programme:
        self._check_targets(session, access, spec)
        programme = build_programme(session, access.unit_id, key, spec)
        return apply_resolution(programme, resolution) if resolution is not None \
            else programme

    def _check_targets(self, session: Session, access: CommuneAccess,
                       spec: ProgrammeInput) -> None:
        villages = set(spec.villages) - commune_villages(session, access.unit_id,
                                                         self.time.today())
        if villages:
            raise Invalid(N_("Not villages of this commune: {keys}."),
                          keys=", ".join(sorted(villages)))
        clusters = set(spec.clusters) - commune_clusters(session, access.unit_id)
        if clusters:
            raise Invalid(N_("Not clusters of this commune: {keys}."),
                          keys=", ".join(sorted(clusters)))

    def _check(self, session: Session, access: CommuneAccess,
               programme: Programme) -> ConflictReport:
        schedule, _ = approved_schedule(session, access.unit_id, access.unit.key, self.tz)
        topology = load_topology(session, access.unit_id)
        now = self.time.clock.wall_ns()
        end = now + self.horizon_ns
        try:
            readiness = self.readiness.estimate(
                access.unit_id, now, resolve_targets(programme.targets, topology).agents,
                first_airings(schedule, programme, now, end))
            return readiness.explain(check_programme(schedule, topology, programme, now, end,
                                                     ready_at=readiness))
        except ScheduleError as exc:
            raise invalid_schedule(exc) from None

    def _gate(self, report: ConflictReport, programme: Programme) -> ConflictReport:
        """Conflicts stop a programme the operator has not placed with a resolution."""
        if report.conflicts and programme.placement is Placement.AT_TIME:
            raise ScheduleConflicts(report, self.tz)
        return report

    @staticmethod
    def _revisions(session: Session, commune_id: int, key: str) -> list[ProgrammeRevision]:
        rows = list(session.exec(select(ProgrammeRevision).where(
            ProgrammeRevision.commune_id == commune_id, ProgrammeRevision.key == key)
            .order_by(col(ProgrammeRevision.revision))))
        if not rows:
            raise NotFound(N_("No programme {key} in this commune."), key=key)
        return rows

    @staticmethod
    def _with(revisions: list[ProgrammeRevision],
              status: ProgrammeStatus) -> ProgrammeRevision | None:
        return next((r for r in reversed(revisions) if r.status is status), None)

    @staticmethod
    def _titles(session: Session, commune_id: int) -> dict[str, str]:
        return dict(session.exec(select(LibraryItem.sha256, LibraryItem.title).where(
            LibraryItem.commune_id == commune_id)).all())

    @staticmethod
    def _detail(row: ProgrammeRevision, programme: Programme, report: ConflictReport,
                resolution: Resolution | None) -> dict[str, Any]:
        return {"revision": row.revision, "title": row.title, "spec": row.spec,
                "resolution": resolution.value if resolution else None,
                "placement": programme.placement.value,
                "conflicts": [c.__struct_config__.tag for c in report.conflicts]}

    def _view(self, commune: str, revisions: list[ProgrammeRevision],
              titles: dict[str, str], history: bool = False) -> ProgrammeView:
        row = revisions[-1]
        approved = self._with(revisions, ProgrammeStatus.APPROVED)
        programme = programme_of(row)
        return ProgrammeView(
            commune=commune, key=row.key, revision=row.revision, status=row.status.value,
            on_air_revision=approved.revision if approved else None, title=row.title,
            priority=priority_name(programme.priority), policy=policy_name(programme.policy),
            placement=programme.placement.value, session=programme.session,
            recurrence=recurrence_dict(programme.recurrence),
            items=[ItemView(content=i.content.hex(), duration_ms=i.duration_ms,
                            title=titles.get(i.content.hex())) for i in programme.items],
            villages=sorted(programme.targets.villages),
            clusters=sorted(programme.targets.clusters), repeat=programme.repeat,
            repeat_gap_s=programme.repeat_gap_s, rank=programme.rank,
            max_delay_minutes=programme.max_delay_minutes, created_by=row.created_by,
            created_at=row.created_at, updated_at=row.updated_at,
            approved_by=row.approved_by, approved_at=row.approved_at,
            ended_by=row.ended_by, ended_at=row.ended_at,
            revisions=[RevisionView(revision=r.revision, status=r.status.value, title=r.title,
                                    created_by=r.created_by, created_at=r.created_at,
                                    approved_by=r.approved_by, approved_at=r.approved_at,
                                    ended_by=r.ended_by, ended_at=r.ended_at)
                       for r in revisions] if history else [])
