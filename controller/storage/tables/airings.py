"""What was targeted at each agent and whether it aired, per slot and rolled up per day.

``airing_slot`` joins the two sides of an airing that arrive separately and in any
order: the plan (``planned_slot``, final once the slot's window has ended) and the
agent's proof of play (a ``Play`` journal record, matched by ``slot_id``). Each side
only ever fills its own columns, and the outcome kept is the best one seen, so the
result does not depend on which side, or which duplicate, came first. ``airing_day``
and ``airing_month`` are its counts per agent, so indicator 1 over a year for thousands
of agents never touches the per-slot rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, Index, Integer, SmallInteger, String
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class AiringSlot(SQLModel, table=True):
    __tablename__ = "airing_slot"
    __table_args__ = (Index("ix_airing_slot_agent_start", "agent_id", "start_ns"),)

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    slot_id: str = Field(sa_column=Column(String(96), primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    start_ns: int = Field(sa_column=Column(BigInteger, nullable=False))  # UTC, as planned
    # The plan's side: None until the slot is final (its window ended); then whether it
    # was targeted (not withdrawn before its start, not a pre-emption fragment).
    targeted: bool | None = None
    programme_id: str | None = Field(default=None, sa_column=Column(String(64)))
    window_end_ns: int | None = Field(default=None, sa_column=Column(BigInteger))
    # The agent's side: the best outcome of its play records (AIRED = 0 wins).
    outcome: int | None = Field(default=None, sa_column=Column(SmallInteger))
    play_journal_id: str | None = Field(default=None, sa_column=Column(String(32)))
    play_seq: int | None = Field(default=None, sa_column=Column(BigInteger))
    first_sample_ns: int | None = Field(default=None, sa_column=Column(BigInteger))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _count() -> int:
    return Field(default=0, sa_column=Column(Integer, nullable=False))  # type: ignore[no-any-return]


class AiringDay(SQLModel, table=True):
    """Targeted and aired items per agent and local day (``zone`` names the day's zone)."""

    __tablename__ = "airing_day"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    zone: str = Field(sa_column=Column(String(64), primary_key=True))
    day: dt.date = Field(sa_column=Column(Date, primary_key=True, index=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    targeted: int = _count()
    aired: int = _count()


class AiringMonth(SQLModel, table=True):
    __tablename__ = "airing_month"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    zone: str = Field(sa_column=Column(String(64), primary_key=True))
    month: dt.date = Field(sa_column=Column(Date, primary_key=True, index=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    targeted: int = _count()
    aired: int = _count()
