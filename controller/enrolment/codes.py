"""Issuing one-time enrolment codes and listing the ones still waiting to be claimed.

The code is shown once (to the technician, with the command to paste on the device);
the database keeps only its digest. Issuing a new code for an agent withdraws any older
unclaimed one, so at most one code per agent is ever usable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EnrolmentCodeIssued, EventBus
from controller.i18n import N_
from controller.registry.agents import bind_cluster, new_agent_id
from controller.registry.errors import Conflict, Invalid
from controller.registry.stations import find_commune
from controller.registry.timebase import StationTime
from controller.registry.units import check_key
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import Agent, Cluster, EnrolmentCode
from controller.storage.tables.security import User
from protocols.enrolment import code_digest, new_code

from .access import ClaimAccess


@dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once
    agent_id: str
    commune: str
    cluster: str | None
    expires_at: dt.datetime
    command: str  # ``loaxa agent enroll ...`` to paste on the device


@dataclass(frozen=True)
class PendingCode:
    agent_id: str
    commune: str
    cluster: str | None
    issued_by: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    failed_attempts: int


def withdraw_codes(session: Session, agent_id: str, now: dt.datetime) -> None:
    """End every unclaimed code of an agent (it expires now)."""
    for code in session.exec(select(EnrolmentCode).where(
            EnrolmentCode.agent_id == agent_id, col(EnrolmentCode.claimed_at).is_(None),
            col(EnrolmentCode.expires_at) > now)):
        code.expires_at = now
        session.add(code)


class CodeService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime,
                 access: ClaimAccess, ttl: dt.timedelta = dt.timedelta(hours=72)) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.access = access
        self.ttl = ttl

    def issue(self, who: Principal, commune: str, *, cluster: str | None = None,
              agent_id: str | None = None) -> IssuedCode:
        """A code for an existing agent (re-enrolment, e.g. a replaced SD card) or for a
        new one, created pending in ``cluster``."""
        if agent_id is not None:
            check_key(agent_id)
        code = new_code()
        now = self.time.now()
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = find_commune(work.session, commune)
            assert unit.id is not None
            Scope(work.session, who, self.time.today()).require(Permission.ENROL, unit.id)
            if unit.merged_into_id is not None:
                raise Conflict(N_("{key} has been merged into another unit."), key=unit.key)
            agent = work.session.get(Agent, agent_id) if agent_id is not None else None
            if agent is not None and agent.commune_id != unit.id:
                raise Conflict(N_("Agent {agent} belongs to another commune."), agent=agent.id)
            if agent is None:
                if cluster is None:
                    raise Invalid(N_("A new agent needs a cluster."))
                agent = Agent(id=agent_id or new_agent_id(), commune_id=unit.id,
                              created_at=now)
                work.session.add(agent)
            if cluster is not None:
                bind_cluster(work.session, agent, unit.id, cluster)
                work.session.add(agent)
            work.session.flush()
            withdraw_codes(work.session, agent.id, now)
            expires = now + self.ttl
            work.session.add(EnrolmentCode(code_digest=code_digest(code), commune_id=unit.id,
                                           agent_id=agent.id, issued_by=who.user_id,
                                           issued_at=now, expires_at=expires))
            cluster_key = self._cluster_key(work.session, agent)
            record(work, who, "enrolment.issue", target=agent.id, commune_id=unit.id,
                   detail={"cluster": cluster_key, "expires_at": expires.isoformat()})
            work.events.append(EnrolmentCodeIssued(commune_id=unit.id, commune=unit.key,
                                                   agent_id=agent.id, expires_at=expires))
            return IssuedCode(code=code, agent_id=agent.id, commune=unit.key,
                              cluster=cluster_key, expires_at=expires,
                              command=self.access.enroll_command(code))

    def pending(self, who: Principal, commune: str | None = None) -> list[PendingCode]:
        """Codes neither claimed nor expired, oldest first."""
        now = self.time.now()
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            statement = select(EnrolmentCode).where(
                col(EnrolmentCode.claimed_at).is_(None), col(EnrolmentCode.expires_at) > now,
                col(EnrolmentCode.commune_id).in_(scope.units(Permission.READ)))
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                statement = statement.where(EnrolmentCode.commune_id == unit.id)
            rows = list(work.session.exec(statement.order_by(col(EnrolmentCode.issued_at))))
            pending = []
            for row in rows:
                agent = work.session.get(Agent, row.agent_id)
                user = work.session.get(User, row.issued_by) if row.issued_by else None
                pending.append(PendingCode(
                    agent_id=row.agent_id, commune=scope.graph.keys[row.commune_id],
                    cluster=self._cluster_key(work.session, agent) if agent else None,
                    issued_by=user.username if user else None, issued_at=row.issued_at,
                    expires_at=row.expires_at, failed_attempts=row.failed_attempts))
            return pending

    @staticmethod
    def _cluster_key(session: Session, agent: Agent) -> str | None:
        cluster = session.get(Cluster, agent.cluster_id) if agent.cluster_id else None
        return cluster.key if cluster else None
