"""Who hears a programme: targets resolved against the commune's clusters.

The topology is an input (the controller owns it in its database): each loudspeaker
cluster belongs to one village and is driven by one agent. Targets name villages and/or
clusters; naming neither means the whole commune.
"""

from __future__ import annotations

import msgspec

from .ids import check_id, check_unique


class Cluster(msgspec.Struct, frozen=True, kw_only=True):
    cluster_id: str
    village: str
    agent_id: str

    def __post_init__(self) -> None:
        check_id(self.cluster_id, "cluster")
        check_id(self.village, "village")
        check_id(self.agent_id, "agent")


class Topology(msgspec.Struct, frozen=True, kw_only=True):
    clusters: tuple[Cluster, ...]

    def __post_init__(self) -> None:
        check_unique([c.cluster_id for c in self.clusters], "cluster")

    @property
    def agents(self) -> tuple[str, ...]:
        return tuple(sorted({c.agent_id for c in self.clusters}))

    @property
    def villages(self) -> frozenset[str]:
        return frozenset(c.village for c in self.clusters)


class Targets(msgspec.Struct, frozen=True, kw_only=True):
    """Villages and clusters a programme is for; both empty = the whole commune."""

    villages: frozenset[str] = frozenset()
    clusters: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for village in self.villages:
            check_id(village, "village")
        for cluster in self.clusters:
            check_id(cluster, "cluster")

    @property
    def whole_commune(self) -> bool:
        return not self.villages and not self.clusters


class TargetResolution(msgspec.Struct, frozen=True, kw_only=True):
    agents: tuple[str, ...]
    unknown_villages: tuple[str, ...] = ()
    unknown_clusters: tuple[str, ...] = ()


def resolve_targets(targets: Targets, topology: Topology) -> TargetResolution:
    """The agents a programme reaches, and the names the topology does not know.

    A village with no IP cluster yet is *unknown* here on purpose: nothing would air
    there, and the operator should hear about it when programming.
    """
    if targets.whole_commune:
        return TargetResolution(agents=topology.agents)
    known_clusters = {c.cluster_id for c in topology.clusters}
    agents = {c.agent_id for c in topology.clusters
              if c.village in targets.villages or c.cluster_id in targets.clusters}
    return TargetResolution(
        agents=tuple(sorted(agents)),
        unknown_villages=tuple(sorted(targets.villages - topology.villages)),
        unknown_clusters=tuple(sorted(targets.clusters - known_clusters)),
    )
