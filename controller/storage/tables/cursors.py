"""How far a consumer has read the journal and the other streams, durably.

Journal records have no global order (agents deliver late, twice, out of order), but
within one journal they are numbered. ``journal_cursor`` keeps, per consumer (``name``:
the collector forwarder, the airing indexer) and journal, the highest sequence number
it has consumed and the *holes* below it: numbers that were missing when it moved past
them, to be picked up when they arrive. ``cursor_state`` keeps a consumer's other
positions (the planned-slot keyset, the digest of the last registry snapshot sent).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, String, Text
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class JournalCursor(SQLModel, table=True):
    __tablename__ = "journal_cursor"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    journal_id: str = Field(sa_column=Column(String(32), primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    through: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    holes: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # [[a, b], ...]
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CursorState(SQLModel, table=True):
    __tablename__ = "cursor_state"

    commune_id: int = Field(foreign_key="admin_unit.id", primary_key=True)
    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
