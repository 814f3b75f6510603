"""Users, their roles per administrative unit, and login tokens."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, enum_type, utcnow


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything in scope (district/province reviewers)
    OPERATOR = "operator"  # runs the station: library, programmes (drafts), devices
    APPROVER = "approver"  # approves programmes, acknowledges emergencies
    TECHNICIAN = "technician"  # enrols and revokes agents, device commands
    ADMIN = "admin"  # users, roles and settings in scope


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(default="", max_length=200)
    password_hash: str | None = Field(default=None, max_length=256)
    unix_user: str | None = Field(default=None, max_length=64, unique=True)  # peer credentials
    language: str | None = Field(default=None, max_length=8)
    disabled: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RoleGrant(SQLModel, table=True):
    """A role on a unit, covering every unit below it (a province grant covers its
    communes). ``emergency`` lets the holder air an emergency without approval."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    unit_id: int = Field(foreign_key="admin_unit.id", index=True)
    role: Role = Field(sa_type=enum_type(Role))
    emergency: bool = False
    granted_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_digest: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked: bool = False
