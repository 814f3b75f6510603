"""What counts as an alert, as pure functions of what the station knows.

* **Agent offline**: offline (Last Will, goodbye or silence) for at least
  ``offline_after`` since it was last heard from.
* **Journal backlog growing**: the agent's heartbeats say its oldest unacknowledged
  journal record is at least ``backlog_after`` old, i.e. its records are not getting
  through; cleared once it is under half that again (hysteresis, so a backlog hovering
  at the threshold does not flap). The age, not the growth of the count across
  heartbeats, is the signal on purpose: the backlog is a FIFO, so the oldest record's
  age is the delay of the evidence itself, and it keeps rising both when nothing is
  acknowledged and when acks come but slower than the agent journals (what "growing"
  means); it does not depend on how much an agent journals (a quiet agent stalls as
  visibly as a busy one), needs no per-agent history across heartbeats, which are
  live-only and lost with a station restart, and falls back as soon as a drain reaches
  the old records, where a count would still look large.
* **Airing missed**: a slot targeted at the agent whose window has ended without an
  ``AIRED`` play record (raised once per slot, never cleared: it happened).
* **Village not reached**: over the trailing ``village_days`` days, the village fails
  indicator 1's rule (no IP cluster at the thresholds, no attestation); cleared when it
  is reached again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    AGENT_OFFLINE = "alert_agent_offline"
    JOURNAL_BACKLOG = "alert_journal_backlog"
    AIRING_MISSED = "alert_airing_missed"
    VILLAGE_UNREACHED = "alert_village_unreached"


ONE_SHOT = frozenset({AlertKind.AIRING_MISSED})  # an event in the past: nothing to clear


@dataclass(frozen=True)
class Thresholds:
    offline_after: dt.timedelta = dt.timedelta(minutes=30)
    backlog_after: dt.timedelta = dt.timedelta(hours=1)
    village_days: int = 7
    missed_lookback: dt.timedelta = dt.timedelta(hours=48)


@dataclass(frozen=True)
class Presence:
    """An agent's live state, as the alert rules need it."""

    agent_id: str
    online: bool
    last_seen_at: dt.datetime | None
    death_at: dt.datetime | None
    heartbeat: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    kind: AlertKind
    subject: str
    detail: dict[str, Any]


def offline(agents: Iterable[Presence], now: dt.datetime,
            thresholds: Thresholds) -> list[Finding]:
    found = []
    for agent in agents:
        if agent.online:
            continue
        since = max((t for t in (agent.last_seen_at, agent.death_at) if t is not None),
                    default=None)
        if since is None or now - since < thresholds.offline_after:
            continue
        found.append(Finding(AlertKind.AGENT_OFFLINE, agent.agent_id, {
            "agent_id": agent.agent_id, "offline_since": since.isoformat(),
            "threshold_min": int(thresholds.offline_after.total_seconds() // 60)}))
    return found


def backlog(agents: Iterable[Presence], thresholds: Thresholds,
            already: set[str]) -> list[Finding]:
    """``already``: agents with an open backlog alert (kept until under half)."""
    limit = thresholds.backlog_after.total_seconds()
    found = []
    for agent in agents:
        oldest = agent.heartbeat.get("backlog_oldest_s")
        records = agent.heartbeat.get("backlog_records")
        if not isinstance(oldest, int) or not isinstance(records, int) or records <= 0:
            continue
        bar = limit / 2 if agent.agent_id in already else limit
        if oldest >= bar:
            found.append(Finding(AlertKind.JOURNAL_BACKLOG, agent.agent_id, {
                "agent_id": agent.agent_id, "backlog_records": records, "oldest_s": oldest}))
    return found


@dataclass(frozen=True)
class MissedSlot:
    agent_id: str
    slot_id: str
    programme: str
    start_ns: int
    outcome: str


def missed(slots: Iterable[MissedSlot]) -> list[Finding]:
    return [Finding(AlertKind.AIRING_MISSED, f"{s.agent_id}/{s.slot_id}", {
        "agent_id": s.agent_id, "slot_id": s.slot_id, "programme": s.programme,
        "start_ns": s.start_ns, "outcome": s.outcome}) for s in slots]


@dataclass(frozen=True)
class VillageState:
    village: str
    reached: bool
    best_availability: float | None


def villages(states: Iterable[VillageState], since: dt.date) -> list[Finding]:
    return [Finding(AlertKind.VILLAGE_UNREACHED, v.village, {
        "village": v.village, "since_day": since.isoformat(),
        "best_availability": v.best_availability}) for v in states if not v.reached]
