"""The report-area services the operator API serves, built from the station's basics."""

from __future__ import annotations

from dataclasses import dataclass

from controller.alerts.service import AlertService
from controller.events import EventBus
from controller.registry.timebase import StationTime
from controller.storage.database import Database

from ..uptime.definition import load_definition
from ..uptime.indexer import index_all
from .attestations import AttestationService
from .service import ReportService


@dataclass(frozen=True)
class ReportServices:
    reports: ReportService
    attestations: AttestationService
    alerts: AlertService

    @classmethod
    def build(cls, db: Database, bus: EventBus, time: StationTime) -> ReportServices:
        definition = load_definition()
        zone = definition.window.tz
        return cls(ReportService(db, time, definition,
                                 catch_up=lambda: index_all(db, zone, time.clock)),
                   AttestationService(db, bus, time, definition), AlertService(db, time))
