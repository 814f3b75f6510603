"""What the controller told each agent to air: one row per planned slot.

Written by the planner each time it publishes an agent's plan document; read by the
uptime reports to know what was *targeted* at an agent (aired >= 90 % of the items
targeted at it, DESIGN §4). A slot dropped by a later plan before its start time is
marked ``withdrawn_at`` rather than deleted, so a report can always say what was
planned when.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Index, SmallInteger, String
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class PlannedSlot(SQLModel, table=True):
    __tablename__ = "planned_slot"
    __table_args__ = (Index("ix_planned_slot_agent_start", "agent_id", "start_ns"),)

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    slot_id: str = Field(sa_column=Column(String(96), primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    programme_id: str = Field(sa_column=Column(String(64), nullable=False))
    start_ns: int = Field(sa_column=Column(BigInteger, nullable=False))  # UTC
    duration_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    window_end_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    content: str = Field(sa_column=Column(String(64), nullable=False))  # sha256 hex
    priority: int = Field(sa_column=Column(SmallInteger, nullable=False))
    policy: int = Field(sa_column=Column(SmallInteger, nullable=False))
    fragment: bool = False  # the interrupted part of a pre-empted slot
    plan_epoch: int = Field(sa_column=Column(BigInteger, nullable=False))
    plan_version: int = Field(sa_column=Column(BigInteger, nullable=False))
    planned_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
