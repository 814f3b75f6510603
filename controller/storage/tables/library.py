"""The commune's audio library: metadata of content-addressed items.

The audio itself lives in the content store, named by the SHA-256 of its processed Opus
bytes; a row here says what it is, who imported it and how loud it is. The same audio
imported twice is one row (and one file).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Float, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class LibraryItem(SQLModel, table=True):
    __tablename__ = "library_item"
    __table_args__ = (UniqueConstraint("commune_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    sha256: str = Field(sa_column=Column(String(64), nullable=False, index=True))  # hex
    title: str = Field(max_length=200)
    source_name: str = Field(default="", max_length=260)
    source_format: str = Field(default="", max_length=32)
    imported_by: int | None = Field(default=None, foreign_key="app_user.id")
    imported_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    duration_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    bitrate_bps: int
    integrated_lufs: float = Field(sa_column=Column(Float, nullable=False))
    speech_lufs: float = Field(sa_column=Column(Float, nullable=False))
    true_peak_dbtp: float = Field(sa_column=Column(Float, nullable=False))
    chime: bool = False
