"""The fleet at a glance: counts by kind and status, and per village how many clusters
and agents there are and how many agents are online (once the fleet link reports it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import col, select

from controller.security.authz import Permission, Principal, Scope
from controller.storage.tables.registry import Agent, AgentStatus, Cluster, ClusterKind, Station

from .agents import AgentService
from .livestate import Connectivity
from .stations import find_commune
from .units import version_on
from .work import reading


@dataclass(frozen=True)
class VillageSummary:
    village: str
    name: str
    clusters: int
    ip_clusters: int
    active_agents: int
    online_agents: int


@dataclass(frozen=True)
class FleetSummary:
    communes: list[str]
    stations_by_kind: dict[str, int] = field(default_factory=dict)
    clusters_by_kind: dict[str, int] = field(default_factory=dict)
    agents_by_status: dict[str, int] = field(default_factory=dict)
    agents_by_connectivity: dict[str, int] = field(default_factory=dict)  # active agents
    villages: list[VillageSummary] = field(default_factory=list)


class SummaryService:
    def __init__(self, agents: AgentService) -> None:
        self.agents = agents
        self.db = agents.db
        self.time = agents.time

    def summary(self, who: Principal, commune: str | None = None) -> FleetSummary:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            units = scope.units(Permission.READ)
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                units = {unit.id} if unit.id is not None else set()
            stations = list(work.session.exec(select(Station).where(
                col(Station.commune_id).in_(units))))
            clusters = list(work.session.exec(select(Cluster).where(
                col(Cluster.commune_id).in_(units))))
            agents = list(work.session.exec(select(Agent).where(
                col(Agent.commune_id).in_(units))))
            active = [a for a in agents if a.status is AgentStatus.ACTIVE]
            live = self.agents.live_states([a.id for a in active])
            agent_of_cluster = {a.cluster_id: a for a in active if a.cluster_id is not None}
            by_village: dict[int, list[Cluster]] = {}
            for cluster in clusters:
                by_village.setdefault(cluster.village_id, []).append(cluster)
            villages = []
            today = self.time.today()
            for village_id, members in sorted(by_village.items(),
                                              key=lambda kv: scope.graph.keys[kv[0]]):
                version = version_on(work.session, village_id, today)
                with_agent = [agent_of_cluster[c.id] for c in members if c.id in agent_of_cluster]
                villages.append(VillageSummary(
                    village=scope.graph.keys[village_id],
                    name=version.name if version else scope.graph.keys[village_id],
                    clusters=len(members),
                    ip_clusters=sum(c.kind is ClusterKind.IP for c in members),
                    active_agents=len(with_agent),
                    online_agents=sum(live[a.id].connectivity is Connectivity.ONLINE
                                      for a in with_agent)))
            communes = sorted({scope.graph.keys[s.commune_id] for s in stations}
                              | {scope.graph.keys[c.commune_id] for c in clusters}
                              | {scope.graph.keys[a.commune_id] for a in agents}
                              | ({commune} if commune else set()))
        return FleetSummary(
            communes=communes,
            stations_by_kind=dict(Counter(s.kind.value for s in stations)),
            clusters_by_kind=dict(Counter(c.kind.value for c in clusters)),
            agents_by_status=dict(Counter(a.status.value for a in agents)),
            agents_by_connectivity=dict(Counter(live[a.id].connectivity.value
                                                for a in active)),
            villages=villages)
