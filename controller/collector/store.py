"""Region side of collection: storing a commune's batch, exactly once.

Everything in a batch is an idempotent upsert keyed on a durable identity, so a batch
delivered twice, or resent after its ack was lost, stores nothing twice:

* journal records by ``(agent, journal, seq)``, through the very ``JournalIngest`` the
  communes use, which also folds availability spans and refreshes the rollups with the
  same ``RollupMaintainer`` (rollups are recomputed here, not forwarded);
* play records and final planned slots into the airing index (best outcome wins);
* the registry mirrored unit by unit, attestations by their ``uid``.

**Keys at the region.** Commune, district and province keys are the province's own
(a commune's key is its MQTT namespace, unique by construction); stations and clusters
are unique within their commune. Village keys and agent ids are only unique within a
commune, so the collector stores them qualified by the commune that forwarded them:
``xa-a.thon-1``, ``xa-a.ag-3kf9x2ab`` (a sha-256 stands in for the tail when that would
exceed 64 characters). A shared unit above the communes (province, district) takes each
version as last reported (by its validity start); a commune's own units and villages
are mirrored exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from protocols.collect import (
    AckStatus,
    AttestationRow,
    CollectAck,
    CollectBatch,
    Registry,
    day_ordinal,
)
from protocols.messages import JournalBatch, Play

from ..fleet.ingest import Delivery, JournalIngest
from ..storage.database import Database
from ..storage.tables.collect import CollectedCommune
from ..storage.tables.plans import PlannedSlot
from ..storage.tables.registry import (
    AdminUnit,
    AdminUnitVersion,
    Agent,
    AgentStatus,
    Cluster,
    ClusterKind,
    Station,
    StationKind,
    UnitLevel,
)
from ..storage.tables.reports import Attestation
from ..storage.types import utcnow
from ..uptime.airings import AiringIndex, PlanFact, PlayFact
from ..uptime.definition import IndicatorDefinition
from ..uptime.rollup import RollupMaintainer

log = logging.getLogger("loaxa.collector")
UNITS: Table = AdminUnit.__table__  # type: ignore[attr-defined]
VERSIONS: Table = AdminUnitVersion.__table__  # type: ignore[attr-defined]
STATIONS: Table = Station.__table__  # type: ignore[attr-defined]
CLUSTERS: Table = Cluster.__table__  # type: ignore[attr-defined]
AGENTS: Table = Agent.__table__  # type: ignore[attr-defined]
ATTESTATIONS: Table = Attestation.__table__  # type: ignore[attr-defined]
PLAN: Table = PlannedSlot.__table__  # type: ignore[attr-defined]
COLLECTED: Table = CollectedCommune.__table__  # type: ignore[attr-defined]
SHARED = frozenset({UnitLevel.PROVINCE, UnitLevel.DISTRICT})


def qualify(commune: str, key: str) -> str:
    """A village key or agent id made unique across communes."""
    name = f"{commune}.{key}"
    if len(name) <= 64:
        return name
    return f"{commune[:39]}.{hashlib.sha256(name.encode()).hexdigest()[:24]}"


def _date(number: int) -> dt.date:
    return dt.date.fromordinal(day_ordinal(number))


def _when(ns: int | None) -> dt.datetime | None:
    return None if ns is None else dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


@dataclass(frozen=True)
class Stored:
    records: int
    slots: int
    plays: int


class CollectorStore:
    def __init__(self, db: Database, definition: IndicatorDefinition,
                 communes: Iterable[str] = ()) -> None:
        self.db = db
        self.definition = definition
        self.allowed = frozenset(communes)
        self._dialect = sqlite if db.dialect == "sqlite" else postgresql
        self.ingest = JournalIngest(db, rollups=RollupMaintainer(definition.window,
                                                                 db.dialect))
        self.airings = AiringIndex(definition.window.tz, db.dialect)

    def store(self, topic_commune: str, batch: CollectBatch) -> CollectAck:
        """Store a batch received on ``topic_commune``'s topic; the ack to send back."""
        if batch.commune != topic_commune:
            return self._refuse(batch, "the batch names another commune than its topic")
        if self.allowed and batch.commune not in self.allowed:
            return self._refuse(batch, "this collector does not collect that commune")
        stored = self._store(batch)
        log.info("stored batch %d of %s: %d records, %d slots, %d plays", batch.batch,
                 batch.commune, stored.records, stored.slots, stored.plays)
        return CollectAck(batch.commune, batch.batch, AckStatus.STORED, stored.records)

    def _refuse(self, batch: CollectBatch, reason: str) -> CollectAck:
        log.error("refused batch %d from %s: %s", batch.batch, batch.commune, reason)
        return CollectAck(batch.commune, batch.batch, AckStatus.REFUSED, 0, reason)

    def _store(self, batch: CollectBatch) -> Stored:
        commune = batch.commune
        with self.db.engine.begin() as conn:
            commune_id = self._ensure_commune(conn, commune)
            if batch.registry is not None:
                self._registry(conn, commune, batch.registry)
            if batch.attestations:
                self._attestations(conn, commune, batch.attestations)
            agent_communes = self._agent_communes(conn, commune, batch, commune_id)
            plans = self._slots(conn, commune, batch, agent_communes)
            by_commune: dict[int, list[PlanFact]] = defaultdict(list)
            for fact in plans:
                by_commune[agent_communes.get(fact.agent_id, commune_id)].append(fact)
            for owner, plan_facts in by_commune.items():
                self.airings.add(conn, owner, plans=plan_facts)
        deliveries = [Delivery(qualify(commune, s.agent_id),
                               agent_communes.get(qualify(commune, s.agent_id), commune_id),
                               JournalBatch(s.journal_id, s.entries, s.gaps))
                      for s in batch.journals]
        if deliveries:
            self.ingest.store(deliveries)
        plays: dict[int, list[PlayFact]] = defaultdict(list)
        for delivery in deliveries:
            journal = delivery.batch.journal_id.hex()
            for entry in delivery.batch.entries:
                record = entry.record
                if isinstance(record, Play):
                    plays[delivery.commune_id].append(PlayFact(
                        delivery.agent_id, record.slot_id, record.scheduled_ns,
                        int(record.outcome), journal, entry.seq, record.first_sample_ns))
        records = sum(len(s.entries) for s in batch.journals)
        with self.db.engine.begin() as conn:
            for owner, play_facts in plays.items():
                self.airings.add(conn, owner, plays=play_facts)
            self._tally(conn, batch, records)
        return Stored(records, len(plans), sum(len(p) for p in plays.values()))

    # ------------------------------------------------------------------ registry
    def _ensure_commune(self, conn: Connection, commune: str) -> int:
        found = conn.execute(select(UNITS.c.id).where(UNITS.c.key == commune)).scalar()
        if found is not None:
            return int(found)
        # Records before any registry (not what a forwarder sends, but never lose them):
        # a placeholder the registry snapshot fills in.
        unit_id = self._insert_unit(conn, commune, UnitLevel.COMMUNE, None)
        conn.execute(VERSIONS.insert().values(unit_id=unit_id, name=commune, parent_id=None,
                                              valid_from=dt.date(1970, 1, 1), valid_to=None))
        return unit_id

    def _insert_unit(self, conn: Connection, key: str, level: UnitLevel,
                     code: str | None) -> int:
        result = conn.execute(UNITS.insert().values(key=key, level=level, code=code,
                                                    created_at=utcnow()))
        inserted = result.inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    def _registry(self, conn: Connection, commune: str, registry: Registry) -> None:
        levels = {u.key: UnitLevel(u.level) for u in registry.units}

        def local(key: str) -> str:
            return qualify(commune, key) if levels.get(key) is UnitLevel.VILLAGE else key

        ids: dict[str, int] = {}
        for unit in registry.units:
            key = local(unit.key)
            found = conn.execute(select(UNITS.c.id).where(UNITS.c.key == key)).scalar()
            ids[unit.key] = int(found) if found is not None else self._insert_unit(
                conn, key, levels[unit.key], unit.code)
        for unit in registry.units:
            merged = ids.get(unit.merged_into) if unit.merged_into else None
            conn.execute(update(UNITS).where(UNITS.c.id == ids[unit.key]).values(
                code=unit.code, merged_into_id=merged))
        owned = {ids[u.key] for u in registry.units if levels[u.key] not in SHARED}
        if owned:
            conn.execute(delete(VERSIONS).where(VERSIONS.c.unit_id.in_(sorted(owned))))
        for version in registry.versions:
            unit_id = ids[version.key]
            row = {"name": version.name,
                   "parent_id": ids.get(version.parent) if version.parent else None,
                   "valid_to": _date(version.valid_to) if version.valid_to is not None
                   else None}
            start = _date(version.valid_from)
            if unit_id not in owned:
                conn.execute(delete(VERSIONS).where(VERSIONS.c.unit_id == unit_id,
                                                    VERSIONS.c.valid_from == start))
            conn.execute(VERSIONS.insert().values(unit_id=unit_id, valid_from=start, **row))
        stations: dict[tuple[str, str], int] = {}
        for station in registry.stations:
            owner = ids[station.commune]
            stations[(station.commune, station.key)] = self._upsert_keyed(
                conn, STATIONS, owner, station.key,
                {"name": station.name, "kind": StationKind(station.kind)})
        clusters: dict[tuple[str, str], int] = {}
        for cluster in registry.clusters:
            owner = ids[cluster.commune]
            station_id = stations.get((cluster.commune, cluster.station))
            village_id = ids.get(cluster.village)
            if station_id is None or village_id is None:
                continue
            clusters[(cluster.commune, cluster.key)] = self._upsert_keyed(
                conn, CLUSTERS, owner, cluster.key,
                {"name": cluster.name, "kind": ClusterKind(cluster.kind),
                 "station_id": station_id, "village_id": village_id})
        for agent in registry.agents:
            agent_id = qualify(commune, agent.agent_id)
            values = {"commune_id": ids[agent.commune], "status": AgentStatus(agent.status),
                      "cluster_id": clusters.get((agent.commune, agent.cluster))
                      if agent.cluster else None}
            if values["cluster_id"] is not None:  # cluster_id is unique: take it over
                conn.execute(update(AGENTS).where(AGENTS.c.cluster_id == values["cluster_id"],
                                                  AGENTS.c.id != agent_id)
                             .values(cluster_id=None))
            if conn.execute(select(AGENTS.c.id).where(AGENTS.c.id == agent_id)).first():
                conn.execute(update(AGENTS).where(AGENTS.c.id == agent_id).values(**values))
            else:
                conn.execute(AGENTS.insert().values(id=agent_id, created_at=utcnow(),
                                                    **values))

    @staticmethod
    def _upsert_keyed(conn: Connection, table: Table, commune_id: int, key: str,
                      values: dict[str, Any]) -> int:
        found = conn.execute(select(table.c.id).where(table.c.commune_id == commune_id,
                                                      table.c.key == key)).scalar()
        if found is not None:
            conn.execute(update(table).where(table.c.id == found).values(**values))
            return int(found)
        result = conn.execute(table.insert().values(commune_id=commune_id, key=key,
                                                    created_at=utcnow(), **values))
        inserted = result.inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    def _attestations(self, conn: Connection, commune: str,
                      rows: list[AttestationRow]) -> None:
        for row in rows:
            owner = conn.execute(select(UNITS.c.id).where(UNITS.c.key == row.commune)).scalar()
            if owner is None:
                continue
            cluster = conn.execute(select(CLUSTERS.c.id).where(
                CLUSTERS.c.commune_id == owner, CLUSTERS.c.key == row.cluster)).scalar() \
                if row.cluster else None
            station = conn.execute(select(STATIONS.c.id).where(
                STATIONS.c.commune_id == owner, STATIONS.c.key == row.station)).scalar() \
                if row.station else None
            values = {"commune_id": owner, "cluster_id": cluster, "station_id": station,
                      "period_start": _date(row.period_start),
                      "period_end": _date(row.period_end), "note": row.note,
                      "attested_by": row.attested_by, "attested_at": _when(row.attested_at_ns),
                      "withdrawn_by": row.withdrawn_by,
                      "withdrawn_at": _when(row.withdrawn_at_ns)}
            statement = self._dialect.insert(ATTESTATIONS).values(uid=row.uid, **values)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["uid"], set_={k: statement.excluded[k] for k in values}))

    # ------------------------------------------------------------------ plan and journal
    def _agent_communes(self, conn: Connection, commune: str, batch: CollectBatch,
                        default: int) -> dict[str, int]:
        agents = {qualify(commune, s.agent_id) for s in batch.journals} | \
            {qualify(commune, s.agent_id) for s in batch.slots}
        found: dict[str, int] = {}
        ids = sorted(agents)
        for start in range(0, len(ids), 500):
            for row in conn.execute(select(AGENTS.c.id, AGENTS.c.commune_id).where(
                    AGENTS.c.id.in_(ids[start:start + 500]))):
                found[row.id] = row.commune_id
        return {agent: found.get(agent, default) for agent in agents}

    def _slots(self, conn: Connection, commune: str, batch: CollectBatch,
               communes: dict[str, int]) -> list[PlanFact]:
        rows, facts = [], []
        for slot in batch.slots:
            agent = qualify(commune, slot.agent_id)
            withdrawn = _when(slot.withdrawn_at_ns)
            rows.append({
                "agent_id": agent, "slot_id": slot.slot_id, "commune_id": communes[agent],
                "programme_id": slot.programme, "start_ns": slot.start_ns,
                "duration_ms": slot.duration_ms, "window_end_ns": slot.window_end_ns,
                "content": slot.content.hex(), "priority": slot.priority,
                "policy": slot.policy, "fragment": slot.fragment,
                "plan_epoch": slot.plan_epoch, "plan_version": slot.plan_version,
                "planned_at": _when(slot.planned_at_ns), "withdrawn_at": withdrawn})
            before_start = slot.withdrawn_at_ns is not None and \
                slot.withdrawn_at_ns < slot.start_ns
            facts.append(PlanFact(agent, slot.slot_id, slot.start_ns, slot.window_end_ns,
                                  slot.programme, not before_start and not slot.fragment))
        if rows:
            statement = self._dialect.insert(PLAN)
            columns = [c for c in rows[0] if c not in ("agent_id", "slot_id")]
            statement = statement.on_conflict_do_update(
                index_elements=["agent_id", "slot_id"],
                set_={c: statement.excluded[c] for c in columns})
            unique = list({(r["agent_id"], r["slot_id"]): r for r in rows}.values())
            for start in range(0, len(unique), 1000):
                conn.execute(statement, unique[start:start + 1000])
        return facts

    def _tally(self, conn: Connection, batch: CollectBatch, records: int) -> None:
        now = utcnow()
        values = {"last_batch": batch.batch, "last_batch_at": now,
                  "sent_at": _when(batch.sent_ns), "registry_digest": batch.registry_digest.hex()}
        found = conn.execute(select(COLLECTED.c.batches, COLLECTED.c.records).where(
            COLLECTED.c.commune == batch.commune)).first()
        if found is None:
            conn.execute(COLLECTED.insert().values(commune=batch.commune, batches=1,
                                                   records=records, **values))
        else:
            conn.execute(update(COLLECTED).where(COLLECTED.c.commune == batch.commune).values(
                batches=found.batches + 1, records=found.records + records, **values))
