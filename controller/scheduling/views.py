"""What the scheduling services return: plain, JSON-ready values for the API and CLI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from schedules import AnyNotice, ConflictReport


@dataclass(frozen=True)
class SessionView:
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
    programmes: list[str]  # programmes (approved or draft) placed in it


@dataclass(frozen=True)
class ItemView:
    content: str
    duration_ms: int
    title: str | None  # from the library, when it holds the item


@dataclass(frozen=True)
class RevisionView:
    revision: int
    status: str
    title: str
    created_by: str
    created_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    ended_by: str | None
    ended_at: dt.datetime | None


@dataclass(frozen=True)
class ProgrammeView:
    """A programme as it stands: its newest revision (a draft, if one waits), and which
    revision is on the air."""

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
    items: list[ItemView]
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
    revisions: list[RevisionView] = field(default_factory=list)


@dataclass(frozen=True)
class Programmed:
    """A stored programme and what the conflict check said about it (accepted)."""

    programme: ProgrammeView
    report: ConflictReport
    tz: str


@dataclass(frozen=True)
class Checked:
    """A dry run: the programme's conflicts and impact, nothing stored."""

    report: ConflictReport
    tz: str


@dataclass(frozen=True)
class PinView:
    commune: str
    content: str
    title: str | None
    note: str
    pinned_by: str
    pinned_at: dt.datetime


@dataclass(frozen=True)
class EmergencyView:
    commune: str
    id: str
    active: bool
    content: str
    title: str
    villages: list[str]  # empty: the whole commune
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
    document_version: str | None  # "epoch.version" of the document announcing its state


@dataclass(frozen=True)
class TimelineEntry:
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


@dataclass(frozen=True)
class TimelineView:
    commune: str
    day: dt.date
    tz: str
    start: dt.datetime
    end: dt.datetime
    entries: list[TimelineEntry]
    emergencies: list[EmergencyView]
    notices: list[AnyNotice]  # rendered by the caller (describe.notice_entry)
    agents: list[str]


@dataclass(frozen=True)
class PlannedSlotView:
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


@dataclass(frozen=True)
class RoutineView:
    programme: str
    content: str
    weekdays: list[str]
    local_start: dt.time
    duration_ms: int
    priority: str
    window_s: int


@dataclass(frozen=True)
class AgentPlanView:
    agent_id: str
    commune: str
    version: str | None  # "epoch.version"; None: nothing published yet
    published_at: dt.datetime | None
    horizon_end: dt.datetime | None
    tz: str | None
    slots: list[PlannedSlotView]
    withdrawn: list[PlannedSlotView]
    routine: list[RoutineView]
    pins: list[str]
