"""Operators' attestations of legacy clusters, and the alerts raised about the fleet.

An *attestation* is the evidence indicator 1 accepts for a wired/FM cluster, which has
no agent to report for it: who said it was operational, for which days, and when they
said it. It names a cluster, or a whole legacy station (then every wired/FM cluster of
it). ``uid`` identifies it across systems, so the regional collector stores each one
once however often a commune forwards it. A withdrawn attestation is kept (who, when).

An *alert* is kept from raise to clear, so a restarted station does not raise it again
and reports can list what was raised in their period.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow


class Attestation(SQLModel, table=True):
    __tablename__ = "attestation"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", index=True)
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    period_start: dt.date
    period_end: dt.date  # inclusive
    note: str = Field(default="", max_length=500)
    attested_by: str = Field(max_length=64)
    attested_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_by: str | None = Field(default=None, max_length=64)
    withdrawn_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_subject", "commune_id", "kind", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    subject: str = Field(sa_column=Column(String(128), nullable=False))
    raised_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cleared_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
