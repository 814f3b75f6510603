"""What the fleet reports: journal records exactly once, declared gaps, availability
spans derived from them, and each agent's live presence.

Journal rows are keyed by their durable identity ``(agent_id, journal_id, seq)``, so a
record delivered twice is stored once and a reflashed agent (new ``journal_id``) loses
nothing. Time fields are kept raw (boot, monotonic, wall, quality): placing spans in
wall time is the reports' job, using the boot's anchors.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Index, LargeBinary, SmallInteger, String, Text
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class JournalRecord(SQLModel, table=True):
    __tablename__ = "journal_record"
    __table_args__ = (Index("ix_journal_record_agent_wall", "agent_id", "wall_ns"),)

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    journal_id: str = Field(sa_column=Column(String(32), primary_key=True))  # hex
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    kind: int = Field(sa_column=Column(SmallInteger, nullable=False))  # the record's tag
    boot: int = Field(sa_column=Column(BigInteger, nullable=False))
    mono_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    wall_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    quality: int = Field(sa_column=Column(SmallInteger, nullable=False))
    interval: int | None = Field(default=None, sa_column=Column(BigInteger))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # msgpack record
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class JournalGap(SQLModel, table=True):
    """Sequence numbers an agent declared deliberately dropped (disk full)."""

    __tablename__ = "journal_gap"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    journal_id: str = Field(sa_column=Column(String(32), primary_key=True))
    first_seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)


class AvailabilitySpan(SQLModel, table=True):
    """One availability interval as known so far: opened, extended, maybe closed.

    Kept up to date by ingest (end only ever grows), so reports need not replay the
    journal; an extension arriving late or twice changes nothing it should not.
    """

    __tablename__ = "availability_span"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    journal_id: str = Field(sa_column=Column(String(32), primary_key=True))
    interval: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    boot: int = Field(sa_column=Column(BigInteger, nullable=False))
    start_mono_ns: int | None = Field(default=None, sa_column=Column(BigInteger))
    start_wall_ns: int | None = Field(default=None, sa_column=Column(BigInteger))
    end_mono_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_wall_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    evidence: int = Field(sa_column=Column(SmallInteger, nullable=False))
    closed: bool = False


class AgentPresence(SQLModel, table=True):
    """The live side of an agent, as last heard: birth, death, heartbeat, telemetry."""

    __tablename__ = "agent_presence"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    online: bool = False
    session: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    software: str = Field(default="", max_length=256)
    birth_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    death_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_seen_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat: str = Field(default="{}", sa_type=Text)  # JSON
    telemetry: str = Field(default="{}", sa_type=Text)  # JSON
