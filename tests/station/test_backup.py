"""Backups taken while the controller writes restore to a consistent database, and a
restore always leaves the signing epoch higher than before."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from controller.backup import (
    Backups,
    BackupScheduler,
    bump_epochs,
    integrity_problems,
    libpq_url,
    remember_epochs,
    restore_sqlite,
)
from controller.events import EventBus
from controller.registry.errors import Invalid
from controller.registry.timebase import StationTime
from controller.signing.epoch_mark import EpochMark
from controller.signing.keyring import Keyring
from controller.storage.database import Database
from controller.storage.tables.registry import StationKind
from tests.support.databases import fresh_postgres_database, require_postgres

from .kit import Kit, make_kit


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def stations_match_their_audit_entries(path: Path) -> int:
    """Every station in the file has its ``station.create`` entry and vice versa: the
    action and its audit entry were committed together, so a consistent snapshot has
    both or neither."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        stations = {r[0] for r in connection.execute("SELECT key FROM station")}
        audited = {r[0] for r in connection.execute(
            "SELECT target FROM audit_log WHERE action = 'station.create'")}
    finally:
        connection.close()
    assert stations == audited
    return len(stations)


def stations_and_audit_entries(conn: Connection) -> int:
    """The same check on any backend, through SQLAlchemy."""
    stations = set(conn.execute(text("SELECT key FROM station")).scalars())
    audited = set(conn.execute(text(
        "SELECT target FROM audit_log WHERE action = 'station.create'")).scalars())
    assert stations == audited
    return len(stations)


def epoch_of(url: str, commune: str = "xa-a") -> int:
    db = Database(url)
    try:
        return Keyring(db, EventBus(), StationTime()).epoch(commune)
    finally:
        db.dispose()


def mark_in(folder: Path) -> EpochMark:
    return EpochMark(folder / "data" / "signing-epochs.json")


def while_writing(kit: Kit, action: Callable[[list[str]], None]) -> list[str]:
    """Run ``action(written)`` while a thread keeps creating stations (each with its audit
    entry, in one transaction); returns every station written."""
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            key = f"w-{n}"
            kit.services.stations.create_station(kit.who("tech-a"), "xa-a", key, "W",
                                                 StationKind.FM)
            written.append(key)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        action(written)
    finally:
        stop.set()
        thread.join()
    return written


