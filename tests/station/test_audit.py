"""The audit log: every action with who, what, target, when and commune; written with
the action; filtered to the reader's scope; paginated; append-only in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from controller.audit import AuditFilter
from controller.events import AuditRecorded
from controller.storage.tables.registry import StationKind

from .kit import Kit


def test_entry_records_who_what_target_when_and_commune(kit: Kit) -> None:
    kit.services.stations.create_station(kit.who("tech-a"), "xa-a", "st-x", "X",
                                         StationKind.WIRED)
    entry = kit.services.audit.query(kit.who("admin"), AuditFilter(action="station.create",
                                                                  target="st-x")).entries[0]
    assert (entry.username, entry.commune, entry.target) == ("tech-a", "xa-a", "st-x")
    assert entry.detail == {"kind": "wired", "name": "X"}
    assert entry.at == kit.time.now()
    events = [e for e in kit.events if isinstance(e, AuditRecorded)]
    assert events and events[-1].entry_id == entry.id and events[-1].commune == "xa-a"


def test_readers_see_only_their_communes_entries(kit: Kit) -> None:
    kit.services.stations.create_station(kit.who("tech-a"), "xa-a", "st-x", "X",
                                         StationKind.FM)
    seen_by_b = kit.services.audit.query(kit.who("op-b"), AuditFilter(limit=500)).entries
    assert seen_by_b and all(e.commune in ("xa-b", "thon-b1", "c-thon-b1") for e in seen_by_b)
    assert not any(e.target == "st-x" for e in seen_by_b)
    assert not any(e.commune is None for e in seen_by_b)  # user accounts: top admins only
    assert any(e.commune is None for e in kit.services.audit.query(
        kit.who("admin"), AuditFilter(limit=500)).entries)


def test_pagination_walks_every_entry_once(kit: Kit) -> None:
    admin = kit.who("admin")
    for n in range(7):
        kit.services.stations.create_station(admin, "xa-a", f"p-{n}", "P", StationKind.FM)
    seen: list[int] = []
    before = None
    while True:
        page = kit.services.audit.query(admin, AuditFilter(action="station.", limit=3,
                                                           before_id=before))
        seen += [e.id for e in page.entries]
        if page.next_before_id is None:
            break
        before = page.next_before_id
    assert len(seen) == len(set(seen)) == 9  # 2 seeded stations + 7
    assert seen == sorted(seen, reverse=True)


def test_log_cannot_be_altered(kit: Kit) -> None:
    with pytest.raises(DatabaseError, match="append-only"), kit.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
