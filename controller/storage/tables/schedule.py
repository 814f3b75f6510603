"""What a commune airs: broadcast sessions, programmes (one row per revision), pinned
content, emergencies, and the plan document last published to each agent.

Programmes are stored as revisions so that editing an approved programme never takes it
off the air: the edit is a new *draft* revision while the approved one keeps airing,
and approving the draft supersedes the old revision in one transaction. The full
programme (items, recurrence, targets, policy) is the ``schedules.Programme`` struct as
JSON (``spec``); what people and reports filter on is in columns of its own.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, LargeBinary, SmallInteger, String, Text, Time
from sqlalchemy import UniqueConstraint as Unique
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, enum_type, utcnow


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"  # waiting for an approver; never reaches an agent
    APPROVED = "approved"  # on the air (at most one revision per programme)
    SUPERSEDED = "superseded"  # an approved revision replaced by a newer approved one
    WITHDRAWN = "withdrawn"  # taken off the air (or a draft given up with it)


class BroadcastSession(SQLModel, table=True):
    """A session (khung giờ phát): a daily local window with an airtime cap."""

    __tablename__ = "broadcast_session"
    __table_args__ = (Unique("commune_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    key: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    start: dt.time = Field(sa_column=Column(Time, nullable=False))  # local wall time
    cap_minutes: int = Field(sa_column=Column(SmallInteger, nullable=False))
    length_minutes: int | None = Field(default=None,
                                       sa_column=Column(SmallInteger, nullable=True))
    weekdays: int = Field(sa_column=Column(SmallInteger, nullable=False))  # bit 0 = Monday
    created_by: str = Field(default="", max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProgrammeRevision(SQLModel, table=True):
    """One revision of a programme; ``key`` is the programme id agents see in slot ids."""

    __tablename__ = "programme_revision"
    __table_args__ = (Unique("commune_id", "key", "revision"),
                      Index("ix_programme_revision_commune_status", "commune_id", "status"))

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    key: str = Field(max_length=64)
    revision: int
    title: str = Field(max_length=200)
    status: ProgrammeStatus = Field(sa_type=enum_type(ProgrammeStatus))
    priority: int = Field(sa_column=Column(SmallInteger, nullable=False))
    session_key: str | None = Field(default=None, max_length=64)
    spec: str = Field(sa_column=Column(Text, nullable=False))  # schedules.Programme, JSON
    created_by: str = Field(max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_by: str | None = Field(default=None, max_length=64)  # withdrawn or superseded
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContentPin(SQLModel, table=True):
    """Content every agent of the commune keeps cached (e.g. a standard storm warning,
    so an emergency can air it from cache)."""

    __tablename__ = "content_pin"

    commune_id: int = Field(foreign_key="admin_unit.id", primary_key=True)
    content: str = Field(sa_column=Column(String(64), primary_key=True))  # sha256 hex
    note: str = Field(default="", max_length=200)
    pinned_by: str = Field(max_length=64)
    pinned_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EmergencyBroadcast(SQLModel, table=True):
    """An emergency aired without approval, until stopped; acknowledged afterwards.

    ``start_*``/``stop_*`` hold the document version that announced each state, so a
    controller that stopped between the commit and the publication announces it at its
    next start.
    """

    __tablename__ = "emergency_broadcast"
    __table_args__ = (Index("ix_emergency_broadcast_commune_started", "commune_id",
                            "started_ns"),)

    id: str = Field(primary_key=True, max_length=64)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    content: str = Field(sa_column=Column(String(64), nullable=False))  # sha256 hex
    title: str = Field(default="", max_length=200)
    villages: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON
    repeat_every_s: int = Field(sa_column=Column(BigInteger, nullable=False))
    volume: int = Field(sa_column=Column(SmallInteger, nullable=False))
    attention_tone: bool = True
    started_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    started_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_by: str = Field(max_length=64)
    stopped_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    stopped_by: str | None = Field(default=None, max_length=64)
    stop_reason: str | None = Field(default=None, max_length=16)  # stopped | superseded
    acknowledged_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledgement: str = Field(default="", max_length=500)
    start_epoch: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    start_version: int | None = Field(default=None,
                                      sa_column=Column(BigInteger, nullable=True))
    stop_epoch: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    stop_version: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class PublishedPlan(SQLModel, table=True):
    """The plan document last published to an agent, exactly as signed (msgpack), so
    re-planning compares content (never versions) and survives a restart."""

    __tablename__ = "published_plan"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    plan_epoch: int = Field(sa_column=Column(BigInteger, nullable=False))
    plan_version: int = Field(sa_column=Column(BigInteger, nullable=False))
    published_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    horizon_end_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    slot_count: int
    document: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RetainedDocument(SQLModel, table=True):
    """The last signed document published on each retained topic of scheduling (plans,
    the emergency), byte for byte, so the station can put it back on the broker after a
    crash or a broker that lost its store, without taking a new version."""

    __tablename__ = "retained_document"

    topic: str = Field(sa_column=Column(String(200), primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    published_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
