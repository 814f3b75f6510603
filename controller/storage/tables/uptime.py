"""Daily availability rollups, maintained as journal records arrive.

``uptime_boot_day`` holds what one boot of one journal contributes to one local day; it
is recomputed whole whenever anything of that boot arrives (a late extension, an anchor
that finally places it), so the result never depends on delivery order. ``uptime_day``
is the per-agent sum over boots, what reports read: a year for thousands of agents stays
at one small row per agent and day. Both are keyed by the service window they were
computed for, so a changed definition is never mixed with an old one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, Index, String, text
from sqlmodel import Field, SQLModel

from ..types import UTCDateTime, utcnow
from .fleet import JournalRecord


def _ms() -> int:
    return Field(default=0, sa_column=Column(BigInteger, nullable=False))  # type: ignore[no-any-return]


class UptimeBootDay(SQLModel, table=True):
    __tablename__ = "uptime_boot_day"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    journal_id: str = Field(sa_column=Column(String(32), primary_key=True))
    boot: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    window_key: str = Field(sa_column=Column(String(64), primary_key=True))
    day: dt.date = Field(sa_column=Column(Date, primary_key=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    up_ms_e0: int = _ms()  # availability by evidence level (DESIGN §4), exact level
    up_ms_e1: int = _ms()
    up_ms_e2: int = _ms()
    up_ms_e3: int = _ms()
    unanchored_ms: int = _ms()


class UptimeDay(SQLModel, table=True):
    __tablename__ = "uptime_day"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    window_key: str = Field(sa_column=Column(String(64), primary_key=True))
    day: dt.date = Field(sa_column=Column(Date, primary_key=True, index=True))
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    up_ms_e0: int = _ms()
    up_ms_e1: int = _ms()
    up_ms_e2: int = _ms()
    up_ms_e3: int = _ms()
    unanchored_ms: int = _ms()
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UptimeMonth(SQLModel, table=True):
    """``uptime_day`` summed per calendar month, re-summed with the days it covers.

    A year report over 10,000 agents then reads 120,000 rows instead of 3.65 million
    (``bench/bench_reports.py``); a period that starts or ends inside a month reads the
    months it covers whole from here and its edges from ``uptime_day``.
    """

    __tablename__ = "uptime_month"

    agent_id: str = Field(sa_column=Column(String(64), primary_key=True))
    window_key: str = Field(sa_column=Column(String(64), primary_key=True))
    month: dt.date = Field(sa_column=Column(Date, primary_key=True, index=True))  # 1st day
    commune_id: int = Field(foreign_key="admin_unit.id", index=True)
    up_ms_e0: int = _ms()
    up_ms_e1: int = _ms()
    up_ms_e2: int = _ms()
    up_ms_e3: int = _ms()
    unanchored_ms: int = _ms()
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UptimeWindow(SQLModel, table=True):
    """A service window whose rollups are complete and kept current.

    A definition's window is registered once its rollups have been built from every
    stored span (``controller.uptime.windows``); from then on every ingest refreshes
    them for it too, beside the window the station or collector is configured with. A
    report asking for a window not listed here has its rollups built first, so a second
    definition, or a changed one, never reads rollups that were never made.
    """

    __tablename__ = "uptime_window"

    window_key: str = Field(sa_column=Column(String(64), primary_key=True))
    start_local: str = Field(sa_column=Column(String(8), nullable=False))  # "05:00"
    end_local: str = Field(sa_column=Column(String(8), nullable=False))
    tz: str = Field(sa_column=Column(String(64), nullable=False))
    definition: str = Field(sa_column=Column(String(64), nullable=False))  # first asker
    built_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# The anchors of one boot, found without reading the whole journal: the rollups re-read
# them every time a boot is touched, and a station's journals grow all year. Partial
# (anchors are a few rows per boot), so ingest of every other record does not pay for
# it; queries must spell ``kind = 2`` literally for the planner to use it.
ANCHORS_INDEX = Index(
    "ix_journal_record_anchors", JournalRecord.__table__.c.agent_id,  # type: ignore[attr-defined]
    JournalRecord.__table__.c.journal_id, JournalRecord.__table__.c.boot,  # type: ignore[attr-defined]
    postgresql_where=text("kind = 2"), sqlite_where=text("kind = 2"))
