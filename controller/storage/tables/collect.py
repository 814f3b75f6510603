"""The regional collector's view of each commune that forwards to it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, String
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime


class CollectedCommune(SQLModel, table=True):
    """One row per forwarding commune: what arrived last, and how much in total."""

    __tablename__ = "collected_commune"

    commune: str = Field(sa_column=Column(String(64), primary_key=True))
    last_batch: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_batch_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    batches: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    records: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    registry_digest: str = Field(default="", sa_column=Column(String(64), nullable=False))
