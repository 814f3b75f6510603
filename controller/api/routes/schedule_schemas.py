"""Bodies of the schedule and emergency routes (their OpenAPI description).

Local wall times and dates are the commune's (no offsets: a session starts at 05:00
wherever the server's clock is); dates are bounded to 2000-2100 and every number to what
the wire and the database hold, so bad input is a 422 and never reaches the resolver.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from ..errors import ErrorBody
from ..schemas import Input, Key, Line, Name, Output

Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
WeekdayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "all"]
Weekdays = Annotated[list[WeekdayName], Field(min_length=1, max_length=8)]
PriorityName = Literal["fill", "normal", "priority", "emergency"]
PolicyName = Literal["preempt", "queue_after", "skip_if_busy"]
ResolutionName = Literal["override", "append"]
Minutes = Annotated[int, Field(ge=1, le=1440)]
Keys = Annotated[list[Key], Field(max_length=200)]
FIRST, LAST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def every_day() -> list[WeekdayName]:
    return ["all"]


def _local_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("a local wall time, without an offset")
    return value.replace(microsecond=0)


def _local_datetime(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        raise ValueError("a local date and time, without an offset")
    if not FIRST <= value.date() <= LAST:
        raise ValueError("between 2000 and 2100")
    return value.replace(microsecond=0)


LocalTime = Annotated[dt.time, AfterValidator(_local_time)]
LocalDateTime = Annotated[dt.datetime, AfterValidator(_local_datetime)]
ScheduleDay = Annotated[dt.date, Field(ge=FIRST, le=LAST)]


# ---------------------------------------------------------------------------- sessions


class SessionIn(Input):
    key: Key
    name: Line = ""
    start: LocalTime
    cap_minutes: Minutes
    length_minutes: Minutes | None = None
    weekdays: Weekdays = Field(default_factory=every_day)


class SessionChangeIn(Input):
    name: Line | None = None
    start: LocalTime | None = None
    cap_minutes: Minutes | None = None
    length_minutes: Minutes | None = None
    weekdays: Weekdays | None = None


class SessionOut(Output):
    commune: str
    key: str
    name: str
    start: dt.time
    cap_minutes: int
    length_minutes: int | None
    weekdays: list[str]
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    programmes: list[str]


# ---------------------------------------------------------------------------- recurrence


class OnceIn(Input):
    kind: Literal["once"]
    on: ScheduleDay
    at: LocalTime | None = None


class DailyIn(Input):
    kind: Literal["daily"]
    at: LocalTime | None = None
    since: ScheduleDay | None = None


class WeeklyIn(Input):
    kind: Literal["weekly"]
    weekdays: Weekdays
    at: LocalTime | None = None
    since: ScheduleDay | None = None


class RangeIn(Input):
    kind: Literal["range"]
    first: ScheduleDay
    last: ScheduleDay
    at: LocalTime | None = None
    weekdays: Weekdays = Field(default_factory=every_day)


class EveryIn(Input):
    """Storm bulletins: every ``minutes`` from ``start`` until before ``end`` (local),
    optionally only between ``daily_from`` and ``daily_until`` each day."""

    kind: Literal["every"]
    minutes: Annotated[int, Field(ge=1, le=7 * 1440)]
    start: LocalDateTime
    end: LocalDateTime
    daily_from: LocalTime | None = None
    daily_until: LocalTime | None = None


RecurrenceIn = Annotated[OnceIn | DailyIn | WeeklyIn | RangeIn | EveryIn,
                         Field(discriminator="kind")]


# ---------------------------------------------------------------------------- programmes


class ItemIn(Input):
    """One library item, by its SHA-256 or its exact title; ``duration_ms`` only for
    content the library does not hold yet."""

    content: Sha | None = None
    title: Name | None = None
    duration_ms: Annotated[int, Field(ge=1, le=2**32 - 1)] | None = None

    @model_validator(mode="after")
    def _one_name(self) -> ItemIn:
        if (self.content is None) == (self.title is None):
            raise ValueError("give either content or title")
        return self


Items = Annotated[list[ItemIn], Field(min_length=1, max_length=50)]


class ProgrammeFields(Input):
    session: Key | None = None
    villages: Keys = Field(default_factory=list)
    clusters: Keys = Field(default_factory=list)
    priority: PriorityName = "normal"
    policy: PolicyName = "queue_after"
    repeat: Annotated[int, Field(ge=1, le=999)] = 1
    repeat_gap_s: Annotated[int, Field(ge=0, le=86_400)] = 0
    rank: Annotated[int, Field(ge=-1000, le=1000)] = 0
    max_delay_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None


class ProgrammeIn(ProgrammeFields):
    key: Key | None = None
    title: Name
    items: Items
    recurrence: RecurrenceIn
    resolve: ResolutionName | None = None


class ProgrammeChangeIn(Input):
    """Only the fields sent change (``session: null`` takes it out of its session)."""

    title: Name | None = None
    items: Items | None = None
    recurrence: RecurrenceIn | None = None
    session: Key | None = None
    villages: Keys | None = None
    clusters: Keys | None = None
    priority: PriorityName | None = None
    policy: PolicyName | None = None
    repeat: Annotated[int, Field(ge=1, le=999)] | None = None
    repeat_gap_s: Annotated[int, Field(ge=0, le=86_400)] | None = None
    rank: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    max_delay_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    resolve: ResolutionName | None = None


class ApproveIn(Input):
    resolve: ResolutionName | None = None


class ConflictOut(Output):
    """One conflict: ``kind`` is ``overlap``, ``session_cap`` or ``not_cached_in_time``;
    ``message`` says it in the reader's language; the rest are the facts behind it."""

    kind: str
    message: str
    agents: list[str] = Field(default_factory=list)
    slot_id: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    other_programme: str | None = None
    other_slot_id: str | None = None
    other_priority: str | None = None
    other_start: dt.datetime | None = None
    other_end: dt.datetime | None = None
    overridable: bool | None = None
    session: str | None = None
    session_start: dt.datetime | None = None
    cap_ms: int | None = None
    existing_ms: int | None = None
    proposed_ms: int | None = None
    excess_ms: int | None = None
    content: str | None = None
    ready_at: dt.datetime | None = None
    airings: int | None = None
    offline: bool | None = None  # not_cached_in_time: the agent is offline without it
    last_seen: dt.datetime | None = None  # ... and was last heard from then (null: never)


