"""Indicators 1 and 2 from per-cluster facts: pure rules, no storage (DESIGN §4).

*Village reached* in a period: at least one IP cluster in it had availability at or
above the threshold and aired at least the threshold share of the items targeted at it
(a cluster with nothing targeted is judged on availability alone, and shown so); or a
legacy wired/FM cluster attested operational by the operator for the period.
*Indicator 1*: a commune is đạt when every village is reached. *Indicator 2*: a station
is converted when it is IP, or hybrid with at least the configured share of IP clusters.
Above the commune: the share of communes đạt, and converted stations over stations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .definition import IndicatorDefinition


class Basis(StrEnum):
    """Why a village counts as reached, or not."""

    IP = "ip"  # availability and airings both at threshold
    IP_AVAILABILITY_ONLY = "ip-availability-only"  # nothing was targeted in the period
    ATTESTED = "attested"  # a legacy cluster attested operational
    NONE = "none"


@dataclass(frozen=True)
class ClusterFacts:
    cluster: str
    village: str
    station: str
    kind: str  # ip | wired | fm
    availability: float | None = None  # IP clusters: share of the service window
    targeted: int = 0
    aired: int = 0
    attested_by: str | None = None  # legacy clusters: who attested it operational
    attested_at: str | None = None


@dataclass(frozen=True)
class ClusterVerdict:
    facts: ClusterFacts
    reaches: bool
    basis: Basis


@dataclass(frozen=True)
class VillageVerdict:
    village: str
    reached: bool
    basis: Basis
    clusters: tuple[ClusterVerdict, ...]


@dataclass(frozen=True)
class StationVerdict:
    station: str
    kind: str  # ip | wired | fm | hybrid
    converted: bool
    ip_clusters: int
    clusters: int

    @property
    def ip_share(self) -> float | None:
        return self.ip_clusters / self.clusters if self.clusters else None


@dataclass(frozen=True)
class CommuneIndicators:
    commune: str
    definition: str
    villages: tuple[VillageVerdict, ...]
    stations: tuple[StationVerdict, ...]

    @property
    def dat(self) -> bool:
        """Indicator 1: every village reached (a commune without villages is not đạt)."""
        return bool(self.villages) and all(v.reached for v in self.villages)

    @property
    def village_coverage(self) -> float | None:
        if not self.villages:
            return None
        return sum(v.reached for v in self.villages) / len(self.villages)

    @property
    def converted_stations(self) -> int:
        return sum(s.converted for s in self.stations)


@dataclass(frozen=True)
class RegionIndicators:
    unit: str
    definition: str
    communes: tuple[CommuneIndicators, ...] = field(default=())

    @property
    def communes_dat(self) -> int:
        return sum(c.dat for c in self.communes)

    @property
    def share_dat(self) -> float | None:
        return self.communes_dat / len(self.communes) if self.communes else None

    @property
    def stations(self) -> int:
        return sum(len(c.stations) for c in self.communes)

    @property
    def converted(self) -> int:
        return sum(c.converted_stations for c in self.communes)

    @property
    def share_converted(self) -> float | None:
        return self.converted / self.stations if self.stations else None


def judge_cluster(facts: ClusterFacts, definition: IndicatorDefinition) -> ClusterVerdict:
    if facts.kind == "ip":
        available = (facts.availability or 0.0) >= definition.village_threshold
        if not available:
            return ClusterVerdict(facts, False, Basis.NONE)
        if facts.targeted == 0:
            return ClusterVerdict(facts, True, Basis.IP_AVAILABILITY_ONLY)
        aired = facts.aired / facts.targeted >= definition.airing_threshold
        return ClusterVerdict(facts, aired, Basis.IP if aired else Basis.NONE)
    if facts.attested_by:
        return ClusterVerdict(facts, True, Basis.ATTESTED)
    return ClusterVerdict(facts, False, Basis.NONE)


_PREFERENCE = (Basis.IP, Basis.IP_AVAILABILITY_ONLY, Basis.ATTESTED)


def judge_village(village: str, clusters: Sequence[ClusterFacts],
                  definition: IndicatorDefinition) -> VillageVerdict:
    verdicts = tuple(judge_cluster(c, definition) for c in clusters)
    reached = [v.basis for v in verdicts if v.reaches]
    basis = next((b for b in _PREFERENCE if b in reached), Basis.NONE)
    return VillageVerdict(village, bool(reached), basis, verdicts)


def judge_station(station: str, kind: str, clusters: Sequence[ClusterFacts],
                  definition: IndicatorDefinition) -> StationVerdict:
    ip = sum(c.kind == "ip" for c in clusters)
    if kind == "ip":
        converted = True
    elif kind == "hybrid":
        converted = bool(clusters) and ip / len(clusters) >= definition.hybrid_ip_share
    else:
        converted = False
    return StationVerdict(station, kind, converted, ip, len(clusters))


def commune_indicators(commune: str, villages: Iterable[str], stations: dict[str, str],
                       clusters: Sequence[ClusterFacts],
                       definition: IndicatorDefinition) -> CommuneIndicators:
    """``villages``: every village of the commune in the period (a village with no
    cluster at all is simply not reached); ``stations``: station -> kind."""
    by_village: dict[str, list[ClusterFacts]] = {v: [] for v in villages}
    by_station: dict[str, list[ClusterFacts]] = {s: [] for s in stations}
    for cluster in clusters:
        if cluster.station not in by_station:
            raise ValueError(f"cluster {cluster.cluster} names unknown station {cluster.station}")
        by_village.setdefault(cluster.village, []).append(cluster)
        by_station[cluster.station].append(cluster)
    return CommuneIndicators(
        commune, definition.version,
        tuple(judge_village(v, by_village[v], definition) for v in sorted(by_village)),
        tuple(judge_station(s, stations[s], by_station[s], definition)
              for s in sorted(by_station)))
