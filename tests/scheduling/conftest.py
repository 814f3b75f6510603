"""A commune to programme: the station kit (real database, both backends), with three
active agents in two villages, library items, and users in every scheduling role.

    xa-a: thon-a1 -> c-thon-a1 (ag-1), c-a1b (ag-2);  thon-a2 -> c-a2 (ag-3)
    users: op-a (operator), appr-a (approver), em-a (operator + emergency permission),
           viewer-a (viewer), op-b (operator of xa-b)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from controller.registry.stations import find_commune
from controller.security.authz import Principal
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.registry import Agent, AgentStatus, ClusterKind
from controller.storage.tables.security import Role
from protocols.messages import DocVersion
from tests.station.kit import SYSTEM, Kit, make_kit
from tests.station.speed import cheap_password_hashing  # noqa: F401

NS = 10**9
MORNING = "a" * 64  # 5 minutes
STORM = "b" * 64  # 2 minutes
MUSIC = "c" * 64  # 10 minutes
NOT_IN_LIBRARY = "d" * 64
ITEMS = {MORNING: ("Bản tin sáng", 300_000), STORM: ("Tin bão số 3", 120_000),
         MUSIC: ("Nhạc chờ", 600_000)}
TOMORROW = dt.date(2026, 1, 2)  # the kit's clock: 2026-01-01 10:00 in Hanoi


@dataclass
class Commune:
    kit: Kit
    commune_id: int

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.kit.services.scheduling

    def who(self, username: str) -> Principal:
        return self.kit.who(username)

    def advance(self, seconds: float) -> None:
        self.kit.clock.advance(int(seconds * NS))

    @property
    def now_ns(self) -> int:
        return self.kit.clock.wall_ns()

    def set_agent_status(self, agent_id: str, status: AgentStatus) -> None:
        with self.kit.db.transaction() as session:
            agent = session.get(Agent, agent_id)
            assert agent is not None
            agent.status = status
            session.add(agent)


def add_library(kit: Kit, commune_id: int) -> None:
    with kit.db.transaction() as session:
        for sha, (title, duration) in ITEMS.items():
            session.add(LibraryItem(commune_id=commune_id, sha256=sha, title=title,
                                    duration_ms=duration, size_bytes=1000, bitrate_bps=32_000,
                                    integrated_lufs=-16.0, speech_lufs=-16.0,
                                    true_peak_dbtp=-1.0))


def build_commune(kit: Kit) -> Commune:
    s = kit.services
    s.stations.create_cluster(SYSTEM, "xa-a", "c-a1b", "Cụm 1b", ClusterKind.IP, "st-a",
                              "thon-a1")
    s.stations.create_cluster(SYSTEM, "xa-a", "c-a2", "Cụm 2", ClusterKind.IP, "st-a",
                              "thon-a2")
    for agent_id, cluster in (("ag-1", "c-thon-a1"), ("ag-2", "c-a1b"), ("ag-3", "c-a2")):
        s.agents.create(SYSTEM, "xa-a", agent_id, cluster)
    with kit.db.transaction() as session:
        for agent in session.exec(select(Agent)):
            agent.status = AgentStatus.ACTIVE
            session.add(agent)
        unit = find_commune(session, "xa-a")
        assert unit.id is not None
        commune_id = unit.id
    add_library(kit, commune_id)
    for username, role, emergency in (("op-a", Role.OPERATOR, False),
                                      ("appr-a", Role.APPROVER, False),
                                      ("em-a", Role.OPERATOR, True)):
        s.users.create(SYSTEM, username, unix_user=f"unix-{username}", password="x" * 12)
        s.users.grant(SYSTEM, username, "xa-a", role, emergency=emergency)
    kit.events.clear()
    return Commune(kit, commune_id)


@pytest.fixture
def commune(db_url: str, tmp_path: Path) -> Iterator[Commune]:
    """On SQLite and PostgreSQL."""
    kit = make_kit(db_url, tmp_path)
    yield build_commune(kit)
    kit.close()


@pytest.fixture
def sqlite_commune(tmp_path: Path) -> Iterator[Commune]:
    """SQLite only: for API and CLI tests, whose storage is covered on both backends."""
    kit = make_kit(f"sqlite:///{tmp_path / 'schedule.db'}", tmp_path)
    yield build_commune(kit)
    kit.close()


def mark(epoch: int, version: int) -> DocVersion:
    return DocVersion(epoch, version)
