"""Evaluating the alert rules for one commune and keeping ``alert`` in step.

Each pass computes the current findings and compares them with the alerts on record:
a new finding is stored and published as its typed event; an open alert whose
condition is gone is cleared (``AlertCleared``). Because the record is in the database,
a restarted station neither repeats an alert nor forgets one; one-shot alerts (a
missed airing) are stored already cleared and never raised twice for the same slot.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection

from protocols.clock import Clock
from protocols.messages import PlayOutcome

from ..events import (
    AgentOfflineAlert,
    AiringMissedAlert,
    AlertCleared,
    Event,
    EventBus,
    FleetAlert,
    JournalBacklogAlert,
    VillageUnreachedAlert,
)
from ..reports.builder import ReportBuilder, Request
from ..reports.period import Period
from ..storage.database import Database
from ..storage.tables.airings import AiringSlot
from ..storage.tables.fleet import AgentPresence
from ..storage.tables.registry import Agent
from ..storage.tables.reports import Alert
from ..uptime.definition import IndicatorDefinition
from . import rules
from .rules import AlertKind, Finding, Presence, Thresholds

log = logging.getLogger("loaxa.alerts")
ALERTS: Table = Alert.__table__  # type: ignore[attr-defined]
SLOTS: Table = AiringSlot.__table__  # type: ignore[attr-defined]
PRESENCE: Table = AgentPresence.__table__  # type: ignore[attr-defined]
AGENTS: Table = Agent.__table__  # type: ignore[attr-defined]

PresenceSource = Callable[[], list[Presence]]


@dataclass(frozen=True)
class PassResult:
    raised: list[FleetAlert]
    cleared: list[AlertCleared]


class AlertEvaluator:
    def __init__(self, db: Database, bus: EventBus, commune_id: int, commune: str,
                 clock: Clock, definition: IndicatorDefinition,
                 thresholds: Thresholds | None = None,
                 presence: PresenceSource | None = None,
                 before: Callable[[], object] | None = None) -> None:
        self.db = db
        self.bus = bus
        self.commune_id = commune_id
        self.commune = commune
        self.clock = clock
        self.definition = definition
        self.thresholds = thresholds or Thresholds()
        self._presence = presence or self._stored_presence
        self._before = before  # e.g. the airing indexer's catch-up
        self._reports = ReportBuilder(db)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.wall_ns() / 1e9, dt.UTC)

    def evaluate(self) -> PassResult:
        """One pass: find, store, then publish (after the commit)."""
        if self._before is not None:
            self._before()
        now = self.now()
        agents = self._presence()
        with self.db.engine.begin() as conn:
            open_rows = {(row.kind, row.subject): row.id for row in conn.execute(
                select(ALERTS.c.id, ALERTS.c.kind, ALERTS.c.subject).where(
                    ALERTS.c.commune_id == self.commune_id, ALERTS.c.cleared_at.is_(None)))}
            backlogged = {s for k, s in open_rows if k == AlertKind.JOURNAL_BACKLOG}
            findings: list[Finding] = [
                *rules.offline(agents, now, self.thresholds),
                *rules.backlog(agents, self.thresholds, backlogged),
                *rules.missed(self._missed(conn, now)),
                *self._villages(now)]
            raised, cleared = self._apply(conn, now, findings, open_rows)
        self.bus.publish_all([*raised, *cleared])
        return PassResult(raised, cleared)

    # ------------------------------------------------------------------ sources
    def _stored_presence(self) -> list[Presence]:
        with self.db.engine.connect() as conn:
            return [Presence(row.agent_id, row.online, row.last_seen_at, row.death_at,
                             _json(row.heartbeat)) for row in conn.execute(
                select(PRESENCE).where(PRESENCE.c.commune_id == self.commune_id))]

    def _missed(self, conn: Connection, now: dt.datetime) -> list[rules.MissedSlot]:
        now_ns = int(now.timestamp() * 1e9)
        since = now_ns - int(self.thresholds.missed_lookback.total_seconds() * 1e9)
        agents = list(conn.execute(select(AGENTS.c.id).where(
            AGENTS.c.commune_id == self.commune_id)).scalars())
        found = []
        for start in range(0, len(agents), 500):
            for row in conn.execute(select(SLOTS).where(
                    SLOTS.c.agent_id.in_(agents[start:start + 500]),
                    SLOTS.c.targeted.is_(True), SLOTS.c.start_ns >= since - 86_400 * 10**9,
                    SLOTS.c.window_end_ns >= since, SLOTS.c.window_end_ns <= now_ns,
                    (SLOTS.c.outcome.is_(None)) | (SLOTS.c.outcome != PlayOutcome.AIRED))):
                outcome = "no-record" if row.outcome is None else \
                    PlayOutcome(row.outcome).name.lower()
                found.append(rules.MissedSlot(row.agent_id, row.slot_id,
                                              row.programme_id or "", row.start_ns, outcome))
        return found

    def _villages(self, now: dt.datetime) -> list[Finding]:
        zone_today = now.astimezone(ZoneInfo(self.definition.window.tz)).date()
        start = zone_today - dt.timedelta(days=self.thresholds.village_days - 1)
        data = self._reports.build(Request(Period(start, zone_today), self.definition, now,
                                           unit=self.commune))
        return rules.villages([rules.VillageState(v.key, v.reached, v.best_availability)
                               for v in data.villages if v.commune == self.commune], start)

    # ------------------------------------------------------------------ record
    def _apply(self, conn: Connection, now: dt.datetime, findings: list[Finding],
               open_rows: dict[tuple[str, str], int]
               ) -> tuple[list[FleetAlert], list[AlertCleared]]:
        raised: list[FleetAlert] = []
        cleared: list[AlertCleared] = []
        current = {(f.kind.value, f.subject) for f in findings}
        for finding in findings:
            key = (finding.kind.value, finding.subject)
            if key in open_rows:
                continue
            if finding.kind in rules.ONE_SHOT and conn.execute(select(ALERTS.c.id).where(
                    ALERTS.c.commune_id == self.commune_id, ALERTS.c.kind == key[0],
                    ALERTS.c.subject == key[1]).limit(1)).first() is not None:
                continue
            result = conn.execute(ALERTS.insert().values(
                commune_id=self.commune_id, kind=key[0], subject=key[1][:128], raised_at=now,
                cleared_at=now if finding.kind in rules.ONE_SHOT else None,
                detail=json.dumps(finding.detail, sort_keys=True, default=str)))
            inserted = result.inserted_primary_key
            assert inserted is not None
            alert_id = int(inserted[0])
            raised.append(self._event(alert_id, finding, now))
            log.warning("alert %s: %s", key[0], key[1])
        for (kind, subject), alert_id in open_rows.items():
            if (kind, subject) in current:
                continue
            conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(cleared_at=now))
            cleared.append(AlertCleared(commune_id=self.commune_id, commune=self.commune,
                                        at=now, alert_id=alert_id, alert_kind=kind,
                                        subject=subject))
        return raised, cleared

    def _event(self, alert_id: int, finding: Finding, now: dt.datetime) -> FleetAlert:
        d = finding.detail
        commune_id, commune, subject = self.commune_id, self.commune, finding.subject
        if finding.kind is AlertKind.AGENT_OFFLINE:
            return AgentOfflineAlert(
                commune_id=commune_id, commune=commune, at=now, alert_id=alert_id,
                subject=subject, agent_id=d["agent_id"],
                offline_since=dt.datetime.fromisoformat(d["offline_since"]),
                threshold_min=d["threshold_min"])
        if finding.kind is AlertKind.JOURNAL_BACKLOG:
            return JournalBacklogAlert(
                commune_id=commune_id, commune=commune, at=now, alert_id=alert_id,
                subject=subject, agent_id=d["agent_id"],
                backlog_records=d["backlog_records"], oldest_s=d["oldest_s"])
        if finding.kind is AlertKind.AIRING_MISSED:
            return AiringMissedAlert(
                commune_id=commune_id, commune=commune, at=now, alert_id=alert_id,
                subject=subject, agent_id=d["agent_id"], slot_id=d["slot_id"],
                programme=d["programme"],
                scheduled_at=dt.datetime.fromtimestamp(d["start_ns"] / 1e9, dt.UTC),
                outcome=d["outcome"])
        return VillageUnreachedAlert(
            commune_id=commune_id, commune=commune, at=now, alert_id=alert_id,
            subject=subject, village=d["village"],
            since_day=dt.date.fromisoformat(d["since_day"]),
            best_availability=d["best_availability"])


def _json(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["AlertEvaluator", "Event", "PassResult"]
