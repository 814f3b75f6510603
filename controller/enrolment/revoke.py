"""Revoking an agent, as one operation: the registry forgets its keys, the broker drops
it, and the data plane refuses it at its next handshake.

The registry change (status, CURVE key and broker hash removed, open codes withdrawn,
audit entry) commits first; then the broker's files are rewritten from the registry and
Mosquitto reloaded, which disconnects the agent at once. ZeroMQ handshakes look keys up
in the registry (``controller.dataplane.zap``), so nothing needs restarting. Should the
broker step fail, the revocation still stands (the daemon re-syncs the broker at every
start) and the result says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controller.audit import record
from controller.broker.sync import BrokerSync
from controller.events import AgentRevoked, EventBus
from controller.i18n import N_
from controller.registry.agents import AgentView, agent_view, find_agent
from controller.registry.errors import Conflict
from controller.registry.timebase import StationTime
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, AgentStatus

from .codes import withdraw_codes

log = logging.getLogger("loaxa.enrolment")


@dataclass(frozen=True)
class RevokeResult:
    agent: AgentView
    broker_synced: bool


class Revoker:
    def __init__(self, db: Database, bus: EventBus, time: StationTime,
                 broker: BrokerSync) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.broker = broker

    def revoke(self, who: Principal, agent_id: str, reason: str = "") -> RevokeResult:
        with unit_of_work(self.db, self.bus, self.time) as work:
            agent = find_agent(work.session, agent_id)
            Scope(work.session, who, self.time.today()).require(Permission.ENROL,
                                                                agent.commune_id, hide=True)
            if agent.status is AgentStatus.REVOKED:
                raise Conflict(N_("Agent {agent} is already revoked."), agent=agent_id)
            now = self.time.now()
            agent.status = AgentStatus.REVOKED
            agent.revoked_at = now
            agent.curve_public_key = None
            agent.broker_password_hash = None
            work.session.add(agent)
            withdraw_codes(work.session, agent_id, now)
            record(work, who, "agent.revoke", target=agent_id, commune_id=agent.commune_id,
                   detail={"reason": reason[:500]})
            commune_id = agent.commune_id
        try:
            self.broker.sync()
            synced = True
        except Exception:
            log.exception("broker sync after revoking %s failed", agent_id)
            synced = False
        with reading(self.db, self.time) as view_work:
            unit = view_work.session.get(AdminUnit, commune_id)
            scope = Scope(view_work.session, who, self.time.today())
            view = agent_view(view_work.session, find_agent(view_work.session, agent_id),
                              scope.graph.keys)
        self.bus.publish(AgentRevoked(commune_id=commune_id, commune=unit.key if unit else None,
                                      agent_id=agent_id, broker_synced=synced))
        return RevokeResult(view, synced)
