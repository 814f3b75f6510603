"""The scheduling services, composed once per station (the API holds them in
``ApiServices.scheduling``; the daemon's planner plugs the fleet link into them)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.events import EventBus
from controller.registry.timebase import StationTime
from controller.storage.database import Database

from .emergencies import EmergencyService
from .pins import PinService
from .plans import PlanViewService
from .programmes import ProgrammeService
from .sessions import SessionService
from .timeline import TimelineService
from .usage import ScheduleUsage


@dataclass
class SchedulingServices:
    sessions: SessionService
    programmes: ProgrammeService
    pins: PinService
    emergencies: EmergencyService
    timeline: TimelineService
    plans: PlanViewService
    usage: ScheduleUsage

    @classmethod
    def build(cls, db: Database, bus: EventBus, time: StationTime) -> SchedulingServices:
        return cls(sessions=SessionService(db, bus, time),
                   programmes=ProgrammeService(db, bus, time), pins=PinService(db, bus, time),
                   emergencies=EmergencyService(db, bus, time),
                   timeline=TimelineService(db, time), plans=PlanViewService(db, time),
                   usage=ScheduleUsage(db))
