"""The schedule model: sessions, programmes and the commune schedule holding them.

All structs are frozen and validate themselves on construction and on decoding, so a
``Schedule`` that exists is one the resolver can work with. Approval is not modelled
here: the controller hands the resolver only the programmes allowed to reach agents.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec

from protocols.messages import HardTimePolicy, Priority

from .errors import ErrorCode, ScheduleError
from .ids import check_id, check_unique
from .localtime import DEFAULT_TZ, NS_PER_MS, local_date, local_ns, seconds_of_day, zone
from .recurrence import Every, Recurrence, Weekday, start_time
from .topology import Targets

MAX_AIRINGS = 999  # per occurrence; keeps slot ids within the wire's 96 characters
DEFAULT_MAX_DELAY_MINUTES = 30  # a free-standing item may start this late (queue, restart)
MAX_DURATION_MS = 2**32 - 1  # PlanSlot.duration_ms is a u32


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """One audio file of the library: its sha256 and its duration."""

    content: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    duration_ms: int

    def __post_init__(self) -> None:
        if len(self.content) != 32:
            raise ScheduleError(ErrorCode.INVALID_CONTENT, "content is a 32-byte sha256")
        if not 1 <= self.duration_ms <= MAX_DURATION_MS:
            raise ScheduleError(ErrorCode.INVALID_DURATION, f"{self.duration_ms} ms")


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A broadcast session (khung giờ phát): a daily local window with an airtime cap.

    The window is ``[start, start + length)``; ``length`` defaults to the cap, which is
    the usual case (a 45-minute session). A longer window with a smaller cap lets items
    queue or restart later in the window while still capping the airtime. A window may
    run past midnight; it belongs to the day it starts on.
    """

    session_id: str
    start: time
    cap_minutes: int
    length_minutes: int | None = None
    weekdays: Weekday = Weekday.ALL

    def __post_init__(self) -> None:
        check_id(self.session_id, "session")
        if not 1 <= self.cap_minutes <= 1440:
            raise ScheduleError(ErrorCode.INVALID_DURATION, f"cap {self.cap_minutes} min")
        if not self.cap_minutes <= self.window_minutes <= 1440:
            raise ScheduleError(ErrorCode.INVALID_DURATION,
                                f"window {self.window_minutes} min < cap")
        if not 1 <= int(self.weekdays) <= 127:
            raise ScheduleError(ErrorCode.INVALID_RANGE, f"weekdays {int(self.weekdays)}")

    @property
    def window_minutes(self) -> int:
        return self.cap_minutes if self.length_minutes is None else self.length_minutes

    @property
    def cap_ms(self) -> int:
        return self.cap_minutes * 60_000

    def covers(self, at: time) -> bool:
        """Whether wall time ``at`` falls in the window (as a time of day)."""
        offset = (seconds_of_day(at) - seconds_of_day(self.start)) % 86_400
        return offset < self.window_minutes * 60

    def window_on(self, day: date, tz: ZoneInfo) -> tuple[int, int] | None:
        """``(start_ns, end_ns)`` of the occurrence starting on local ``day``, if any."""
        if not Weekday.of(day) & self.weekdays:
            return None
        start = local_ns(day, self.start, tz)
        return start, start + self.window_minutes * 60_000 * NS_PER_MS

    def window_at(self, instant_ns: int, tz: ZoneInfo) -> tuple[int, int] | None:
        """The occurrence whose window contains ``instant_ns`` (today's or yesterday's)."""
        today = local_date(instant_ns, tz)
        for day in (today, today - timedelta(days=1)):
            window = self.window_on(day, tz)
            if window is not None and window[0] <= instant_ns < window[1]:
                return window
        return None


class Placement(StrEnum):
    """How a programme stands against others; the conflict resolutions set it.

    ``override``: wins over anything of the same priority (pre-empts it, takes the session
    cap first). ``append``: goes after everything else that is airing or waiting, and is
    the first refused when a session cap is exceeded. Neither lifts a programme above a
    higher priority: Circular 39's ladder is not the operator's to bend.
    """

    AT_TIME = "at_time"
    OVERRIDE = "override"
    APPEND = "append"


Precedence = tuple[int, int, int, int]


def precedence_of(priority: Priority, placement: Placement, rank: int) -> Precedence:
    """Higher wins: what airs first when several wait, and who may pre-empt whom.

    Appended items come after everything else; then Circular 39's priority ladder; then,
    within one priority, an override; then the operator's rank (lower rank first).
    """
    return (0 if placement is Placement.APPEND else 1, int(priority),
            1 if placement is Placement.OVERRIDE else 0, -rank)


