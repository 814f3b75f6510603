"""The alert evaluator as a station daemon component: one pass a minute (``[alerts]``),
after bringing the airing index up to date, in its own thread."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING

from ..settings import Settings
from ..uptime.definition import load_definition
from ..uptime.indexer import AiringIndexer
from .evaluator import AlertEvaluator
from .rules import Presence, Thresholds

if TYPE_CHECKING:
    from ..daemon import Station

log = logging.getLogger("loaxa.alerts")


def thresholds_from(settings: Settings) -> Thresholds:
    alerts = settings.alerts
    return Thresholds(offline_after=dt.timedelta(minutes=alerts.offline_after_min),
                      backlog_after=dt.timedelta(minutes=alerts.backlog_after_min),
                      village_days=alerts.village_days,
                      missed_lookback=dt.timedelta(hours=alerts.missed_lookback_h))


class AlertComponent:
    name = "alerts"

    def __init__(self, station: Station) -> None:
        from ..fleet.component import commune_id_of

        self.station = station
        settings = station.settings
        self.enabled = settings.alerts.enabled
        self.interval_s = float(settings.alerts.interval_s)
        commune = settings.station.commune
        commune_id = commune_id_of(station, commune)
        definition = load_definition()
        self.indexer = AiringIndexer(station.db, commune_id, definition.window.tz,
                                     station.time.clock)
        self.evaluator = AlertEvaluator(station.db, station.bus, commune_id, commune,
                                        station.time.clock, definition,
                                        thresholds_from(settings), self._presence,
                                        before=self.indexer.catch_up)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        station.extras["alerts"] = self

    def _presence(self) -> list[Presence]:
        fleet = self.station.extras.get("fleet")
        tracker = getattr(fleet, "presence", None)
        if tracker is None:  # no fleet link in this station: what was last persisted
            return self.evaluator._stored_presence()
        return [Presence(s.agent_id, s.online, s.last_seen_at, s.death_at, s.heartbeat)
                for s in tracker.get().values()
                if s.commune_id == self.evaluator.commune_id]

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.evaluator.evaluate()
            except Exception:
                log.exception("alert evaluation failed; retrying next round")
