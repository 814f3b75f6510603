"""Errors of the scheduling services, as the station's typed service errors.

``schedules`` raises ``ScheduleError`` with a stable code and no user-facing text;
:func:`invalid_schedule` turns it into an ``Invalid`` with a translatable message.
:class:`ScheduleConflicts` carries the whole conflict report, so the API can answer 409
with a structured list and the CLI can offer ``--resolve override|append``.
"""

from __future__ import annotations

from controller.i18n import N_
from controller.registry.errors import Conflict, Invalid
from schedules import ConflictReport, ErrorCode, ScheduleError

SCHEDULE_ERRORS: dict[ErrorCode, str] = {
    ErrorCode.INVALID_ID: N_("An identifier is not valid ({detail}): use lower-case letters, "
                             "digits, '-' and '_'."),
    ErrorCode.DUPLICATE_ID: N_("An identifier is used twice ({detail})."),
    ErrorCode.UNKNOWN_SESSION: N_("No such broadcast session ({detail})."),
    ErrorCode.UNKNOWN_TIME_ZONE: N_("Unknown time zone ({detail})."),
    ErrorCode.INVALID_RANGE: N_("A date, time or range is not valid ({detail})."),
    ErrorCode.INVALID_DURATION: N_("A duration is out of range ({detail})."),
    ErrorCode.INVALID_CONTENT: N_("An item's content is not a SHA-256 ({detail})."),
    ErrorCode.MISSING_TIME: N_("A time is needed: give --at, or put the programme in a "
                               "session ({detail})."),
    ErrorCode.TOO_MANY_AIRINGS: N_("Too many airings in one occurrence ({detail}): at most "
                                   "999 items x repeats."),
    ErrorCode.EMPTY: N_("A programme needs at least one item."),
}


def invalid_schedule(error: ScheduleError) -> Invalid:
    """The operator-facing form of a ``ScheduleError``."""
    template = SCHEDULE_ERRORS.get(error.code, N_("The schedule is not valid ({detail})."))
    return Invalid(template, detail=error.detail or error.code.value)


class ScheduleConflicts(Conflict):
    """Programming would conflict with the approved schedule; nothing was stored.

    ``report`` is what ``schedules.check_programme`` found; ``tz`` the commune's zone, to
    show the times as the operator thinks of them.
    """

    code = "schedule_conflict"

    def __init__(self, report: ConflictReport, tz: str) -> None:
        super().__init__(N_("Programme {programme} conflicts with the approved schedule "
                            "({count} conflicts): change it, or answer with override or "
                            "append."), programme=report.programme,
                         count=len(report.conflicts))
        self.report = report
        self.tz = tz
