"""The controller side of schedules: sessions and programmes per commune, conflicts when
programming, approval, emergencies from cache, and the planner that turns approved
programmes into each agent's signed plan document.

* services (``SchedulingServices``: sessions, programmes, pins, emergencies, timeline,
  plans), used by the operator API;
* ``Planner`` / ``PlannerComponent``: plan documents, published only when changed, timed
  by APScheduler in the daemon;
* ``ReadinessEstimator``: the hook through which the content service tells the conflict
  check when an item can be in an agent's cache.
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
