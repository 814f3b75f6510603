"""Backups taken while the controller writes restore to a consistent database, and a
restore always leaves the signing epoch higher than before."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from controller.backup import (
    Backups,
    BackupScheduler,
    bump_epochs,
    integrity_problems,
    restore_sqlite,
)
from controller.events import EventBus
from controller.registry.errors import Invalid
from controller.registry.timebase import StationTime
from controller.signing.keyring import Keyring
from controller.storage.database import Database
from controller.storage.tables.registry import StationKind
from tests.support.databases import fresh_postgres_database, require_postgres

from .kit import make_kit


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


def test_backup_during_writes_restores_consistently(tmp_path: Path) -> None:
    live = tmp_path / "live.db"
    kit = make_kit(sqlite_url(live), tmp_path, seed=True)
    time = StationTime()  # real time: backups are named by the instant they are taken
    backups = Backups(kit.db, tmp_path / "backups", keep=3, bus=kit.bus, time=time,
                      commune="xa-a")
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
        taken = []
        for _ in range(4):
            while len(written) < 5 * (len(taken) + 1):
                stop.wait(0.01)
            taken.append(backups.take(kit.who("admin")))
    finally:
        stop.set()
        thread.join()
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
    result = restore_sqlite(sqlite_url(live), newest, EventBus(), time)
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
        restore_sqlite(sqlite_url(tmp_path / "x.db"), bogus, EventBus(), StationTime())
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(Invalid):
        restore_sqlite(sqlite_url(tmp_path / "x.db"), other, EventBus(), StationTime())


@pytest.mark.postgres
def test_postgres_backup_uses_pg_dump_and_bump_epoch_moves_forward(tmp_path: Path) -> None:
    require_postgres()
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed (postgresql-client)")
    with fresh_postgres_database() as url:
        _pg_backup_and_bump(url, tmp_path)


def _pg_backup_and_bump(db_url: str, tmp_path: Path) -> None:
    kit = make_kit(db_url, tmp_path)
    backups = Backups(kit.db, tmp_path / "backups", keep=2, bus=kit.bus, time=StationTime(),
                      commune="xa-a")
    info = backups.take(kit.who("admin"))
    assert info.name.endswith(".dump") and info.path.read_bytes()[:5] == b"PGDMP"
    before = Keyring(kit.db, kit.bus, kit.time).epoch("xa-a")
    assert bump_epochs(kit.db, kit.bus, kit.time)["xa-a"] == before + 1
    assert Keyring(kit.db, kit.bus, kit.time).epoch("xa-a") == before + 1
    kit.close()


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
