"""Agents as assets: which cluster each serves, the device's serial, SIM and place, and
its enrolment status. Credentials are the enrolment package's business; live state is
the fleet link's (through :class:`~controller.registry.livestate.LiveStateProvider`)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import Agent, AgentStatus, Cluster, ClusterKind

from .errors import Conflict, Invalid, NotFound
from .livestate import UNKNOWN, LiveState, LiveStateProvider, UnknownLiveState
from .stations import find_cluster, find_commune
from .timebase import StationTime
from .units import check_key
from .work import reading, unit_of_work

ASSET_FIELDS = ("serial", "sim_iccid", "imei", "install_date", "latitude", "longitude",
                "notes")
log = logging.getLogger("loaxa.registry")
TEXT_LIMITS = {"serial": 64, "sim_iccid": 32, "imei": 32, "notes": 1000}


@dataclass(frozen=True)
class AgentView:
    id: str
    commune: str
    cluster: str | None
    village: str | None
    status: AgentStatus
    serial: str | None
    sim_iccid: str | None
    imei: str | None
    install_date: dt.date | None
    latitude: float | None
    longitude: float | None
    notes: str | None
    created_at: dt.datetime
    enrolled_at: dt.datetime | None
    revoked_at: dt.datetime | None
    has_key: bool
    live: LiveState


def new_agent_id() -> str:
    return "ag-" + base64.b32encode(secrets.token_bytes(5)).decode().lower()


def find_agent(session: Session, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(N_("No agent {agent}."), agent=agent_id)
    return agent


def agent_view(session: Session, agent: Agent, keys: dict[int, str],
               live: LiveState = UNKNOWN) -> AgentView:
    cluster = session.get(Cluster, agent.cluster_id) if agent.cluster_id else None
    return AgentView(id=agent.id, commune=keys.get(agent.commune_id, "?"),
                     cluster=cluster.key if cluster else None,
                     village=keys.get(cluster.village_id) if cluster else None,
                     status=agent.status, serial=agent.serial, sim_iccid=agent.sim_iccid,
                     imei=agent.imei, install_date=agent.install_date,
                     latitude=agent.latitude, longitude=agent.longitude, notes=agent.notes,
                     created_at=agent.created_at, enrolled_at=agent.enrolled_at,
                     revoked_at=agent.revoked_at,
                     has_key=agent.curve_public_key is not None, live=live)


def bind_cluster(session: Session, agent: Agent, commune_id: int, key: str) -> Cluster:
    """Attach ``agent`` to an IP cluster of its commune that has no other agent."""
    cluster = find_cluster(session, commune_id, key)
    if cluster.kind is not ClusterKind.IP:
        raise Invalid(N_("Cluster {key} is not an IP cluster: it cannot have an agent."),
                      key=key)
    other = session.exec(select(Agent).where(Agent.cluster_id == cluster.id)).first()
    if other is not None and other.id != agent.id:
        raise Conflict(N_("Cluster {key} already has agent {agent}."), key=key, agent=other.id)
    agent.cluster_id = cluster.id
    return cluster


def check_assets(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(ASSET_FIELDS)
    if unknown:
        raise Invalid(N_("Unknown agent fields: {fields}."), fields=", ".join(sorted(unknown)))
    for name, limit in TEXT_LIMITS.items():
        value = changes.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise Invalid(N_("{field} must be text of at most {limit} characters."),
                          field=name, limit=limit)
    for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = changes.get(name)
        if value is not None and not -bound <= float(value) <= bound:
            raise Invalid(N_("{field} must be between -{bound} and {bound}."), field=name,
                          bound=bound)
    return dict(changes)


class AgentService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime,
                 live: LiveStateProvider | None = None) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.live: LiveStateProvider = live if live is not None else UnknownLiveState()

    def list_agents(self, who: Principal, commune: str | None = None,
             status: AgentStatus | None = None) -> list[AgentView]:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            statement = select(Agent).where(
                col(Agent.commune_id).in_(scope.units(Permission.READ)))
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                statement = statement.where(Agent.commune_id == unit.id)
            if status is not None:
                statement = statement.where(Agent.status == status)
            agents = list(work.session.exec(statement.order_by(col(Agent.id))))
            live = self.live_states([a.id for a in agents])
            return [agent_view(work.session, a, scope.graph.keys, live[a.id]) for a in agents]

    def get(self, who: Principal, agent_id: str) -> AgentView:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            agent = find_agent(work.session, agent_id)
            scope.require(Permission.READ, agent.commune_id, hide=True)
            return agent_view(work.session, agent, scope.graph.keys,
                              self.live_states([agent_id])[agent_id])

    def create(self, who: Principal, commune: str, agent_id: str | None = None,
               cluster: str | None = None, **assets: Any) -> AgentView:
        """Register an agent before it is enrolled (status pending, no credentials)."""
        assets = check_assets(assets)
        agent_id = check_key(agent_id) if agent_id is not None else new_agent_id()
        with unit_of_work(self.db, self.bus, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            unit = find_commune(work.session, commune)
            assert unit.id is not None
            scope.require(Permission.MANAGE_DEVICES, unit.id)
            if work.session.get(Agent, agent_id) is not None:
                raise Conflict(N_("An agent {agent} already exists."), agent=agent_id)
            agent = Agent(id=agent_id, commune_id=unit.id, created_at=self.time.now(),
                          **assets)
            if cluster is not None:
                bind_cluster(work.session, agent, unit.id, cluster)
            work.session.add(agent)
            work.session.flush()
            record(work, who, "agent.create", target=agent_id, commune_id=unit.id,
                   detail={"cluster": cluster, **assets})
            return agent_view(work.session, agent, scope.graph.keys)

    def update(self, who: Principal, agent_id: str, *, cluster: str | None = None,
               **assets: Any) -> AgentView:
        """Change asset data (a value of None clears it) and/or move to another cluster."""
        assets = check_assets(assets)
        with unit_of_work(self.db, self.bus, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            agent = find_agent(work.session, agent_id)
            scope.require(Permission.MANAGE_DEVICES, agent.commune_id, hide=True)
            for name, value in assets.items():
                setattr(agent, name, value)
            if cluster is not None:
                bind_cluster(work.session, agent, agent.commune_id, cluster)
            work.session.add(agent)
            work.session.flush()
            record(work, who, "agent.update", target=agent_id, commune_id=agent.commune_id,
                   detail={"cluster": cluster, **assets})
            return agent_view(work.session, agent, scope.graph.keys,
                              self.live_states([agent_id])[agent_id])

    def live_states(self, agent_ids: list[str]) -> dict[str, LiveState]:
        """Never lets a misbehaving provider break a listing: unknown on any error."""
        try:
            found = dict(self.live.get(agent_ids))
        except Exception:
            log.exception("the live-state provider failed; reporting agents as unknown")
            found = {}
        return {agent_id: found.get(agent_id, UNKNOWN) for agent_id in agent_ids}
