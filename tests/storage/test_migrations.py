"""Migrations on both backends: from empty, from the previous revision, and in step with
the tables the code declares."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, Table, inspect, select, text
from sqlalchemy.exc import DatabaseError
from sqlmodel import SQLModel
from sqlmodel import select as orm_select

import controller.storage.tables  # noqa: F401
from controller.storage.database import Database
from controller.storage.migrate import (
    alembic_config,
    applied_revisions,
    downgrade,
    is_up_to_date,
    upgrade,
)
from controller.storage.tables.audit import AuditEntry
from controller.storage.tables.signing import KeyStatus, SigningKey


def test_upgrade_from_empty_reaches_every_head(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    assert is_up_to_date(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= tables
    db.dispose()


def test_schema_matches_the_declared_tables(db_url: str) -> None:
    """No drift between the migrations and the SQLModel tables."""
    db = Database(db_url)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    db.dispose()


def every_revision_in_order() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("revision", every_revision_in_order())
def test_upgrade_from_the_previous_revision(db_url: str, revision: str) -> None:
    """Each revision applies on top of what it stands on, goes back down, and up again."""
    db = Database(db_url)
    script = ScriptDirectory.from_config(alembic_config())
    rev = script.get_revision(revision)
    assert rev is not None
    below = [*as_tuple(rev.down_revision), *as_tuple(rev.dependencies)]
    for target in below:
        upgrade(db.engine, target)
    assert revision not in applied_revisions(db.engine)
    upgrade(db.engine, revision)
    assert revision in applied_revisions(db.engine)
    if rev.down_revision:
        downgrade(db.engine, as_tuple(rev.down_revision)[0])
    else:  # the first revision of its branch
        label = next(iter(rev.branch_labels), None)
        downgrade(db.engine, f"{label}@base" if label else "base")
    assert revision not in applied_revisions(db.engine)
    upgrade(db.engine, "heads")
    assert is_up_to_date(db.engine)
    db.dispose()


def as_tuple(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def test_audit_log_is_append_only_in_the_database(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    with db.transaction() as session:
        session.add(AuditEntry(username="an", action="unit.create", at=dt.datetime.now(dt.UTC)))
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_log")).scalar_one() == "unit.create"
    db.dispose()


T0 = dt.datetime(2025, 12, 31, 23, 59, 58, 123000, tzinfo=dt.UTC)
DAY = dt.date(2025, 12, 31)
WINDOW = "0430-2130@Asia/Ho_Chi_Minh"
# Rows as each table was first created (a column added later is left to its migration),
# parents before children. Seeded into whichever tables exist at the revision under test.
SEEDS: dict[str, list[dict[str, Any]]] = {
    "admin_unit": [
        {"id": 1, "key": "tinh-m", "level": "province", "code": "01", "merged_into_id": None,
         "created_at": T0},
        {"id": 2, "key": "xa-m", "level": "commune", "code": None, "merged_into_id": None,
         "created_at": T0},
        {"id": 3, "key": "thon-m", "level": "village", "code": None, "merged_into_id": None,
         "created_at": T0}],
    "admin_unit_version": [
        {"id": 1, "unit_id": 2, "name": "Xã Mới", "parent_id": 1, "valid_from": DAY,
         "valid_to": None},
        {"id": 2, "unit_id": 3, "name": "Thôn Mới", "parent_id": 2, "valid_from": DAY,
         "valid_to": None}],
    "app_user": [{"id": 1, "username": "op-m", "display_name": "Cán bộ", "password_hash": None,
                  "unix_user": "op-m", "language": "vi", "disabled": False, "created_at": T0}],
    "role_grant": [{"id": 1, "user_id": 1, "unit_id": 2, "role": "operator", "emergency": True,
                    "granted_at": T0}],
    "audit_log": [{"id": 1, "at": T0, "user_id": 1, "username": "op-m", "commune_id": 2,
                   "action": "unit.create", "target": "xa-m", "detail": '{"n": 1}',
                   "source": "cli"}],
    "signing_epoch": [{"commune_id": 2, "epoch": 7, "bumped_at": T0}],
    "signing_key": [{"id": 1, "commune_id": 2, "key_id": "k-mig", "public_key": bytes(32),
                     "seed": bytes(range(32)), "status": "active", "created_at": T0}],
    "counter": [{"commune_id": 2, "name": "doc/plan", "value": 41}],
    "station": [{"id": 1, "commune_id": 2, "key": "st-m", "name": "Đài", "kind": "ip",
                 "created_at": T0}],
    "cluster": [{"id": 1, "commune_id": 2, "station_id": 1, "village_id": 3, "key": "c-m",
                 "name": "Cụm", "kind": "ip", "created_at": T0}],
    "agent": [{"id": "ag-m", "commune_id": 2, "cluster_id": 1, "status": "active",
               "curve_public_key": bytes(range(1, 33)), "serial": "SN-1", "latitude": 21.03,
               "longitude": 105.85, "install_date": DAY, "created_at": T0}],
    "curve_key": [{"commune_id": 2, "public_key": bytes(range(2, 34)),
                   "secret_key": bytes(range(3, 35)), "created_at": T0}],
    "journal_record": [{"agent_id": "ag-m", "journal_id": "j1", "seq": 5, "commune_id": 2,
                        "kind": 1, "boot": 2, "mono_ns": 10**9, "wall_ns": 1767225598 * 10**9,
                        "quality": 2, "interval": None, "body": b"\x01\x02",
                        "received_at": T0}],
    "uptime_day": [{"agent_id": "ag-m", "window_key": WINDOW, "day": DAY, "commune_id": 2,
                    "up_ms_e0": 1, "up_ms_e1": 2, "up_ms_e2": 3, "up_ms_e3": 4,
                    "unanchored_ms": 5, "updated_at": T0}],
    "uptime_boot_day": [{"agent_id": "ag-m", "journal_id": "j1", "boot": 2,
                         "window_key": WINDOW, "day": DAY, "commune_id": 2, "up_ms_e0": 1,
                         "up_ms_e1": 2, "up_ms_e2": 3, "up_ms_e3": 4, "unanchored_ms": 5}],
    "planned_slot": [{"agent_id": "ag-m", "slot_id": "s-1", "commune_id": 2,
                      "programme_id": "p-1", "start_ns": 1767225600 * 10**9,
                      "duration_ms": 60_000, "window_end_ns": 1767225900 * 10**9,
                      "content": "ab" * 32, "priority": 2, "policy": 1, "fragment": False,
                      "plan_epoch": 7, "plan_version": 3, "planned_at": T0,
                      "withdrawn_at": None}],
    "library_item": [{"id": 1, "commune_id": 2, "sha256": "cd" * 32, "title": "Bản tin",
                      "source_name": "tin.mp3", "source_format": "mp3", "imported_by": 1,
                      "imported_at": T0, "duration_ms": 90_000, "size_bytes": 540_000,
                      "bitrate_bps": 48_000, "integrated_lufs": -16.0, "speech_lufs": -16.5,
                      "true_peak_dbtp": -1.5, "chime": True}],
}


def branch_tips() -> list[tuple[str, tuple[str, ...]]]:
    """Each branch with what its newest revision stands on: the branch's previous
    revision, or (for a one-revision branch) the revisions it depends on."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    tips = []
    for rev in revisions:
        label = next(iter(sorted(rev.branch_labels)), rev.revision)
        below = {r.down_revision for r in revisions if label in r.branch_labels}
        if rev.revision not in below:
            tips.append((label, as_tuple(rev.down_revision) or as_tuple(rev.dependencies)))
    return sorted(tips)


