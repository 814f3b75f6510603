"""The administrative tree a report is computed over, and what hangs off it.

**Dating rule.** Units, names and parents are taken *as of the period's last day*: the
communes a report counts are those that exist on that day, with the villages they have
on that day, under the parents they have on that day. A report about 2025 made after
the mid-2025 reorganisation therefore counts the merged communes once, with all their
villages, and places them under their province (districts abolished); a report about
2024 still sees the old communes and districts. Stations and clusters belong to a
commune through ``commune_id``; a commune merged away before the last day hands its
stations to the unit it was merged into (``merged_into``), and a cluster counts in the
commune its village belongs to on that day. A unit that does not exist on the last day
(and has no successor) is not counted; its records stay in the database and reappear
in a report of an earlier period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Table, or_, select
from sqlalchemy.engine import Connection

from ..storage.tables.registry import (
    AdminUnit,
    AdminUnitVersion,
    Agent,
    Cluster,
    Station,
    UnitLevel,
)

UNITS: Table = AdminUnit.__table__  # type: ignore[attr-defined]
VERSIONS: Table = AdminUnitVersion.__table__  # type: ignore[attr-defined]
STATIONS: Table = Station.__table__  # type: ignore[attr-defined]
CLUSTERS: Table = Cluster.__table__  # type: ignore[attr-defined]
AGENTS: Table = Agent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UnitNode:
    id: int
    key: str
    level: UnitLevel
    name: str
    parent_id: int | None
    code: str | None


@dataclass(frozen=True)
class StationNode:
    id: int
    key: str
    name: str
    kind: str
    commune_id: int  # the commune it counts in (after merges)


@dataclass(frozen=True)
class ClusterNode:
    id: int
    key: str
    name: str
    kind: str
    station_id: int
    village_id: int
    commune_id: int  # the commune its village is in on the day
    agents: tuple[str, ...]


@dataclass
class Tree:
    """Units valid on ``on`` and the stations, clusters and agents counted in them."""

    on: dt.date
    units: dict[int, UnitNode] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    merged_into: dict[int, int] = field(default_factory=dict)
    stations: dict[int, StationNode] = field(default_factory=dict)
    clusters: dict[int, ClusterNode] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)  # every unit, valid or not

    def by_key(self, key: str) -> UnitNode | None:
        return next((u for u in self.units.values() if u.key == key), None)

    def below(self, unit_id: int, level: UnitLevel) -> list[int]:
        """Units of ``level`` at or under ``unit_id``, ordered by name then key."""
        found: list[int] = []
        stack = [unit_id]
        while stack:
            current = stack.pop()
            node = self.units.get(current)
            if node is None:
                continue
            if node.level is level:
                found.append(current)
            stack.extend(self.children.get(current, ()))
        return sorted(found, key=lambda u: (self.units[u].name, self.units[u].key))

    def communes(self, unit_id: int | None = None) -> list[int]:
        if unit_id is not None:
            return self.below(unit_id, UnitLevel.COMMUNE)
        return sorted((u.id for u in self.units.values() if u.level is UnitLevel.COMMUNE),
                      key=lambda u: (self.units[u].name, self.units[u].key))

    def villages(self, commune_id: int) -> list[int]:
        return sorted((c for c in self.children.get(commune_id, ())
                       if self.units[c].level is UnitLevel.VILLAGE),
                      key=lambda u: (self.units[u].name, self.units[u].key))

    def path(self, unit_id: int) -> list[UnitNode]:
        """The unit's ancestors, top first (province, [district])."""
        chain: list[UnitNode] = []
        node = self.units.get(unit_id)
        while node is not None and node.parent_id is not None:
            node = self.units.get(node.parent_id)
            if node is not None:
                chain.insert(0, node)
        return chain

    def successor(self, unit_id: int) -> int | None:
        """The unit itself if it exists on the day, else what it was merged into."""
        seen: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in self.units and current not in seen:
            seen.add(current)
            current = self.merged_into.get(current)
        return current if current in self.units else None

    def stations_of(self, commune_id: int) -> list[StationNode]:
        return sorted((s for s in self.stations.values() if s.commune_id == commune_id),
                      key=lambda s: s.key)

    def clusters_of(self, commune_id: int) -> list[ClusterNode]:
        return sorted((c for c in self.clusters.values() if c.commune_id == commune_id),
                      key=lambda c: c.key)

    def source_communes(self, commune_id: int) -> set[int]:
        """The commune and every unit merged into it (whose rows still carry their
        own ``commune_id``)."""
        return {commune_id} | {u for u in self.merged_into if self.successor(u) == commune_id}


def load_tree(conn: Connection, on: dt.date) -> Tree:
    tree = Tree(on)
    levels: dict[int, UnitLevel] = {}
    codes: dict[int, str | None] = {}
    for row in conn.execute(select(UNITS.c.id, UNITS.c.key, UNITS.c.level, UNITS.c.code,
                                   UNITS.c.merged_into_id)):
        tree.keys[row.id] = row.key
        levels[row.id] = UnitLevel(row.level)
        codes[row.id] = row.code
        if row.merged_into_id is not None:
            tree.merged_into[row.id] = row.merged_into_id
    for row in conn.execute(select(VERSIONS).where(
            VERSIONS.c.valid_from <= on,
            or_(VERSIONS.c.valid_to.is_(None), VERSIONS.c.valid_to > on))):
        tree.units[row.unit_id] = UnitNode(row.unit_id, tree.keys[row.unit_id],
                                           levels[row.unit_id], row.name, row.parent_id,
                                           codes[row.unit_id])
    for node in tree.units.values():
        if node.parent_id is not None and node.parent_id in tree.units:
            tree.children[node.parent_id].append(node.id)
    for station in conn.execute(select(STATIONS.c.id, STATIONS.c.key, STATIONS.c.name,
                                       STATIONS.c.kind, STATIONS.c.commune_id)):
        owner = tree.successor(station.commune_id)
        if owner is not None:
            tree.stations[station.id] = StationNode(station.id, station.key, station.name,
                                                    str(station.kind), owner)
    agents: dict[int, list[str]] = defaultdict(list)
    for agent in conn.execute(select(AGENTS.c.id, AGENTS.c.cluster_id).where(
            AGENTS.c.cluster_id.is_not(None))):
        agents[agent.cluster_id].append(agent.id)
    for cluster in conn.execute(select(CLUSTERS.c.id, CLUSTERS.c.key, CLUSTERS.c.name,
                                       CLUSTERS.c.kind, CLUSTERS.c.station_id,
                                       CLUSTERS.c.village_id)):
        village = tree.units.get(cluster.village_id)
        if village is None or village.parent_id is None:
            continue
        commune = tree.units.get(village.parent_id)
        if commune is None or commune.level is not UnitLevel.COMMUNE:
            continue
        tree.clusters[cluster.id] = ClusterNode(
            cluster.id, cluster.key, cluster.name, str(cluster.kind), cluster.station_id,
            cluster.village_id, commune.id, tuple(sorted(agents.get(cluster.id, ()))))
    return tree
