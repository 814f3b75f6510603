"""The planner as a daemon component: timed work with APScheduler 3.

Jobs live in memory and are rebuilt from our tables at every start. At start, the
retained documents the station last published are put back on the broker verbatim
(``retained.py``), the newest emergency is announced if its state never was, and the
first round compares what the tables say against ``published_plan`` (so an unchanged
plan gets no new version after a restart). Then:

* a rolling round every ``replan_every_minutes`` (hourly by default), which moves the
  horizon and drops slots that ended;
* the retained documents republished every ``republish_every_hours`` (daily): a broker
  can lose its store while the controller stays connected to it, and a few kilobytes
  per agent a day is cheap next to one bulletin;
* a debounced round after anything that may change a plan (an audited action in the
  commune: approvals, withdrawals, sessions, pins, clusters, agents; an enrolment or a
  revocation). Each trigger pushes the round ``debounce_s`` later, but never more than
  ``debounce_max_s`` after the first trigger, so a burst of edits is one round and a
  steady trickle cannot postpone it for ever.

Every round also refreshes the prefetch deadlines (``air_times``, ``deadlines.py``) the
content service orders its transfers by and judges them late by: the same jobs keep
them following the plans, with no job of their own. The active emergency's item, due
now, is followed from the emergency events as they happen.

APScheduler settings, deliberately: one worker thread, so rounds never overlap;
``coalesce=True``, so rounds missed while the machine was suspended or busy collapse
into one (a round is idempotent, only the latest state matters); and
``misfire_grace_time=None``, so a late round still runs however late it is
(APScheduler's default of 1 s would silently *skip* a replan whenever the station was
busy at the due second, leaving agents with a stale plan until the next hour).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from controller.events import (
    AgentEnrolled,
    AgentRevoked,
    AuditRecorded,
    EmergencyStarted,
    EmergencyStopped,
    Event,
)
from controller.fleet.publisher import FleetPublisher, Publishing

from .announcer import EmergencyAnnouncer, NoBroadcaster
from .deadlines import AirTimes
from .emergencies import active_emergency
from .planner import Planner, PlanRound
from .retained import RememberingLink, republish

if TYPE_CHECKING:
    from controller.daemon import Station

log = logging.getLogger("loaxa.scheduling")
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class PlannerSettings:
    horizon_days: int = 7
    replan_every_minutes: int = 60
    debounce_s: float = 2.0
    debounce_max_s: float = 30.0
    republish_every_hours: int = 24  # 0: only at start


def planner_settings(settings: Any) -> PlannerSettings:
    """From a ``[schedule]`` settings section when the station has one, else defaults."""
    section = getattr(settings, "schedule", None)
    if section is None:
        return PlannerSettings()
    return PlannerSettings(**{f.name: getattr(section, f.name)
                              for f in dataclasses.fields(PlannerSettings)
                              if hasattr(section, f.name)})


class PlannerComponent:
    name = "planner"

    def __init__(self, station: Station, settings: PlannerSettings | None = None) -> None:
        from controller.fleet.component import commune_id_of

        link: Publishing | None = getattr(station.extras.get("fleet"), "link", None)
        if link is None:
            raise RuntimeError("the planner needs the fleet link: start it first")
        self.station = station
        self.settings = settings or planner_settings(station.settings)
        self.commune = station.settings.station.commune
        self.commune_id = commune_id_of(station, self.commune)
        self.link = link
        clock = station.time.clock
        publisher = FleetPublisher(self.commune, station.keyring, station.counters,
                                   RememberingLink(link, station.db, station.time,
                                                   self.commune_id), clock)
        self.air_times = AirTimes(clock)
        self.planner = Planner(station.db, station.bus, station.time, self.commune, publisher,
                               horizon_ns=self.settings.horizon_days * DAY_NS,
                               air_times=self.air_times)
        self.announcer = EmergencyAnnouncer(publisher, clock)
        self.last_round: PlanRound | None = None
        self.rounds = 0
        self._scheduler = BackgroundScheduler(
            timezone=dt.UTC, executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._pending_since: dt.datetime | None = None
        self._lock = threading.Lock()
        self._subscription: Any = None
        station.extras["planner"] = self

    def start(self) -> None:
        emergencies = self.station.services.scheduling.emergencies
        emergencies.plug(self.announcer)
        try:
            republish(self.station.db, self.link, self.commune_id)
            emergencies.reconcile(self.commune_id)
        except Exception:
            log.exception("could not put the retained documents back on the broker")
        self._scheduler.add_job(self.run_round, "interval", id="rolling-replan",
                                minutes=self.settings.replan_every_minutes,
                                next_run_time=dt.datetime.now(dt.UTC))
        if self.settings.republish_every_hours > 0:
            self._scheduler.add_job(self.republish, "interval", id="republish",
                                    hours=self.settings.republish_every_hours)
        self._scheduler.start()
        self._subscription = self.station.bus.subscribe(self._on_event)
        with self.station.db.session() as session:  # after subscribing: nothing missed
            emergency = active_emergency(session, self.commune_id)
        if emergency is not None:
            self.air_times.set_emergency(bytes.fromhex(emergency.content))

    def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.station.services.scheduling.emergencies.plug(NoBroadcaster())

    def republish(self) -> int:
        try:
            return republish(self.station.db, self.link, self.commune_id)
        except Exception:
            log.exception("could not republish the retained documents")
            return 0

    def request_replan(self) -> None:
        """A debounced round (see the module docstring)."""
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._pending_since is None:
                self._pending_since = now
            due = min(now + dt.timedelta(seconds=self.settings.debounce_s),
                      self._pending_since + dt.timedelta(seconds=self.settings.debounce_max_s))
            # max_instances=2: a request that falls due while the previous requested round
            # is still running (publishing a commune's plans takes seconds on a busy
            # station) waits for the one worker instead of being skipped and lost, which
            # would leave an approval off the air until the hourly round. Rounds still
            # never overlap (one worker); one waiting round covers any later request.
            self._scheduler.add_job(self._requested_round, "date", id="requested-replan",
                                    run_date=due, replace_existing=True, max_instances=2)

    def run_round(self) -> PlanRound | None:
        try:
            result = self.planner.replan()
        except Exception:
            log.exception("re-planning %s failed; the next round retries", self.commune)
            return None
        self.last_round, self.rounds = result, self.rounds + 1
        if result.published or result.forgotten:
            log.info("planned %s: %d published, %d unchanged, %d slots withdrawn",
                     self.commune, len(result.published), len(result.unchanged),
                     result.withdrawn)
        return result

    def _requested_round(self) -> None:
        with self._lock:
            self._pending_since = None
        self.run_round()

    def _on_event(self, event: Event) -> None:
        if event.commune_id != self.commune_id:
            return
        if isinstance(event, EmergencyStarted):
            self.air_times.set_emergency(bytes.fromhex(event.content))
        elif isinstance(event, EmergencyStopped):
            self.air_times.set_emergency(None)
        if isinstance(event, AuditRecorded | AgentEnrolled | AgentRevoked):
            self.request_replan()
