"""The commune as the resolver sees it, read from the registry.

Only IP clusters with an *active* agent are in the topology: a pending agent has no
credentials to receive a plan, a revoked one must not get one, and a wired or FM
cluster has nothing to run a plan on. Villages and clusters are named by their keys,
which is what programmes target.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, or_, select

from controller.storage.tables.registry import (
    AdminUnit,
    AdminUnitVersion,
    Agent,
    AgentStatus,
    Cluster,
    ClusterKind,
    UnitLevel,
)
from schedules import Cluster as PlanCluster
from schedules import Topology


def load_topology(session: Session, commune_id: int) -> Topology:
    rows = session.exec(
        select(Cluster.key, AdminUnit.key, Agent.id)
        .join(Agent, col(Agent.cluster_id) == col(Cluster.id))
        .join(AdminUnit, col(AdminUnit.id) == col(Cluster.village_id))
        .where(Cluster.commune_id == commune_id, Cluster.kind == ClusterKind.IP,
               Agent.status == AgentStatus.ACTIVE)
        .order_by(col(Cluster.key)))
    return Topology(clusters=tuple(PlanCluster(cluster_id=cluster, village=village,
                                               agent_id=agent)
                                   for cluster, village, agent in rows))


def commune_villages(session: Session, commune_id: int, on: dt.date) -> set[str]:
    """Keys of the villages under the commune on ``on``."""
    rows = session.exec(
        select(AdminUnit.key).join(AdminUnitVersion,
                                   col(AdminUnitVersion.unit_id) == col(AdminUnit.id))
        .where(AdminUnit.level == UnitLevel.VILLAGE,
               AdminUnitVersion.parent_id == commune_id,
               col(AdminUnitVersion.valid_from) <= on,
               or_(col(AdminUnitVersion.valid_to).is_(None),
                   col(AdminUnitVersion.valid_to) > on)))
    return set(rows)


def commune_clusters(session: Session, commune_id: int) -> set[str]:
    return set(session.exec(select(Cluster.key).where(Cluster.commune_id == commune_id)))


def village_of_agents(topology: Topology) -> dict[str, str]:
    return {cluster.agent_id: cluster.village for cluster in topology.clusters}
