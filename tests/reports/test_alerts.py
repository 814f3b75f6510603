"""Alerts on the scripted fleet: an agent offline too long, a growing journal backlog,
missed airings, a village no longer reached — raised once as typed events, cleared
when the condition goes, never repeated after a restart, and listed in the reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import delete, insert

from controller.alerts.evaluator import AlertEvaluator
from controller.alerts.rules import Thresholds
from controller.daemon import STATION_COMPONENTS, alerts_component, forward_component
from controller.events import (
    AgentOfflineAlert,
    AiringMissedAlert,
    AlertCleared,
    Event,
    EventBus,
    JournalBacklogAlert,
    VillageUnreachedAlert,
)
from controller.reports.builder import ReportBuilder, Request
from controller.reports.period import Period
from controller.storage.database import Database
from controller.storage.tables.fleet import AgentPresence
from controller.uptime.indexer import AiringIndexer
from protocols.clock import ManualClock

from . import scenario

NOW = dt.datetime(2026, 11, 2, 22, 0, tzinfo=scenario.TZ)  # an evening in the period
THRESHOLDS = Thresholds(offline_after=dt.timedelta(minutes=30),
                        backlog_after=dt.timedelta(minutes=60), village_days=3,
                        missed_lookback=dt.timedelta(hours=48))


def presence(db: Database, commune_id: int, agent: str, online: bool, seen_ago_min: int,
             backlog: tuple[int, int] | None = None) -> None:
    seen = NOW - dt.timedelta(minutes=seen_ago_min)
    beat = {} if backlog is None else {"backlog_records": backlog[0],
                                       "backlog_oldest_s": backlog[1]}
    with db.engine.begin() as conn:
        conn.execute(delete(AgentPresence).where(AgentPresence.agent_id == agent))  # type: ignore[arg-type]
        conn.execute(insert(AgentPresence).values(
            agent_id=agent, commune_id=commune_id, online=online, session=1, software="",
            last_seen_at=seen, death_at=None if online else seen, heartbeat=json.dumps(beat),
            telemetry="{}"))


def test_alerts_raise_clear_and_survive_a_restart(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'alerts.db'}")
    db.upgrade()
    fleet = scenario.Fleet.build()
    ids = scenario.install_registry(db)
    agents = scenario.COMMUNE_AGENTS["xa-a"]
    scenario.install_plans(db, fleet, ids, agents)
    scenario.ingest(db, fleet.deliveries(agents), ids["xa-a"])
    commune = ids["xa-a"]
    presence(db, commune, "ag-a1", online=False, seen_ago_min=120)  # offline for 2 h
    presence(db, commune, "ag-a2", online=True, seen_ago_min=1, backlog=(40, 7200))
    presence(db, commune, "ag-a3", online=True, seen_ago_min=1, backlog=(3, 120))
    presence(db, commune, "ag-a4", online=False, seen_ago_min=10)  # not long enough yet
    clock = ManualClock(wall_ns=int(NOW.timestamp()) * 10**9)
    bus = EventBus()
    heard: list[Event] = []
    bus.subscribe(heard.append)

    def evaluator() -> AlertEvaluator:
        indexer = AiringIndexer(db, commune, scenario.DEFINITION.window.tz, clock)
        return AlertEvaluator(db, bus, commune, "xa-a", clock, scenario.DEFINITION,
                              THRESHOLDS, before=indexer.catch_up)

    first = evaluator().evaluate()
    raised = sorted((type(e).__name__, e.subject) for e in first.raised)
    # Missed, within the last 48 h: ag-a3's 11-01 07:00 (no record) and 11-02 07:00
    # (failed), ag-a4's 11-02 11:00 (pre-empted); not ag-a3's 10-31 07:00 (too old).
    # thon-a3 over 10-31 .. 11-02: c-a3 up 34 of 51 h, c-a4 aired 6 of 7 (85.7 %).
    assert raised == [("AgentOfflineAlert", "ag-a1"),
                      ("AiringMissedAlert", "ag-a3/prog-110107"),
                      ("AiringMissedAlert", "ag-a3/prog-110207"),
                      ("AiringMissedAlert", "ag-a4/prog-110211"),
                      ("JournalBacklogAlert", "ag-a2"),
                      ("VillageUnreachedAlert", "thon-a3")]
    assert first.cleared == []
    assert [type(e) for e in heard] == [type(e) for e in first.raised]
    offline = next(e for e in heard if isinstance(e, AgentOfflineAlert))
    assert (offline.agent_id, offline.threshold_min, offline.kind) == \
        ("ag-a1", 30, "alert_agent_offline")
    missed = next(e for e in heard if isinstance(e, AiringMissedAlert)
                  and e.slot_id == "prog-110211")
    assert missed.outcome == "preempted"
    backlog = next(e for e in heard if isinstance(e, JournalBacklogAlert))
    assert (backlog.backlog_records, backlog.oldest_s) == (40, 7200)
    village = next(e for e in heard if isinstance(e, VillageUnreachedAlert))
    assert village.since_day == dt.date(2026, 10, 31)
    assert village.to_json()["kind"] == "alert_village_unreached"

    heard.clear()
    again = evaluator().evaluate()  # nothing changed: nothing new, nothing cleared
    assert (again.raised, again.cleared, heard) == ([], [], [])

    presence(db, commune, "ag-a1", online=True, seen_ago_min=0)
    presence(db, commune, "ag-a2", online=True, seen_ago_min=0, backlog=(30, 2000))
    cleared = evaluator().evaluate()
    assert [(c.alert_kind, c.subject) for c in cleared.cleared] == \
        [("alert_agent_offline", "ag-a1")]  # the backlog (2000 s) is above half: kept
    presence(db, commune, "ag-a2", online=True, seen_ago_min=0, backlog=(2, 900))
    drained = evaluator().evaluate()
    assert [(c.alert_kind, c.subject) for c in drained.cleared] == \
        [("alert_journal_backlog", "ag-a2")]
    assert all(isinstance(c, AlertCleared) for c in drained.cleared)

    data = ReportBuilder(db).build(Request(Period(*scenario.PERIOD), scenario.DEFINITION,
                                           scenario.NOW, unit="xa-a"))
    assert sorted((a.kind, a.subject, a.cleared_at is None) for a in data.alerts) == [
        ("alert_agent_offline", "ag-a1", False),
        ("alert_airing_missed", "ag-a3/prog-110107", False),
        ("alert_airing_missed", "ag-a3/prog-110207", False),
        ("alert_airing_missed", "ag-a4/prog-110211", False),
        ("alert_journal_backlog", "ag-a2", False),
        ("alert_village_unreached", "thon-a3", True)]
    # Positive control for "nothing repeated": a new offline episode is a new alert.
    presence(db, commune, "ag-a1", online=False, seen_ago_min=45)
    relapse = evaluator().evaluate()
    assert [(type(e), e.subject) for e in relapse.raised] == [(AgentOfflineAlert, "ag-a1")]
    assert relapse.raised[0].alert_id != offline.alert_id
    db.dispose()


def test_the_evaluator_runs_in_every_station() -> None:
    assert alerts_component in STATION_COMPONENTS
    assert forward_component in STATION_COMPONENTS
