"""Computing a report: the tree as of the period's last day, the rollups over the
period, the attestations that cover it, and the indicator rules of ``coverage``.

Aggregates, as the reports define them:

* agent availability = time up at the definition's evidence level or above, over the
  period's service window (up to ``measured_until``); time without evidence, below the
  level, or unanchored counts as down;
* cluster = its agent (the sum, capped at 1, if an agent was replaced in the period);
  an IP cluster without an agent is down;
* village availability = its best IP cluster (the one that can reach it) — the mean of
  its IP clusters is shown beside it; station and commune = the mean of their IP
  clusters;
* village reached, commune đạt, station converted, and the shares above the commune:
  ``controller.uptime.coverage``, unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from protocols.messages import PlayOutcome

from ..i18n import N_
from ..registry.errors import NotFound
from ..storage.database import Database
from ..storage.tables.airings import AiringSlot
from ..storage.tables.reports import Alert, Attestation
from ..uptime.coverage import (
    ClusterFacts,
    CommuneIndicators,
    RegionIndicators,
    judge_station,
    judge_village,
)
from ..uptime.definition import IndicatorDefinition
from ..uptime.windows import ensure
from .attestations import applying, covers, effective_end
from .availability import Airings, Uptime, airing_days, airing_sums, uptime_days, uptime_sums
from .hierarchy import ClusterNode, Tree, load_tree
from .model import (
    AgentRow,
    AiringRow,
    AlertRow,
    AttestationRow,
    ClusterRow,
    CommuneRow,
    DayRow,
    ReportData,
    ReportMeta,
    StationRow,
    VillageRow,
)
from .outages import intervals, outages
from .period import Period, period_window_ms, window_ms

SLOTS: Table = AiringSlot.__table__  # type: ignore[attr-defined]
ATTESTATIONS: Table = Attestation.__table__  # type: ignore[attr-defined]
ALERTS: Table = Alert.__table__  # type: ignore[attr-defined]
LEGACY = ("wired", "fm")


@dataclass(frozen=True)
class Request:
    period: Period
    definition: IndicatorDefinition
    until: dt.datetime  # now: the window counts up to here
    unit: str | None = None  # None: every commune the reader may see
    days: bool = False  # per agent and day (drill-down of availability)
    airings: bool = False  # every targeted slot with its outcome
    outages: bool = False  # outages and the intervals around them, per agent


def share(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


class ReportBuilder:
    def __init__(self, db: Database) -> None:
        self.db = db

    def build(self, request: Request, visible: Callable[[int], bool] | None = None
              ) -> ReportData:
        """``visible`` filters the communes a reader may see (None: all). A definition
        whose service window has no rollups yet has them built first
        (``controller.uptime.windows``)."""
        ensure(self.db, request.definition.window, request.definition.version)
        with self.db.engine.connect() as conn:
            return _Build(conn, request, visible).run()


class _Build:
    def __init__(self, conn: Connection, request: Request,
                 visible: Callable[[int], bool] | None) -> None:
        self.conn = conn
        self.request = request
        self.definition = request.definition
        self.window = request.definition.window
        self.period = request.period
        start_ns, end_ns = self.period.bounds_ns(self.window.tz)
        self.start_ns, self.end_ns = start_ns, end_ns
        self.until_ns = min(int(request.until.timestamp() * 1e9), end_ns)
        self.tree: Tree = load_tree(conn, self.period.end)
        # Rollups are read only up to the day of ``until`` (a report about a period that
        # is still running never counts days that have not happened).
        last = self.window.local_day(max(start_ns, self.until_ns - 1))
        self.measured: Period | None = Period(self.period.start, min(self.period.end, last)) \
            if self.until_ns > start_ns else None
        self.by_station: dict[int, list[ClusterNode]] = defaultdict(list)
        for cluster in self.tree.clusters.values():
            self.by_station[cluster.station_id].append(cluster)
        self.visible = visible

    # ------------------------------------------------------------------ the whole
    def run(self) -> ReportData:
        tree, definition = self.tree, self.definition
        unit_id, unit_key, unit_name, unit_level = self._unit()
        communes = [c for c in tree.communes(unit_id)
                    if self.visible is None or self.visible(c)]
        sources = set().union(*[tree.source_communes(c) for c in communes]) \
            if communes else set()
        measured = self.measured
        uptime = uptime_sums(self.conn, self.window.key, measured, sources) if measured else {}
        airings = airing_sums(self.conn, self.window.tz, measured, sources) if measured else {}
        total_ms = period_window_ms(self.window, self.period, self.until_ns)
        attestations = self._attestations(sources)
        data = ReportData(meta=self._meta(unit_key, unit_name, unit_level, total_ms),
                          region=RegionIndicators(unit_key, definition.version))
        indicators: list[CommuneIndicators] = []
        for commune in communes:
            indicators.append(self._commune(data, commune, uptime, airings, total_ms,
                                            attestations))
        data.region = RegionIndicators(unit_key, definition.version, tuple(indicators))
        agents = [a.agent_id for a in data.agents]
        if self.request.airings or self.request.outages:
            data.airings = self._airings(agents)
            missed: dict[str, int] = defaultdict(int)
            for airing in data.airings:
                missed[airing.agent_id] += not airing.aired
            data.agents = [replace(a, missed=missed[a.agent_id]) for a in data.agents]
        if self.request.outages:
            self._outages(data)
        if self.request.days:
            data.days = self._days(sources, {a.agent_id for a in data.agents})
        data.alerts = self._alerts(sources)
        return data

    def _unit(self) -> tuple[int | None, str, str, str]:
        if self.request.unit is None:
            return None, "*", "", ""
        node = self.tree.by_key(self.request.unit)
        # A reader sees a unit's report only with read access to the unit itself (a
        # commune's viewer does not get a "province" report of one commune).
        if node is None or (self.visible is not None and not self.visible(node.id)):
            raise NotFound(N_("No unit {key} on {date}."), key=self.request.unit,
                           date=self.period.end.isoformat())
        return node.id, node.key, node.name, node.level.value

    def _meta(self, key: str, name: str, level: str, total_ms: int) -> ReportMeta:
        d = self.definition
        year = self.period.end.year
        return ReportMeta(
            definition=d.version, definition_title=d.title, period=self.period,
            tree_day=self.period.end,
            measured_until=dt.datetime.fromtimestamp(self.until_ns / 1e9, dt.UTC),
            generated_at=self.request.until.astimezone(dt.UTC), unit_key=key,
            unit_name=name, unit_level=level,
            window=f"{d.window.start:%H:%M}-{d.window.end:%H:%M} {d.window.tz}",
            zone=d.window.tz, min_evidence=d.min_evidence,
            village_threshold=d.village_threshold, airing_threshold=d.airing_threshold,
            hybrid_ip_share=d.hybrid_ip_share,
            attestation_valid_days=d.attestation_valid_days,
            targets={name: values[year] for name, values in d.targets.items()
                     if year in values},
            window_ms=total_ms, service_window=d.window)

    # ------------------------------------------------------------------ one commune
    def _commune(self, data: ReportData, commune_id: int, uptime: dict[str, Uptime],
                 airings: dict[str, Airings], total_ms: int,
                 attestations: list[Attestation]) -> CommuneIndicators:
        tree, definition = self.tree, self.definition
        commune = tree.units[commune_id]
        clusters = tree.clusters_of(commune_id)
        first = len(data.clusters)
        facts: dict[int, ClusterFacts] = {}
        for cluster in clusters:
            facts[cluster.id] = self._cluster(data, cluster, commune.key, uptime, airings,
                                              total_ms, attestations)
        villages = []
        for village_id in tree.villages(commune_id):
            village = tree.units[village_id]
            mine = [c for c in clusters if c.village_id == village_id]
            verdict = judge_village(village.key, [facts[c.id] for c in mine], definition)
            villages.append(verdict)
            ip = [facts[c.id] for c in mine if c.kind == "ip"]
            levels = [f.availability or 0.0 for f in ip]
            data.villages.append(VillageRow(
                key=village.key, name=village.name, commune=commune.key,
                commune_name=commune.name, clusters=len(mine), ip_clusters=len(ip),
                best_availability=max(levels) if levels else None,
                mean_availability=sum(levels) / len(levels) if levels else None,
                targeted=sum(f.targeted for f in ip), aired=sum(f.aired for f in ip),
                reached=verdict.reached, basis=verdict.basis.value))
        judged = {v.facts.cluster: v for village in villages for v in village.clusters}
        for index, cluster in enumerate(clusters):
            found = judged.get(cluster.key)
            if found is not None:
                data.clusters[first + index] = replace(
                    data.clusters[first + index], reaches=found.reaches,
                    basis=found.basis.value)
        stations = []
        for station in tree.stations_of(commune_id):
            members = self.by_station.get(station.id, [])
            verdict_s = judge_station(station.key, station.kind,
                                      [ClusterFacts(c.key, "", "", c.kind) for c in members],
                                      definition)
            stations.append(verdict_s)
            ip_levels = [facts[c.id].availability or 0.0 for c in members
                         if c.kind == "ip" and c.id in facts]
            data.stations.append(StationRow(
                key=station.key, name=station.name, commune=commune.key, kind=station.kind,
                clusters=verdict_s.clusters, ip_clusters=verdict_s.ip_clusters,
                ip_share=verdict_s.ip_share, converted=verdict_s.converted,
                mean_availability=sum(ip_levels) / len(ip_levels) if ip_levels else None))
        result = CommuneIndicators(commune.key, definition.version, tuple(villages),
                                   tuple(stations))
        ip_all = [f.availability or 0.0 for f in facts.values() if f.kind == "ip"]
        data.communes.append(CommuneRow(
            key=commune.key, name=commune.name,
            parents=" / ".join(u.name for u in tree.path(commune_id)),
            villages=len(villages), villages_reached=sum(v.reached for v in villages),
            coverage=result.village_coverage, dat=result.dat, stations=len(stations),
            converted=result.converted_stations,
            mean_availability=sum(ip_all) / len(ip_all) if ip_all else None))
        return result

    def _cluster(self, data: ReportData, cluster: ClusterNode, commune: str,
                 uptime: dict[str, Uptime], airings: dict[str, Airings], total_ms: int,
                 attestations: list[Attestation]) -> ClusterFacts:
        tree, definition = self.tree, self.definition
        village = tree.units[cluster.village_id]
        station = tree.stations.get(cluster.station_id)
        station_key = station.key if station else ""
        availability: float | None = None
        targeted = aired = 0
        attested_by = attested_at = None
        used: list[Attestation] = []
        if cluster.kind == "ip":
            up = 0
            for agent in cluster.agents:
                held = uptime.get(agent, Uptime())
                counts = airings.get(agent, Airings())
                agent_up = held.at_least(definition.min_evidence)
                up += agent_up
                targeted += counts.targeted
                aired += counts.aired
                data.agents.append(AgentRow(
                    agent_id=agent, commune=commune, village=village.key,
                    village_name=village.name, cluster=cluster.key, station=station_key,
                    window_ms=total_ms, by_level=(held.by_level[0], held.by_level[1],
                                                  held.by_level[2], held.by_level[3]),
                    unanchored_ms=held.unanchored, up_ms=agent_up,
                    availability=min(1.0, agent_up / total_ms) if total_ms else None,
                    targeted=counts.targeted, aired=counts.aired))
            availability = min(1.0, up / total_ms) if total_ms else None
        else:
            mine = [a for a in attestations if a.cluster_id == cluster.id or (
                a.cluster_id is None and a.station_id == cluster.station_id)]
            last_day = self.window.local_day(max(self.start_ns, self.until_ns - 1))
            used = applying(mine, self.period, definition.attestation_valid_days)
            if covers(mine, self.period, last_day, definition.attestation_valid_days):
                attested_by = ", ".join(dict.fromkeys(a.attested_by for a in used))
                attested_at = max(a.attested_at for a in used).isoformat()
        facts = ClusterFacts(cluster.key, village.key, station_key, cluster.kind,
                             availability, targeted, aired, attested_by, attested_at)
        data.clusters.append(ClusterRow(
            key=cluster.key, name=cluster.name, kind=cluster.kind, commune=commune,
            village=village.key, station=station_key, agents=cluster.agents,
            availability=availability, targeted=targeted, aired=aired, reaches=False,
            basis="", attested_by=attested_by, attested_at=attested_at,
            attestations=tuple(a.id or 0 for a in used)))
        for row in used:
            if all(a.id != row.id for a in data.attestations):
                data.attestations.append(AttestationRow(
                    id=row.id or 0, commune=commune,
                    target="cluster" if row.cluster_id is not None else "station",
                    key=cluster.key if row.cluster_id is not None else station_key,
                    period_start=row.period_start, period_end=row.period_end,
                    effective_end=effective_end(row, definition.attestation_valid_days),
                    attested_by=row.attested_by, attested_at=row.attested_at,
                    note=row.note))
        return facts

    def _attestations(self, communes: Iterable[int]) -> list[Attestation]:
        rows = self.conn.execute(select(ATTESTATIONS).where(
            ATTESTATIONS.c.commune_id.in_(sorted(communes)),
            ATTESTATIONS.c.withdrawn_at.is_(None),
            ATTESTATIONS.c.period_start <= self.period.end)).mappings()
        return [Attestation(**dict(row)) for row in rows]

    # ------------------------------------------------------------------ details
    def _airings(self, agents: list[str]) -> list[AiringRow]:
        found: list[AiringRow] = []
        for start in range(0, len(agents), 500):
            for row in self.conn.execute(select(SLOTS).where(
                    SLOTS.c.agent_id.in_(agents[start:start + 500]),
                    SLOTS.c.start_ns >= self.start_ns, SLOTS.c.start_ns < self.until_ns,
                    SLOTS.c.targeted.is_(True))):
                outcome = "no-record" if row.outcome is None else \
                    PlayOutcome(row.outcome).name.lower()
                found.append(AiringRow(row.agent_id, row.slot_id, row.programme_id or "",
                                       row.start_ns, row.window_end_ns,
                                       row.outcome == PlayOutcome.AIRED, outcome,
                                       row.play_journal_id, row.play_seq))
        return sorted(found, key=lambda a: (a.agent_id, a.start_ns, a.slot_id))

    def _outages(self, data: ReportData) -> None:
        rows = []
        for agent in data.agents:
            spans = intervals(self.conn, agent.agent_id, self.window.key, self.start_ns,
                              self.end_ns, self.window)
            found = outages(agent.agent_id, spans, self.start_ns, self.end_ns,
                            self.definition.min_evidence, self.window, self.until_ns)
            data.intervals.extend(spans)
            data.outages.extend(found)
            rows.append(replace(agent, outages=len(found),
                                outage_ms=sum(o.in_window_ms for o in found)))
        data.agents = rows

    def _days(self, sources: set[int], agents: set[str]) -> list[DayRow]:
        level = self.definition.min_evidence
        if self.measured is None:
            return []
        ups = uptime_days(self.conn, self.window.key, self.measured, sources)
        counts = airing_days(self.conn, self.window.tz, self.measured, sources)
        rows = []
        for agent in sorted(agents):
            for day in self.period.days():
                whole = window_ms(self.window, day, self.until_ns)
                if whole <= 0:
                    continue
                held = ups.get((agent, day), Uptime())
                airing = counts.get((agent, day), Airings())
                up = held.at_least(level)
                rows.append(DayRow(agent, day, whole, (held.by_level[0], held.by_level[1],
                                                       held.by_level[2], held.by_level[3]),
                                   held.unanchored, up, min(1.0, up / whole),
                                   airing.targeted, airing.aired))
        return rows

    def _alerts(self, sources: set[int]) -> list[AlertRow]:
        start = dt.datetime.fromtimestamp(self.start_ns / 1e9, dt.UTC)
        end = dt.datetime.fromtimestamp(self.end_ns / 1e9, dt.UTC)
        keys = self.tree.keys
        return [AlertRow(row.id, keys.get(row.commune_id, "?"), row.kind, row.subject,
                         row.raised_at, row.cleared_at, _compact(row.detail))
                for row in self.conn.execute(select(ALERTS).where(
                    ALERTS.c.commune_id.in_(sorted(sources)), ALERTS.c.raised_at < end,
                    (ALERTS.c.cleared_at.is_(None)) | (ALERTS.c.cleared_at >= start))
                    .order_by(ALERTS.c.raised_at, ALERTS.c.id))]


def _compact(detail: str) -> str:
    try:
        value = json.loads(detail)
    except ValueError:
        return detail
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


__all__ = ["ReportBuilder", "Request", "share"]
