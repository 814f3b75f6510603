"""What a commune forwards besides its journal: its registry and its attestations.

Both are small (a commune has tens of villages and clusters), so each is sent whole
whenever its digest differs from the digest the region last acknowledged; the region
then mirrors it. The registry covers the station's commune, the communes merged into
it, their villages (every village that has ever been under one of them), the units
above them (with all their versions), and their stations, clusters and agents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from protocols.codec import encode
from protocols.collect import (
    AgentRow,
    AttestationRow,
    ClusterRow,
    Registry,
    StationRow,
    UnitRow,
    UnitVersionRow,
    day_number,
)

from ..storage.tables.registry import AdminUnit, AdminUnitVersion, Agent, Cluster, Station
from ..storage.tables.reports import Attestation

UNITS: Table = AdminUnit.__table__  # type: ignore[attr-defined]
VERSIONS: Table = AdminUnitVersion.__table__  # type: ignore[attr-defined]
STATIONS: Table = Station.__table__  # type: ignore[attr-defined]
CLUSTERS: Table = Cluster.__table__  # type: ignore[attr-defined]
AGENTS: Table = Agent.__table__  # type: ignore[attr-defined]
ATTESTATIONS: Table = Attestation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Snapshot:
    registry: Registry
    attestations: list[AttestationRow]
    commune_ids: frozenset[int]  # the station's commune and those merged into it

    @property
    def registry_digest(self) -> bytes:
        return hashlib.sha256(encode(self.registry)).digest()

    @property
    def attestations_digest(self) -> bytes:
        return hashlib.sha256(encode(self.attestations)).digest()


def _ns(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1e9)


def take_snapshot(conn: Connection, commune_id: int) -> Snapshot:
    units = {row.id: row for row in conn.execute(select(UNITS))}
    versions = list(conn.execute(select(VERSIONS).order_by(VERSIONS.c.unit_id,
                                                           VERSIONS.c.valid_from)))
    merged = {u: row.merged_into_id for u, row in units.items() if row.merged_into_id}
    communes = {commune_id} | {u for u in merged if _merged_root(merged, u) == commune_id}
    villages = {v.unit_id for v in versions if v.parent_id in communes}
    wanted = set(communes) | villages
    stack = [v.parent_id for v in versions if v.unit_id in communes and v.parent_id]
    while stack:  # everything above, through any version
        parent = stack.pop()
        if parent in wanted or parent not in units:
            continue
        wanted.add(parent)
        stack.extend(v.parent_id for v in versions if v.unit_id == parent and v.parent_id)
    keys = {u: row.key for u, row in units.items()}
    unit_rows = [UnitRow(keys[u], str(units[u].level), units[u].code,
                         keys.get(units[u].merged_into_id) if units[u].merged_into_id else None)
                 for u in sorted(wanted, key=lambda u: keys[u])]
    version_rows = [UnitVersionRow(keys[v.unit_id], v.name[:200],
                                   keys.get(v.parent_id) if v.parent_id else None,
                                   day_number(v.valid_from.toordinal()),
                                   day_number(v.valid_to.toordinal()) if v.valid_to else None)
                    for v in versions if v.unit_id in wanted]
    stations = {row.id: row for row in conn.execute(select(STATIONS).where(
        STATIONS.c.commune_id.in_(sorted(communes))))}
    clusters = {row.id: row for row in conn.execute(select(CLUSTERS).where(
        CLUSTERS.c.commune_id.in_(sorted(communes))))}
    agents = list(conn.execute(select(AGENTS.c.id, AGENTS.c.commune_id, AGENTS.c.cluster_id,
                                      AGENTS.c.status).where(
        AGENTS.c.commune_id.in_(sorted(communes))).order_by(AGENTS.c.id)))
    registry = Registry(
        units=unit_rows, versions=version_rows,
        stations=[StationRow(s.key, keys[s.commune_id], s.name[:200], str(s.kind))
                  for s in sorted(stations.values(), key=lambda s: (s.commune_id, s.key))],
        clusters=[ClusterRow(c.key, keys[c.commune_id], c.name[:200], str(c.kind),
                             stations[c.station_id].key if c.station_id in stations else "",
                             keys[c.village_id])
                  for c in sorted(clusters.values(), key=lambda c: (c.commune_id, c.key))
                  if c.station_id in stations and c.village_id in keys],
        agents=[AgentRow(a.id, keys[a.commune_id],
                         clusters[a.cluster_id].key if a.cluster_id in clusters else None,
                         str(a.status)) for a in agents])
    attestations = []
    for row in conn.execute(select(ATTESTATIONS).where(
            ATTESTATIONS.c.commune_id.in_(sorted(communes))).order_by(ATTESTATIONS.c.id)):
        cluster = clusters.get(row.cluster_id) if row.cluster_id else None
        station = stations.get(row.station_id) if row.station_id else None
        attestations.append(AttestationRow(
            uid=row.uid, commune=keys[row.commune_id],
            cluster=cluster.key if cluster is not None else None,
            station=station.key if station is not None else None,
            period_start=day_number(row.period_start.toordinal()),
            period_end=day_number(row.period_end.toordinal()), note=row.note[:500],
            attested_by=row.attested_by[:64], attested_at_ns=_ns(row.attested_at) or 0,
            withdrawn_by=row.withdrawn_by, withdrawn_at_ns=_ns(row.withdrawn_at)))
    return Snapshot(registry, attestations, frozenset(communes))


def _merged_root(merged: dict[int, int], unit_id: int) -> int:
    """The unit a merged unit ended up in, following chains of merges."""
    seen = {unit_id}
    current = merged[unit_id]
    while current in merged and current not in seen:
        seen.add(current)
        current = merged[current]
    return current