class NoticeOut(Output):
    """Something the resolver could not air as programmed (``code`` says what)."""

    code: str
    message: str
    programme: str
    agents: list[str]
    at: dt.datetime
    detail: dict[str, Any] = Field(default_factory=dict)


class ConflictBody(ErrorBody):
    """409 ``schedule_conflict``: nothing was stored. Send the same request again with
    ``resolve: override`` or ``resolve: append`` to accept it that way."""

    conflicts: list[ConflictOut]
    impact: list[NoticeOut]
    overridable: bool


class CheckOut(Output):
    ok: bool
    overridable: bool
    conflicts: list[ConflictOut]
    impact: list[NoticeOut]


class ItemOut(Output):
    content: str
    duration_ms: int
    title: str | None


class RevisionOut(Output):
    revision: int
    status: str
    title: str
    created_by: str
    created_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    ended_by: str | None
    ended_at: dt.datetime | None


class ProgrammeOut(Output):
    """The newest revision (a draft, if one waits) and the revision on the air.
    ``conflicts``/``impact``: what was accepted with it, on create, edit and approve."""

    commune: str
    key: str
    revision: int
    status: str
    on_air_revision: int | None
    title: str
    priority: str
    policy: str
    placement: str
    session: str | None
    recurrence: dict[str, Any]
    items: list[ItemOut]
    villages: list[str]
    clusters: list[str]
    repeat: int
    repeat_gap_s: int
    rank: int
    max_delay_minutes: int | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    ended_by: str | None
    ended_at: dt.datetime | None
    revisions: list[RevisionOut] = Field(default_factory=list)
    conflicts: list[ConflictOut] = Field(default_factory=list)
    impact: list[NoticeOut] = Field(default_factory=list)


# ---------------------------------------------------------------------------- pins


class PinIn(Input):
    content: Sha
    note: Line = ""


class PinOut(Output):
    commune: str
    content: str
    title: str | None
    note: str
    pinned_by: str
    pinned_at: dt.datetime


# ---------------------------------------------------------------------------- emergency


class EmergencyIn(Input):
    """Air a cached item now: name it by ``content`` or ``title``; choose ``villages`` or
    ``all_villages``. Needs the emergency permission, not an approval."""

    content: Sha | None = None
    title: Name | None = None
    villages: Keys = Field(default_factory=list)
    all_villages: bool = False
    repeat_every_minutes: Annotated[int, Field(ge=0, le=1440)] = 0
    volume: Annotated[int, Field(ge=0, le=100)] = 100
    attention_tone: bool = True

    @model_validator(mode="after")
    def _choices(self) -> EmergencyIn:
        if (self.content is None) == (self.title is None):
            raise ValueError("give either content or title")
        if bool(self.villages) == self.all_villages:
            raise ValueError("give villages, or all_villages")
        return self


class AcknowledgeIn(Input):
    note: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")] = ""


class EmergencyOut(Output):
    commune: str
    id: str
    active: bool
    content: str
    title: str
    villages: list[str]
    repeat_every_s: int
    volume: int
    attention_tone: bool
    started_at: dt.datetime
    started_by: str
    stopped_at: dt.datetime | None
    stopped_by: str | None
    stop_reason: str | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledgement: str
    document_version: str | None


# ---------------------------------------------------------------------------- timelines


class TimelineEntryOut(Output):
    slot_id: str
    programme: str
    title: str
    start: dt.datetime
    end: dt.datetime
    duration_ms: int
    content: str
    content_title: str | None
    priority: str
    policy: str
    fragment: bool
    session: str | None
    agents: list[str]
    villages: list[str]


class TimelineOut(Output):
    commune: str
    day: dt.date
    tz: str
    start: dt.datetime
    end: dt.datetime
    entries: list[TimelineEntryOut]
    emergencies: list[EmergencyOut]
    notices: list[NoticeOut]
    agents: list[str]


class PlannedSlotOut(Output):
    slot_id: str
    programme: str
    start: dt.datetime
    end: dt.datetime
    duration_ms: int
    content: str
    priority: str
    policy: str
    fragment: bool
    village_peers: int
    planned_at: dt.datetime
    withdrawn_at: dt.datetime | None


class RoutineOut(Output):
    programme: str
    content: str
    weekdays: list[str]
    local_start: dt.time
    duration_ms: int
    priority: str
    window_s: int


class AgentPlanOut(Output):
    """What was last published to the agent (``version`` is ``epoch.version``)."""

    agent_id: str
    commune: str
    version: str | None
    published_at: dt.datetime | None
    horizon_end: dt.datetime | None
    tz: str | None
    slots: list[PlannedSlotOut]
    withdrawn: list[PlannedSlotOut]
    routine: list[RoutineOut]
    pins: list[str]