def normalised(value: Any) -> Any:
    """What a value reads back as on either backend (SQLite keeps naive UTC times)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def seed(conn: Connection) -> list[str]:
    present = set(inspect(conn).get_table_names())
    seeded = []
    for name, rows in SEEDS.items():
        if name in present:
            table = Table(name, MetaData(), autoload_with=conn)
            conn.execute(table.insert(), [{k: normalised(v) if conn.dialect.name == "sqlite"
                                           else v for k, v in row.items()} for row in rows])
            seeded.append(name)
    return seeded


def rows_as_seeded(conn: Connection, name: str) -> list[dict[str, Any]]:
    table = Table(name, MetaData(), autoload_with=conn)
    columns = list(SEEDS[name][0])
    order = [table.c[c.name] for c in table.primary_key.columns]
    found = conn.execute(select(*(table.c[c] for c in columns)).order_by(*order)).mappings()
    return [{k: normalised(v) for k, v in row.items()} for row in found]


@pytest.mark.parametrize(("branch", "below"), branch_tips(),
                         ids=[branch for branch, _below in branch_tips()])
def test_upgrade_with_data_keeps_every_row(db_url: str, branch: str,
                                           below: tuple[str, ...]) -> None:
    """Rows written at the revision a branch's newest migration stands on survive the
    upgrade to every head (SQLite's batch mode copies whole tables), and today's code
    reads them."""
    db = Database(db_url)
    for target in below:
        upgrade(db.engine, target)
    with db.engine.begin() as conn:
        seeded = seed(conn)
    assert {"admin_unit", "audit_log", "signing_key", "signing_epoch"} <= set(seeded)
    upgrade(db.engine, "heads")
    assert is_up_to_date(db.engine)
    with db.engine.connect() as conn:
        for name in seeded:
            expected = [{k: normalised(v) for k, v in row.items()} for row in SEEDS[name]]
            assert rows_as_seeded(conn, name) == expected, name
    with db.session() as session:
        key = session.exec(orm_select(SigningKey)).one()
        assert (key.key_id, key.status, key.seed) == ("k-mig", KeyStatus.ACTIVE,
                                                      bytes(range(32)))
        assert key.created_at == T0
        entry = session.exec(orm_select(AuditEntry)).one()
        assert (entry.username, entry.action, entry.at) == ("op-m", "unit.create", T0)
    db.dispose()
