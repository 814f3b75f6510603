"""The controller side of schedules: sessions and programmes per commune, conflicts when
programming, approval, emergencies from cache, and the planner that turns approved
programmes into each agent's signed plan document.

* services (``SchedulingServices``: sessions, programmes, pins, emergencies, timeline,
  plans), used by the operator API;
* ``Planner`` / ``PlannerComponent``: plan documents, published only when changed, timed
  by APScheduler in the daemon;
* ``ReadinessEstimator``: how the conflict check learns when an item can be in an
  agent's cache (``delivery.DeliveryEstimator`` in a running station: cached, offline,
  or behind the content service's queue at its egress cap);
* ``deadlines.AirTimes``: the plans' air times, by which the content service orders its
  transfers and raises its "late" alert.
"""

from .announcer import EmergencyAnnouncer, EmergencyBroadcaster
from .component import PlannerComponent, PlannerSettings
from .errors import ScheduleConflicts
from .inputs import ItemRef, ProgrammeInput
from .planner import Planner, PlanRound, same_content
from .publishing import DocumentPublisher
from .readiness import LibraryReadiness, ReadinessEstimator
from .services import SchedulingServices

__all__ = ["DocumentPublisher", "EmergencyAnnouncer", "EmergencyBroadcaster", "ItemRef",
           "LibraryReadiness", "PlanRound", "Planner", "PlannerComponent", "PlannerSettings",
           "ProgrammeInput", "ReadinessEstimator", "ScheduleConflicts", "SchedulingServices",
           "same_content"]
