"""Stations (the commune's broadcasting system, by kind) and their clusters (cụm loa),
each in a village of the commune. Indicator 2 counts stations by kind; indicator 1 needs
every village reached by a cluster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import (
    AdminUnit,
    Agent,
    Cluster,
    ClusterKind,
    Station,
    StationKind,
    UnitLevel,
)

from .errors import Conflict, Invalid, NotFound
from .timebase import StationTime
from .units import check_key, check_name, find_unit, version_on
from .work import reading, unit_of_work


@dataclass(frozen=True)
class StationView:
    commune: str
    key: str
    name: str
    kind: StationKind
    created_at: dt.datetime


@dataclass(frozen=True)
class ClusterView:
    commune: str
    key: str
    name: str
    kind: ClusterKind
    station: str
    village: str
    agent: str | None
    created_at: dt.datetime


def find_commune(session: Session, key: str) -> AdminUnit:
    unit = find_unit(session, key)
    if unit.level is not UnitLevel.COMMUNE:
        raise Invalid(N_("{key} is not a commune."), key=key)
    return unit


def find_station(session: Session, commune_id: int, key: str) -> Station:
    station = session.exec(select(Station).where(Station.commune_id == commune_id,
                                                 Station.key == key)).first()
    if station is None:
        raise NotFound(N_("No station {key} in this commune."), key=key)
    return station


def find_cluster(session: Session, commune_id: int, key: str) -> Cluster:
    cluster = session.exec(select(Cluster).where(Cluster.commune_id == commune_id,
                                                 Cluster.key == key)).first()
    if cluster is None:
        raise NotFound(N_("No cluster {key} in this commune."), key=key)
    return cluster


class StationService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time

    # ------------------------------------------------------------------ stations

    def list_stations(self, who: Principal, commune: str | None = None) -> list[StationView]:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            statement = select(Station).where(
                col(Station.commune_id).in_(scope.units(Permission.READ)))
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                statement = statement.where(Station.commune_id == unit.id)
            rows = list(work.session.exec(statement.order_by(col(Station.commune_id),
                                                             col(Station.key))))
            keys = scope.graph.keys
        return [self._station(s, keys[s.commune_id]) for s in rows]

    def get_station(self, who: Principal, commune: str, key: str) -> StationView:
        with reading(self.db, self.time) as work:
            unit = find_commune(work.session, commune)
            assert unit.id is not None
            Scope(work.session, who, self.time.today()).require(Permission.READ, unit.id)
            return self._station(find_station(work.session, unit.id, key), unit.key)

    def create_station(self, who: Principal, commune: str, key: str, name: str,
                       kind: StationKind) -> StationView:
        check_key(key)
        name = check_name(name)
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = self._writable_commune(work.session, who, commune)
            assert unit.id is not None
            if work.session.exec(select(Station).where(Station.commune_id == unit.id,
                                                       Station.key == key)).first():
                raise Conflict(N_("A station with key {key} already exists here."), key=key)
            station = Station(commune_id=unit.id, key=key, name=name, kind=kind,
                              created_at=self.time.now())
            work.session.add(station)
            record(work, who, "station.create", target=key, commune_id=unit.id,
                   detail={"name": name, "kind": kind.value})
            return self._station(station, unit.key)

    def update_station(self, who: Principal, commune: str, key: str, *,
                       name: str | None = None, kind: StationKind | None = None) -> StationView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = self._writable_commune(work.session, who, commune, hide=True)
            assert unit.id is not None
            station = find_station(work.session, unit.id, key)
            if name is not None:
                station.name = check_name(name)
            if kind is not None:
                station.kind = kind
            work.session.add(station)
            record(work, who, "station.update", target=key, commune_id=unit.id,
                   detail={"name": name, "kind": kind.value if kind else None})
            return self._station(station, unit.key)

    # ------------------------------------------------------------------ clusters

    def list_clusters(self, who: Principal, commune: str | None = None,
                      village: str | None = None) -> list[ClusterView]:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            statement = select(Cluster).where(
                col(Cluster.commune_id).in_(scope.units(Permission.READ)))
            if commune is not None:
                unit = find_commune(work.session, commune)
                scope.require(Permission.READ, unit.id)
                statement = statement.where(Cluster.commune_id == unit.id)
            if village is not None:
                statement = statement.where(
                    Cluster.village_id == find_unit(work.session, village).id)
            rows = list(work.session.exec(statement.order_by(col(Cluster.commune_id),
                                                             col(Cluster.key))))
            return [self._cluster(work.session, c, scope.graph.keys) for c in rows]

    def get_cluster(self, who: Principal, commune: str, key: str) -> ClusterView:
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            unit = find_commune(work.session, commune)
            assert unit.id is not None
            scope.require(Permission.READ, unit.id)
            return self._cluster(work.session, find_cluster(work.session, unit.id, key),
                                 scope.graph.keys)

    def create_cluster(self, who: Principal, commune: str, key: str, name: str,
                       kind: ClusterKind, station: str, village: str) -> ClusterView:
        check_key(key)
        name = check_name(name)
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = self._writable_commune(work.session, who, commune)
            assert unit.id is not None
            if work.session.exec(select(Cluster).where(Cluster.commune_id == unit.id,
                                                       Cluster.key == key)).first():
                raise Conflict(N_("A cluster with key {key} already exists here."), key=key)
            station_id = find_station(work.session, unit.id, station).id
            assert station_id is not None
            cluster = Cluster(commune_id=unit.id, key=key, name=name, kind=kind,
                              station_id=station_id,
                              village_id=self._village_of(work.session, unit, village),
                              created_at=self.time.now())
            work.session.add(cluster)
            work.session.flush()
            record(work, who, "cluster.create", target=key, commune_id=unit.id,
                   detail={"name": name, "kind": kind.value, "station": station,
                           "village": village})
            return self._cluster(work.session, cluster, {unit.id: unit.key})

    def update_cluster(self, who: Principal, commune: str, key: str, *,
                       name: str | None = None, kind: ClusterKind | None = None,
                       station: str | None = None, village: str | None = None) -> ClusterView:
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = self._writable_commune(work.session, who, commune, hide=True)
            assert unit.id is not None
            cluster = find_cluster(work.session, unit.id, key)
            if name is not None:
                cluster.name = check_name(name)
            if kind is not None:
                if kind is not ClusterKind.IP and self._agent_of(work.session, cluster):
                    raise Conflict(N_("Cluster {key} has an agent: it must stay an IP "
                                      "cluster."), key=key)
                cluster.kind = kind
            if station is not None:
                found = find_station(work.session, unit.id, station)
                assert found.id is not None
                cluster.station_id = found.id
            if village is not None:
                cluster.village_id = self._village_of(work.session, unit, village)
            work.session.add(cluster)
            record(work, who, "cluster.update", target=key, commune_id=unit.id,
                   detail={"name": name, "kind": kind.value if kind else None,
                           "station": station, "village": village})
            return self._cluster(work.session, cluster, {unit.id: unit.key})

    # ------------------------------------------------------------------ helpers

    def _writable_commune(self, session: Session, who: Principal, commune: str, *,
                          hide: bool = False) -> AdminUnit:
        unit = find_commune(session, commune)
        Scope(session, who, self.time.today()).require(Permission.MANAGE_DEVICES, unit.id,
                                                       hide=hide)
        if unit.merged_into_id is not None:
            raise Conflict(N_("{key} has been merged into another unit."), key=unit.key)
        return unit

    def _village_of(self, session: Session, commune: AdminUnit, key: str) -> int:
        village = find_unit(session, key)
        assert village.id is not None
        version = version_on(session, village.id, self.time.today())
        if village.level is not UnitLevel.VILLAGE or version is None \
                or version.parent_id != commune.id:
            raise Invalid(N_("{key} is not a village of {commune} today."), key=key,
                          commune=commune.key)
        return village.id

    @staticmethod
    def _agent_of(session: Session, cluster: Cluster) -> str | None:
        agent = session.exec(select(Agent).where(Agent.cluster_id == cluster.id)).first()
        return agent.id if agent else None

    @staticmethod
    def _station(station: Station, commune: str) -> StationView:
        return StationView(commune=commune, key=station.key, name=station.name,
                           kind=station.kind, created_at=station.created_at)

    def _cluster(self, session: Session, cluster: Cluster,
                 keys: dict[int, str]) -> ClusterView:
        station = session.get(Station, cluster.station_id)
        village = session.get(AdminUnit, cluster.village_id)
        commune = keys.get(cluster.commune_id) or session.get(AdminUnit, cluster.commune_id)
        return ClusterView(commune=commune if isinstance(commune, str) else
                           (commune.key if commune else "?"),
                           key=cluster.key, name=cluster.name, kind=cluster.kind,
                           station=station.key if station else "?",
                           village=village.key if village else "?",
                           agent=self._agent_of(session, cluster),
                           created_at=cluster.created_at)