def test_backup_during_writes_restores_consistently(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    kit = make_kit(sqlite_url(live), tmp_path, seed=True)
    time = StationTime()  # real time: backups are named by the instant they are taken
    backups = Backups(kit.db, tmp_path / "backups", keep=3, bus=kit.bus, time=time,
                      commune="xa-a")
    taken = []

    def take_four(written: list[str]) -> None:
        for _ in range(4):
            while len(written) < 5 * (len(taken) + 1):
                threading.Event().wait(0.01)
            taken.append(backups.take(kit.who("admin")))

    written = while_writing(kit, take_four)
    assert len(backups.list_backups()) == 3  # keeps N
    counts = []
    for backup in backups.list_backups():
        assert oct(backup.path.stat().st_mode & 0o777) == oct(0o600)
        assert integrity_problems(backup.path) == []
        counts.append(stations_match_their_audit_entries(backup.path))
    assert counts == sorted(counts, reverse=True) and counts[0] < len(written) + 2

    epoch_before = Keyring(kit.db, kit.bus, kit.time).epoch("xa-a")
    kit.close()  # the controller is stopped for a restore
    newest = backups.list_backups()[0].path
    result = restore_sqlite(sqlite_url(live), newest, EventBus(), time, mark_in(tmp_path))
    assert result.previous_copy is not None and result.previous_copy.exists()
    assert integrity_problems(live) == []
    assert stations_match_their_audit_entries(live) == counts[0]
    restored = Database(sqlite_url(live))
    try:
        assert Keyring(restored, EventBus(), time).epoch("xa-a") == epoch_before + 1
        assert Keyring(restored, EventBus(), time).epoch("xa-b") > 1
    finally:
        restored.dispose()


def test_restore_refuses_a_damaged_file(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-backup.db"
    bogus.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(Invalid):
        restore_sqlite(sqlite_url(tmp_path / "x.db"), bogus, EventBus(), StationTime(),
                       mark_in(tmp_path))
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(Invalid):
        restore_sqlite(sqlite_url(tmp_path / "x.db"), other, EventBus(), StationTime(),
                       mark_in(tmp_path))


def test_the_epoch_after_a_restore_is_above_every_epoch_used(tmp_path: Path) -> None:
    """The same old backup restored twice, then again after later bumps, then onto a lost
    database: every time the new epoch is above the one the controller last signed with
    (adding 1 to the backup's own epoch would give 2 every time)."""
    url = sqlite_url(tmp_path / "live.db")
    kit = make_kit(url, tmp_path)
    mark = mark_in(tmp_path)
    assert remember_epochs(kit.db, kit.bus, kit.time, mark, "xa-a") == 1  # daemon start
    old = Backups(kit.db, tmp_path / "backups", keep=5, bus=kit.bus, time=StationTime(),
                  commune="xa-a").take(kit.who("admin")).path
    kit.close()

    live = {"xa-a": 1, "xa-b": 1}
    for _ in range(2):
        result = restore_sqlite(url, old, EventBus(), StationTime(), mark)
        assert result.history_known
        for commune, epoch in result.epochs.items():
            assert epoch > live[commune], (commune, epoch, live)
            assert epoch_of(url, commune) == epoch == mark.read()[commune]
        live = result.epochs
    assert live == {"xa-a": 3, "xa-b": 3}
    assert len(list(tmp_path.glob("live.db.before-restore-*"))) == 2  # none overwritten

    db = Database(url)  # later bumps, as after a PostgreSQL restore or by hand
    try:
        bump_epochs(db, EventBus(), StationTime(), mark)
        live = bump_epochs(db, EventBus(), StationTime(), mark, above=6)
    finally:
        db.dispose()
    assert live == {"xa-a": 7, "xa-b": 7}
    assert restore_sqlite(url, old, EventBus(), StationTime(), mark).epochs == \
        {"xa-a": 8, "xa-b": 8}

    for side in tmp_path.glob("live.db*"):  # the database is lost; the record is not
        side.unlink()
    result = restore_sqlite(url, old, EventBus(), StationTime(), mark)
    assert result.previous_copy is None and result.history_known
    assert result.epochs == {"xa-a": 9, "xa-b": 9}


def test_a_new_machine_is_told_the_floor(tmp_path: Path) -> None:
    """No replaced database, no record: the restore says so, and --epoch-above sets it."""
    kit = make_kit(sqlite_url(tmp_path / "old.db"), tmp_path)
    old = Backups(kit.db, tmp_path / "backups", keep=5, bus=kit.bus, time=StationTime(),
                  commune="xa-a").take(kit.who("admin")).path
    kit.close()
    blind = restore_sqlite(sqlite_url(tmp_path / "new-1" / "loaxa.db"), old, EventBus(),
                           StationTime(), mark_in(tmp_path / "new-1"))
    assert not blind.history_known and blind.epochs["xa-a"] == 2
    told = restore_sqlite(sqlite_url(tmp_path / "new-2" / "loaxa.db"), old, EventBus(),
                          StationTime(), mark_in(tmp_path / "new-2"), above=41)
    assert told.history_known and told.epochs == {"xa-a": 42, "xa-b": 42}
    assert mark_in(tmp_path / "new-2").read() == {"xa-a": 42, "xa-b": 42}


def test_a_damaged_epoch_record_stops_the_restore_before_anything_moves(
        tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "live.db")
    kit = make_kit(url, tmp_path)
    old = Backups(kit.db, tmp_path / "backups", keep=5, bus=kit.bus, time=StationTime(),
                  commune="xa-a").take(kit.who("admin")).path
    kit.close()
    mark = mark_in(tmp_path)
    mark.path.parent.mkdir(parents=True, exist_ok=True)
    for damage in ('{"epochs": {"xa-a": "seven"}}', "{not json", '{"epochs": {"xa-a": 0}}'):
        mark.path.write_text(damage)
        with pytest.raises(Invalid, match=r"signing-epochs\.json"):
            restore_sqlite(url, old, EventBus(), StationTime(), mark)
        assert not list(tmp_path.glob("live.db.before-restore-*"))
    mark.path.write_text('{"epochs": {"xa-a": 5}}')  # the positive control
    assert restore_sqlite(url, old, EventBus(), StationTime(), mark).epochs["xa-a"] == 6


def test_the_daemon_records_its_epoch_and_catches_a_database_gone_back(
        tmp_path: Path) -> None:
    """At start, before signing: the epoch in use is recorded (durably, 0600); a database
    behind the record (copied back by hand, no bump) is bumped above it."""
    kit = make_kit(sqlite_url(tmp_path / "live.db"), tmp_path)
    try:
        mark = mark_in(tmp_path)
        assert remember_epochs(kit.db, kit.bus, kit.time, mark, "xa-a") == 1
        assert json.loads(mark.path.read_text()) == {"epochs": {"xa-a": 1}}
        assert oct(mark.path.stat().st_mode & 0o777) == oct(0o600)
        assert remember_epochs(kit.db, kit.bus, kit.time, mark, "xa-a") == 1  # no drift
        mark.raise_to({"xa-a": 9})
        assert remember_epochs(kit.db, kit.bus, kit.time, mark, "xa-a") == 10
        assert Keyring(kit.db, kit.bus, kit.time).epoch("xa-a") == 10
        assert Keyring(kit.db, kit.bus, kit.time).epoch("xa-b") == 1  # not this station's
        mark.raise_to({"xa-a": 3})  # a record never goes down
        assert mark.read() == {"xa-a": 10}
    finally:
        kit.close()


def require_tool(name: str) -> None:
    """Like ``require_postgres``: a missing client tool fails the PostgreSQL tier when
    ``LOAXA_REQUIRE_POSTGRES=1`` instead of letting the test vanish as a skip."""
    if shutil.which(name) is not None:
        return
    reason = f"{name} not installed (postgresql-client)"
    if os.environ.get("LOAXA_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.postgres
def test_postgres_dump_while_writing_restores_above_the_live_epoch(tmp_path: Path) -> None:
    """pg_dump of a database being written, pg_restore into a fresh database (twice, the
    second after the live one moved on), bump-epoch: consistent data, higher epoch."""
    require_postgres()
    require_tool("pg_dump")
    require_tool("pg_restore")
    mark = mark_in(tmp_path)
    with fresh_postgres_database() as live_url:
        kit = make_kit(live_url, tmp_path)
        remember_epochs(kit.db, kit.bus, kit.time, mark, "xa-a")
        backups = Backups(kit.db, tmp_path / "backups", keep=2, bus=kit.bus,
                          time=StationTime(), commune="xa-a")
        taken = []

        def take_one(written: list[str]) -> None:
            while len(written) < 5:
                threading.Event().wait(0.01)
            taken.append(backups.take(kit.who("admin")))
            while len(written) < 10:  # writes go on after the dump
                threading.Event().wait(0.01)

        written = while_writing(kit, take_one)
        dump = taken[0].path
        assert dump.name.endswith(".dump") and dump.read_bytes()[:5] == b"PGDMP"
        assert oct(dump.stat().st_mode & 0o777) == oct(0o600)
        with kit.db.engine.connect() as conn:
            seeded = stations_and_audit_entries(conn) - len(written)
        live = bump_epochs(kit.db, kit.bus, kit.time, mark)["xa-a"]  # the live one moves on
        assert live == 2
        kit.close()

    for _ in range(2):
        with fresh_postgres_database() as restored_url:
            done = subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error",
                 f"--dbname={libpq_url(restored_url)}", str(dump)],
                capture_output=True, text=True, timeout=300, check=False)
            assert done.returncode == 0, done.stderr
            db = Database(restored_url)
            try:
                db.upgrade()
                with db.engine.connect() as conn:
                    count = stations_and_audit_entries(conn)
                assert seeded + 5 <= count < seeded + len(written)
                assert Keyring(db, EventBus(), StationTime()).epoch("xa-a") == 1  # the dump's
                epochs = bump_epochs(db, EventBus(), StationTime(), mark,
                                     reason="pg_restore")
                assert epochs["xa-a"] > live, (epochs, live)
                assert Keyring(db, EventBus(), StationTime()).epoch("xa-a") == epochs["xa-a"]
                live = epochs["xa-a"]
            finally:
                db.dispose()
    assert live == 4 and mark.read()["xa-a"] == 4


def test_schedule_catches_up_once_and_survives_failures(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    kit = make_kit(sqlite_url(tmp_path / "s.db"), tmp_path)
    try:
        backups = Backups(kit.db, tmp_path / "backups", keep=2, bus=kit.bus,
                          time=StationTime(), commune="xa-a")
        scheduler = BackupScheduler(backups, interval_hours=6)
        soon = scheduler.first_run() - StationTime().now()
        assert soon.total_seconds() <= 30  # no backup yet: catch up right away
        backups.take()
        later = scheduler.first_run() - StationTime().now()
        assert 5 * 3600 < later.total_seconds() <= 6 * 3600
        scheduler.start()
        try:
            job = scheduler.scheduler.get_job("backup")
            assert job.coalesce and job.max_instances == 1
            assert job.misfire_grace_time == 6 * 3600
        finally:
            scheduler.stop()
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        backups.directory = blocker / "backups"
        with caplog.at_level(logging.ERROR, "loaxa.backup"):
            scheduler.run_once()  # a failing backup is logged, not raised
        assert "scheduled backup failed" in caplog.text
    finally:
        kit.close()
