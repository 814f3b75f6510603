"""The append-only audit log of every operator action.

Append-only is enforced by the database itself (triggers created by the migration), not
just by the absence of an update path in the code.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_commune_at", "commune_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    username: str = Field(max_length=64)  # kept as written, even if the user is renamed
    commune_id: int | None = Field(default=None, foreign_key="admin_unit.id")
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=200)
    detail: str = Field(default="{}", sa_type=Text)  # JSON
    source: str = Field(default="api", max_length=16)
