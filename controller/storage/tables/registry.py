"""Administrative units, stations, clusters, agents and enrolment codes.

Units form an effective-dated tree (province -> [district] -> commune -> village): the
stable identity lives in ``admin_unit``, and every name or parent it has had lives in
``admin_unit_version`` with its validity dates, so the 2025 mergers and renames (and the
abolition of districts) never break a report about an earlier period.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, enum_type, utcnow


class UnitLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"
    VILLAGE = "village"


class StationKind(StrEnum):
    IP = "ip"
    WIRED = "wired"
    FM = "fm"
    HYBRID = "hybrid"


class ClusterKind(StrEnum):
    IP = "ip"
    WIRED = "wired"
    FM = "fm"


class AgentStatus(StrEnum):
    PENDING = "pending"  # registered, code issued, not claimed yet
    ACTIVE = "active"
    REVOKED = "revoked"


class AdminUnit(SQLModel, table=True):
    __tablename__ = "admin_unit"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)  # used in topics and the API
    level: UnitLevel = Field(sa_type=enum_type(UnitLevel))
    code: str | None = Field(default=None, max_length=32)  # the official GSO unit code
    merged_into_id: int | None = Field(default=None, foreign_key="admin_unit.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AdminUnitVersion(SQLModel, table=True):
    __tablename__ = "admin_unit_version"
    __table_args__ = (UniqueConstraint("unit_id", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="admin_unit.id", index=True)
    name: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="admin_unit.id", index=True)
    valid_from: dt.date
    valid_to: dt.date | None = None  # exclusive; None = still valid


class Station(SQLModel, table=True):
    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("commune_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    kind: StationKind = Field(sa_type=enum_type(StationKind))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Cluster(SQLModel, table=True):
    """A receiver/amplifier cluster (cụm loa); an IP cluster has an agent."""

    __tablename__ = "cluster"
    __table_args__ = (UniqueConstraint("commune_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    village_id: int = Field(foreign_key="admin_unit.id", index=True)
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    kind: ClusterKind = Field(sa_type=enum_type(ClusterKind))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Agent(SQLModel, table=True):
    """A village box: identity, credentials' digests and asset data. Live state is kept
    by the fleet link, not here."""

    __tablename__ = "agent"

    id: str = Field(primary_key=True, max_length=64)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", unique=True)
    status: AgentStatus = Field(default=AgentStatus.PENDING, sa_type=enum_type(AgentStatus))
    curve_public_key: bytes | None = Field(default=None,
                                           sa_column=Column(LargeBinary(32), unique=True))
    broker_password_hash: str | None = Field(default=None, max_length=256)
    serial: str | None = Field(default=None, max_length=64)
    sim_iccid: str | None = Field(default=None, max_length=32)
    imei: str | None = Field(default=None, max_length=32)
    install_date: dt.date | None = None
    latitude: float | None = None
    longitude: float | None = None
    notes: str | None = Field(default=None, max_length=1000)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    enrolled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class EnrolmentCode(SQLModel, table=True):
    """A one-time code, stored as a digest only."""

    __tablename__ = "enrolment_code"

    id: int | None = Field(default=None, primary_key=True)
    code_digest: str = Field(max_length=64, unique=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    agent_id: str = Field(foreign_key="agent.id", index=True, max_length=64)
    issued_by: int | None = Field(default=None, foreign_key="app_user.id")
    issued_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_attempts: int = 0
