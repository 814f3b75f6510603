"""The controller's signing keys, its signing epoch, and its monotonic counters.

The Ed25519 seed lives in the database on purpose: a restored backup must be able to
sign for the agents that trust it (they accept nothing else). The database file is
therefore a secret (0600) and so are its backups.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, enum_type, utcnow


class KeyStatus(StrEnum):
    ACTIVE = "active"  # signs now
    TRUSTED = "trusted"  # still in the trust bundle (rotation in progress)
    REVOKED = "revoked"


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    key_id: str = Field(max_length=16, unique=True)
    public_key: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    seed: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    status: KeyStatus = Field(default=KeyStatus.ACTIVE, sa_type=enum_type(KeyStatus))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # When the status last changed (None: never since creation). The trust bundle's
    # ``issued_ns`` is derived from it, so one bundle version always has one content.
    changed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class SigningEpoch(SQLModel, table=True):
    """Bumped by every restore: agents order (epoch, n) lexicographically."""

    __tablename__ = "signing_epoch"

    commune_id: int = Field(foreign_key="admin_unit.id", primary_key=True)
    epoch: int = 1
    bumped_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Counter(SQLModel, table=True):
    """Monotonic counters: command counters per agent, document versions per topic."""

    __tablename__ = "counter"

    commune_id: int = Field(foreign_key="admin_unit.id", primary_key=True)
    name: str = Field(max_length=200, primary_key=True)
    value: int = 0


class CurveKey(SQLModel, table=True):
    """The controller's CURVE key pair for the ZeroMQ data plane and enrolment.

    In the database, like the signing seed, and for the same reason: every agent stores
    the public half at enrolment, so a controller restored from a backup on a new
    machine must come back with the same pair or no agent could reach it.
    """

    __tablename__ = "curve_key"

    commune_id: int = Field(foreign_key="admin_unit.id", primary_key=True)
    public_key: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    secret_key: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
