"""Attestations: an operator's word that a legacy (wired/FM) cluster was operational.

A wired or FM cluster has no agent to report its uptime, so indicator 1 accepts an
attestation instead (DESIGN §4): who attested, when, and for which days. It names one
cluster, or a whole legacy station (then every wired/FM cluster of that station). An
attestation lasts at most the definition's ``attestation_valid_days`` from its first
day, so a legacy cluster stays "reached" only while someone keeps attesting it (a
quarter at a time with the bundled definition). For a report, a legacy cluster counts
as attested when its attestations together cover every day of the period up to the
report's day; the report lists the attestations it relied on.

Who may attest: operators, technicians and administrators of the commune (a viewer, or
an approver, may not). Every attestation and withdrawal is audited.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import AttestationChanged, EventBus
from controller.i18n import N_
from controller.registry.errors import Forbidden, Invalid, NotFound
from controller.registry.stations import find_cluster, find_commune, find_station
from controller.registry.timebase import StationTime
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, Cluster, ClusterKind, Station
from controller.storage.tables.reports import Attestation
from controller.storage.tables.security import Role

from ..uptime.definition import IndicatorDefinition
from .period import Period

ATTESTERS = frozenset({Role.OPERATOR, Role.TECHNICIAN, Role.ADMIN})


class Target(StrEnum):
    CLUSTER = "cluster"
    STATION = "station"


@dataclass(frozen=True)
class AttestationView:
    id: int
    uid: str
    commune: str
    target: Target
    key: str
    period_start: dt.date
    period_end: dt.date
    effective_end: dt.date  # period_end, or earlier when the definition caps it
    note: str
    attested_by: str
    attested_at: dt.datetime
    withdrawn_by: str | None
    withdrawn_at: dt.datetime | None


def effective_end(row: Attestation, valid_days: int) -> dt.date:
    return min(row.period_end, row.period_start + dt.timedelta(days=valid_days - 1))


def covers(rows: Iterable[Attestation], period: Period, last_day: dt.date,
           valid_days: int) -> bool:
    """Whether ``rows`` (not withdrawn) cover every day from the period's first day to
    ``min(period.end, last_day)``."""
    need_until = min(period.end, last_day)
    if need_until < period.start:
        return False
    day = period.start
    for start, end in sorted((r.period_start, effective_end(r, valid_days)) for r in rows
                             if r.withdrawn_at is None):
        if start > day:
            break
        if end >= day:
            day = end + dt.timedelta(days=1)
        if day > need_until:
            return True
    return day > need_until


def applying(rows: Sequence[Attestation], period: Period, valid_days: int
             ) -> list[Attestation]:
    """The live attestations that overlap the period (what a report shows as evidence)."""
    return [r for r in rows if r.withdrawn_at is None and r.period_start <= period.end
            and effective_end(r, valid_days) >= period.start]


class AttestationService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime,
                 definition: IndicatorDefinition) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.definition = definition

    def attest(self, who: Principal, commune: str, target: Target, key: str,
               start: dt.date, end: dt.date | None = None, note: str = "") -> AttestationView:
        valid = self.definition.attestation_valid_days
        end = end or start + dt.timedelta(days=valid - 1)
        today = self.time.today()
        if end < start:
            raise Invalid(N_("An attestation cannot end before it starts."))
        if start > today:
            raise Invalid(N_("An attestation cannot start in the future."))
        if (end - start).days + 1 > valid:
            raise Invalid(N_("An attestation covers at most {days} days."), days=valid)
        note = note.strip()
        if len(note) > 500:
            raise Invalid(N_("A note has at most 500 characters."))
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = find_commune(work.session, commune)
            assert unit.id is not None
            self._require(work.session, who, unit.id)
            row = Attestation(uid=secrets.token_hex(16), commune_id=unit.id,
                              period_start=start, period_end=end, note=note,
                              attested_by=who.username[:64], attested_at=self.time.now())
            if target is Target.CLUSTER:
                cluster = find_cluster(work.session, unit.id, key)
                if cluster.kind is ClusterKind.IP:
                    raise Invalid(N_("{key} is an IP cluster: its agent reports its uptime, "
                                     "it cannot be attested."), key=key)
                row.cluster_id = cluster.id
            else:
                station = find_station(work.session, unit.id, key)
                legacy = work.session.exec(select(Cluster).where(
                    Cluster.station_id == station.id,
                    col(Cluster.kind).in_([ClusterKind.WIRED, ClusterKind.FM]))).first()
                if legacy is None:
                    raise Invalid(N_("Station {key} has no wired or FM cluster to attest."),
                                  key=key)
                row.station_id = station.id
            work.session.add(row)
            work.session.flush()
            record(work, who, "attestation.create", target=f"{target.value}:{key}",
                   commune_id=unit.id, detail={"uid": row.uid, "from": start.isoformat(),
                                               "to": end.isoformat(), "note": note})
            work.events.append(AttestationChanged(
                commune_id=unit.id, commune=unit.key, attestation_id=row.id or 0,
                target=target.value, key=key, change="created", by=row.attested_by))
            return self._view(work.session, row, unit.key)

    def withdraw(self, who: Principal, attestation_id: int) -> AttestationView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            row = work.session.get(Attestation, attestation_id)
            scope = Scope(work.session, who, self.time.today())
            if row is None or not scope.allows(Permission.READ, row.commune_id):
                raise NotFound(N_("No attestation {id}."), id=attestation_id)
            self._require(work.session, who, row.commune_id, scope)
            unit = work.session.get(AdminUnit, row.commune_id)
            assert unit is not None
            view = self._view(work.session, row, unit.key)
            if row.withdrawn_at is None:
                row.withdrawn_at = self.time.now()
                row.withdrawn_by = who.username[:64]
                work.session.add(row)
                record(work, who, "attestation.withdraw", target=f"{view.target}:{view.key}",
                       commune_id=row.commune_id, detail={"uid": row.uid})
                work.events.append(AttestationChanged(
                    commune_id=row.commune_id, commune=unit.key, attestation_id=attestation_id,
                    target=view.target.value, key=view.key, change="withdrawn",
                    by=row.withdrawn_by))
            return self._view(work.session, row, unit.key)

    def attestations(self, who: Principal, commune: str | None = None,
             withdrawn: bool = False) -> list[AttestationView]:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            visible = scope.units(Permission.READ)
            statement = select(Attestation).where(col(Attestation.commune_id).in_(visible))
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                statement = statement.where(Attestation.commune_id == unit.id)
            if not withdrawn:
                statement = statement.where(col(Attestation.withdrawn_at).is_(None))
            rows = list(work.session.exec(statement.order_by(col(Attestation.id))))
            keys = scope.graph.keys
            return [self._view(work.session, r, keys.get(r.commune_id, "?")) for r in rows]

    def _require(self, session: Session, who: Principal, commune_id: int,
                 scope: Scope | None = None) -> None:
        """Operators, technicians and administrators of the commune may attest."""
        scope = scope or Scope(session, who, self.time.today())
        if who.system:
            return
        roots = {g.unit_id for g in scope.grants if g.role in ATTESTERS}
        if commune_id in scope.graph.below(roots):
            return
        if not scope.allows(Permission.READ, commune_id):
            raise NotFound(N_("Not found."))
        raise Forbidden(N_("Only the commune's operators, technicians and administrators "
                           "may attest."))

    def _view(self, session: Session, row: Attestation, commune: str) -> AttestationView:
        if row.cluster_id is not None:
            cluster = session.get(Cluster, row.cluster_id)
            target, key = Target.CLUSTER, cluster.key if cluster else "?"
        else:
            station = session.get(Station, row.station_id) if row.station_id else None
            target, key = Target.STATION, station.key if station else "?"
        assert row.id is not None
        return AttestationView(
            id=row.id, uid=row.uid, commune=commune, target=target, key=key,
            period_start=row.period_start, period_end=row.period_end,
            effective_end=effective_end(row, self.definition.attestation_valid_days),
            note=row.note, attested_by=row.attested_by, attested_at=row.attested_at,
            withdrawn_by=row.withdrawn_by, withdrawn_at=row.withdrawn_at)