class Programme(msgspec.Struct, frozen=True, kw_only=True):
    """An item or a playlist, when it recurs, where it airs and how it yields.

    An occurrence of the rule airs the playlist ``repeat`` times, ``repeat_gap_s`` apart
    (from the end of one pass to the start of the next, as programmed: each pass is due at
    its nominal time, so a pass held back by something else may delay the next one, under
    the same hard-time policy). In a session, the occurrence
    must fall inside one of the session's windows; without ``at`` it starts when the
    session starts. ``rank`` is the operator's order between clashing items of equal
    priority (Circular 39: the commune decides between priority items): lower airs
    first. ``max_delay_minutes`` bounds how late an airing may start (waiting in a queue,
    restarting after pre-emption); in a session the session's end bounds it too.
    """

    programme_id: str
    items: tuple[Item, ...]
    recurrence: Recurrence
    session: str | None = None
    targets: Targets = Targets()
    priority: Priority = Priority.NORMAL
    policy: HardTimePolicy = HardTimePolicy.QUEUE_AFTER
    repeat: int = 1
    repeat_gap_s: int = 0
    rank: int = 0
    placement: Placement = Placement.AT_TIME
    max_delay_minutes: int | None = None

    def __post_init__(self) -> None:
        check_id(self.programme_id, "programme")
        if self.session is not None:
            check_id(self.session, "session")
        if not self.items:
            raise ScheduleError(ErrorCode.EMPTY, "a programme needs at least one item")
        if self.repeat < 1 or len(self.items) * self.repeat > MAX_AIRINGS:
            raise ScheduleError(ErrorCode.TOO_MANY_AIRINGS,
                                f"{len(self.items)} items x {self.repeat}")
        if not 0 <= self.repeat_gap_s <= 86_400:
            raise ScheduleError(ErrorCode.INVALID_DURATION, f"gap {self.repeat_gap_s} s")
        if self.max_delay_minutes is not None and not 0 <= self.max_delay_minutes <= 1440:
            raise ScheduleError(ErrorCode.INVALID_DURATION, f"delay {self.max_delay_minutes}")
        if (self.session is None and not isinstance(self.recurrence, Every)
                and self.recurrence.at is None):
            raise ScheduleError(ErrorCode.MISSING_TIME, self.programme_id)

    @property
    def pass_ms(self) -> int:
        """One pass of the playlist, back to back."""
        return sum(item.duration_ms for item in self.items)

    @property
    def precedence(self) -> Precedence:
        return precedence_of(self.priority, self.placement, self.rank)


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """A commune's sessions and (approved) programmes, in the commune's time zone."""

    commune: str
    tz: str = DEFAULT_TZ
    sessions: tuple[Session, ...] = ()
    programmes: tuple[Programme, ...] = ()

    def __post_init__(self) -> None:
        check_id(self.commune, "commune")
        zone(self.tz)
        check_unique([s.session_id for s in self.sessions], "session")
        check_unique([p.programme_id for p in self.programmes], "programme")
        sessions = {s.session_id: s for s in self.sessions}
        for programme in self.programmes:
            if programme.session is None:
                continue
            session = sessions.get(programme.session)
            if session is None:
                raise ScheduleError(ErrorCode.UNKNOWN_SESSION,
                                    f"{programme.programme_id} -> {programme.session}")
            at = start_time(programme.recurrence)
            if at is not None and not session.covers(at):
                raise ScheduleError(ErrorCode.INVALID_RANGE,
                                    f"{programme.programme_id} at {at} is outside "
                                    f"{session.session_id}")

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    def session(self, session_id: str) -> Session:
        for session in self.sessions:
            if session.session_id == session_id:
                return session
        raise ScheduleError(ErrorCode.UNKNOWN_SESSION, session_id)

    def with_programme(self, programme: Programme) -> Schedule:
        """This schedule with ``programme`` added, or replacing the one with its id."""
        others = tuple(p for p in self.programmes if p.programme_id != programme.programme_id)
        return msgspec.structs.replace(self, programmes=(*others, programme))

    def without(self, programme_id: str) -> Schedule:
        return msgspec.structs.replace(
            self, programmes=tuple(p for p in self.programmes if p.programme_id != programme_id))
