"""What plays when: pure scheduling logic shared by the controller and the agents.

No I/O and no clock: every instant comes in as an argument (UTC nanoseconds), local
times are interpreted through ``zoneinfo`` in the commune's zone. The public API:

* model: ``Schedule``, ``Session``, ``Programme``, ``Item``, ``Placement``, the
  recurrence rules ``Once``/``Daily``/``Weekly``/``DateRange``/``Every``, ``Weekday``,
  and the topology ``Topology``/``Cluster``/``Targets``;
* ``occurrences`` (a rule's UTC instants), ``resolve`` (every agent's timeline),
  ``plan_slots`` (one agent's ``PlanSlot`` list);
* ``check_programme`` / ``apply_resolution`` (conflicts when programming);
* ``extract_routine`` / ``expand_routine`` (the standing routine past the horizon).
"""

from .conflicts import (
    Conflict,
    ConflictReport,
    NotCachedInTime,
    Overlap,
    ReadyAt,
    Resolution,
    SessionOverbooked,
    apply_resolution,
    check_programme,
)
from .errors import ErrorCode, ScheduleError
from .localtime import DEFAULT_TZ
from .model import (
    DEFAULT_MAX_DELAY_MINUTES,
    Item,
    Placement,
    Precedence,
    Programme,
    Schedule,
    Session,
    precedence_of,
)
from .notices import (
    AnyNotice,
    CapExceeded,
    NoAgents,
    Notice,
    OutsideSession,
    Preempted,
    Skipped,
    UnknownTarget,
    WindowPassed,
)
from .recurrence import (
    Daily,
    DateRange,
    Every,
    Once,
    Recurrence,
    Weekday,
    Weekly,
    is_open_ended,
    occurrences,
)
from .resolver import DEFAULT_HORIZON_NS, DEFAULT_LOOKBACK_NS, resolve
from .routine import expand_routine, extract_routine
from .timeline import Lane, ResolvedSlot, Timeline, plan_slots
from .topology import Cluster, TargetResolution, Targets, Topology, resolve_targets

__all__ = [
    "DEFAULT_HORIZON_NS",
    "DEFAULT_LOOKBACK_NS",
    "DEFAULT_MAX_DELAY_MINUTES",
    "DEFAULT_TZ",
    "AnyNotice",
    "CapExceeded",
    "Cluster",
    "Conflict",
    "ConflictReport",
    "Daily",
    "DateRange",
    "ErrorCode",
    "Every",
    "Item",
    "Lane",
    "NoAgents",
    "NotCachedInTime",
    "Notice",
    "Once",
    "OutsideSession",
    "Overlap",
    "Placement",
    "Precedence",
    "Preempted",
    "Programme",
    "ReadyAt",
    "Recurrence",
    "Resolution",
    "ResolvedSlot",
    "Schedule",
    "ScheduleError",
    "Session",
    "SessionOverbooked",
    "Skipped",
    "TargetResolution",
    "Targets",
    "Timeline",
    "Topology",
    "UnknownTarget",
    "Weekday",
    "Weekly",
    "WindowPassed",
    "apply_resolution",
    "check_programme",
    "expand_routine",
    "extract_routine",
    "is_open_ended",
    "occurrences",
    "plan_slots",
    "precedence_of",
    "resolve",
    "resolve_targets",
]
