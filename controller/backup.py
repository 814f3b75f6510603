"""Backups of the controller database, taken online, and restores that move the signing
epoch forward.

SQLite: ``VACUUM INTO`` copies a consistent snapshot (one read transaction under WAL)
while the controller keeps writing, into a compact new file that is renamed into place
only when complete. PostgreSQL: ``pg_dump --format=custom`` when it is installed
(``docs/operations.md`` covers ``pg_restore``). Backups hold the signing seed and the
CURVE secret key: files are 0600.

A restored database has counters and document versions lower than what agents have
already seen; bumping the signing epoch makes ``(epoch, n)`` higher than all of it, so
agents accept the restored controller. The new epoch is above every epoch this
controller is known to have used: the restored database's, the replaced database's, the
record kept outside the database (:mod:`controller.signing.epoch_mark`) and the
operator's ``--epoch-above``. Every restore path bumps it, and ``loaxa backup
bump-epoch`` does it after a PostgreSQL restore done by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.registry.errors import Invalid, NotFound, Unavailable
from controller.registry.timebase import StationTime
from controller.registry.work import unit_of_work
from controller.security.authz import Permission, Principal, Scope
from controller.signing.epoch_mark import EpochMark
from controller.signing.keyring import Keyring
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit
from controller.storage.tables.signing import SigningEpoch

log = logging.getLogger("loaxa.backup")
PREFIX = "loaxa-"
SUFFIXES = (".db", ".dump")


@dataclass(frozen=True)
class BackupInfo:
    name: str
    path: Path
    size: int
    created_at: dt.datetime


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    previous_copy: Path | None
    epochs: dict[str, int]
    # False when nothing told which epochs were used before (no replaced database, no
    # epoch record, no --epoch-above): the new epoch is only above the backup's own.
    history_known: bool = True


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` as pg_dump understands it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (``VACUUM INTO``, then rename)."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    connection = sqlite3.connect(str(source), timeout=60)
    try:
        connection.execute("PRAGMA busy_timeout=60000")
        connection.execute("VACUUM INTO ?", (str(partial),))
    finally:
        connection.close()
    os.chmod(partial, 0o600)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)


def integrity_problems(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a SQLite file: empty when sound."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in connection.execute("PRAGMA integrity_check")]
            tables = {r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return [str(exc)]
    problems = [r for r in rows if r != "ok"]
    if "alembic_version" not in tables:
        problems.append("not a loaxa database (no alembic_version table)")
    return problems


class Backups:
    """Taking, listing and pruning backups of one database into one directory."""

    def __init__(self, db: Database, directory: Path, keep: int, bus: EventBus,
                 time: StationTime, commune: str) -> None:
        self.db = db
        self.directory = directory
        self.keep = keep
        self.bus = bus
        self.time = time
        self.commune = commune

    def authorize(self, who: Principal) -> None:
        """Backups cover the whole station: its commune's admins may take and list them."""
        with self.db.session() as session:
            unit = session.exec(select(AdminUnit).where(AdminUnit.key == self.commune)).first()
            Scope(session, who, self.time.today()).require(
                Permission.BACKUP, unit.id if unit is not None else None)

    def take(self, who: Principal | None = None) -> BackupInfo:
        actor = who or Principal.system_actor("scheduler", source="backup")
        if who is not None:
            self.authorize(who)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = self.time.now().strftime("%Y%m%dT%H%M%S%fZ")
        source = sqlite_path(self.db.url.render_as_string(hide_password=False))
        if source is not None:
            target = self.directory / f"{PREFIX}{stamp}.db"
            snapshot_sqlite(source, target)
        else:
            target = self.directory / f"{PREFIX}{stamp}.dump"
            self._pg_dump(target)
        info = self._info(target)
        with unit_of_work(self.db, self.bus, self.time) as work:
            record(work, actor, "backup.create", target=info.name,
                   detail={"size": info.size})
        self.prune()
        log.info("backup %s (%d bytes)", info.name, info.size)
        return info

    def list_backups(self, who: Principal | None = None) -> list[BackupInfo]:
        if who is not None:
            self.authorize(who)
        if not self.directory.is_dir():
            return []
        found = [self._info(p) for p in self.directory.iterdir()
                 if p.name.startswith(PREFIX) and p.suffix in SUFFIXES and p.is_file()]
        return sorted(found, key=lambda b: b.name, reverse=True)

    def prune(self) -> None:
        for old in self.list_backups()[self.keep:]:
            old.path.unlink(missing_ok=True)

    def _pg_dump(self, target: Path) -> None:
        binary = shutil.which("pg_dump")
        if binary is None:
            raise Unavailable(N_("pg_dump is not installed: install postgresql-client, or "
                                 "back up PostgreSQL as docs/operations.md describes."))
        partial = target.with_name(f".{target.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        result = subprocess.run(
            [binary, "--format=custom", "--no-owner", f"--file={partial}",
             f"--dbname={libpq_url(self.db.url.render_as_string(hide_password=False))}"],
            capture_output=True, text=True, timeout=3600, check=False)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise Unavailable(N_("pg_dump failed: {error}"), error=result.stderr.strip()[:500])
        os.replace(partial, target)

    @staticmethod
    def _info(path: Path) -> BackupInfo:
        stat = path.stat()
        return BackupInfo(name=path.name, path=path, size=stat.st_size,
                          created_at=dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC))


def restore_sqlite(url: str, backup: Path, bus: EventBus, time: StationTime,
                   mark: EpochMark, *, above: int = 0) -> RestoreResult:
    """Replace the database at ``url`` with ``backup`` (the controller must be stopped),
    bring it to the current schema and raise every commune's signing epoch above all it
    is known to have used (see :func:`bump_epochs`)."""
    target = sqlite_path(url)
    if target is None:
        raise Unavailable(N_("Restoring PostgreSQL is done with pg_restore (see "
                             "docs/operations.md), then `loaxa backup bump-epoch`."))
    if not backup.is_file():
        raise NotFound(N_("Backup file not found: {path}"), path=str(backup))
    problems = integrity_problems(backup)
    if problems:
        raise Invalid(N_("The backup is damaged or not a loaxa database: {problems}"),
                      problems="; ".join(problems[:5]))
    recorded = mark.read()  # a damaged record stops the restore before anything moves
    replaced = sqlite_file_epochs(target) if target.exists() else {}
    target.parent.mkdir(parents=True, exist_ok=True)
    previous: Path | None = None
    stamp = time.now().strftime("%Y%m%dT%H%M%S%fZ")  # two restores in a second: two copies
    if target.exists():
        previous = target.with_name(f"{target.name}.before-restore-{stamp}")
        os.replace(target, previous)
    for suffix in ("-wal", "-shm"):
        side = target.with_name(target.name + suffix)
        if side.exists():
            if previous is not None:
                os.replace(side, previous.with_name(previous.name + suffix))
            else:
                side.unlink()
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(backup, partial)
    os.chmod(partial, 0o600)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    db = Database(url)
    try:
        db.upgrade()
        epochs = bump_epochs(db, bus, time, mark, reason=f"restore from {backup.name}",
                             above=above, known=replaced)
    finally:
        db.dispose()
    return RestoreResult(backup, previous, epochs,
                         history_known=bool(replaced or recorded or above))


def sqlite_file_epochs(path: Path) -> dict[str, int]:
    """The signing epochs in a SQLite file about to be replaced (WAL included); empty when
    it cannot be read: a damaged database is a reason to restore, not to refuse."""
    try:
        connection = sqlite3.connect(str(path), timeout=30)
        try:
            rows = connection.execute(
                "SELECT u.key, e.epoch FROM signing_epoch e "
                "JOIN admin_unit u ON u.id = e.commune_id").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        log.warning("cannot read the signing epochs of %s: %s", path, exc)
        return {}
    return {str(key): int(epoch) for key, epoch in rows}


def database_epochs(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.exec(select(AdminUnit.key, SigningEpoch.epoch).join(
            SigningEpoch, col(SigningEpoch.commune_id) == col(AdminUnit.id))).all()
    return {key: epoch for key, epoch in rows}


def bump_epochs(db: Database, bus: EventBus, time: StationTime, mark: EpochMark, *,
                reason: str = "manual", above: int = 0,
                known: Mapping[str, int] | None = None) -> dict[str, int]:
    """Raise every commune's signing epoch strictly above every epoch it is known to have
    used: the database's own, ``known`` (a database the restore replaced), the epoch
    record ``mark`` and ``above`` (the operator's word). Audited.

    The record is raised *before* the database: if anything fails in between, the
    record is merely ahead, and the next bump still goes above it."""
    current = database_epochs(db)
    used: dict[str, int] = {}
    for source in (current, known or {}, mark.read()):
        for commune, epoch in source.items():
            used[commune] = max(used.get(commune, 0), epoch)
    targets = {commune: max(used[commune], above) + 1 for commune in current}
    mark.raise_to(targets)
    actor = Principal.system_actor("restore", source="cli")
    epochs = Keyring(db, bus, time).bump_epoch(
        actor, above={commune: epoch - 1 for commune, epoch in targets.items()})
    mark.raise_to(epochs)
    with unit_of_work(db, bus, time) as work:
        record(work, actor, "backup.restore", detail={"reason": reason, "epochs": epochs,
                                                       "above": above})
    return epochs


def remember_epochs(db: Database, bus: EventBus, time: StationTime, mark: EpochMark,
                    commune: str) -> int:
    """At daemon start, before anything is signed: a database behind the epoch record
    (restored by hand without ``bump-epoch``) is bumped above it, then the epoch in
    use is recorded. Returns the epoch the commune signs with."""
    recorded = mark.read().get(commune, 0)
    epoch = database_epochs(db).get(commune, 1)
    if epoch < recorded:
        log.warning("signing epoch %d of %s is below the recorded %d: the database went "
                    "back in time; bumping", epoch, commune, recorded)
        epoch = Keyring(db, bus, time).bump_epoch(
            Principal.system_actor("restore", source="daemon"), commune,
            above={commune: recorded})[commune]
    mark.raise_to({commune: epoch})
    return epoch


class BackupScheduler:
    """Scheduled backups (APScheduler 3, in memory: the schedule is rebuilt from the
    settings at every start, nothing to persist).

    ``coalesce``: backups missed while the station was off collapse into one run, not a
    burst. ``misfire_grace_time`` is the whole interval (APScheduler's default of 1 s
    would skip a backup whenever the machine was busy or asleep at the due second).
    The first backup runs soon after start when the newest one is older than the
    interval, so a station that is often off still gets backed up.
    """

    name = "backups"

    def __init__(self, backups: Backups, interval_hours: int) -> None:
        self.backups = backups
        self.interval = dt.timedelta(hours=interval_hours)
        self.scheduler: Any = None

    def start(self) -> None:
        if self.interval <= dt.timedelta(0):
            return
        self.scheduler = BackgroundScheduler(timezone=dt.UTC, job_defaults={
            "coalesce": True, "max_instances": 1,
            "misfire_grace_time": int(self.interval.total_seconds())})
        self.scheduler.add_job(self.run_once, "interval", id="backup",
                               seconds=int(self.interval.total_seconds()),
                               next_run_time=self.first_run())
        self.scheduler.start()

    def first_run(self) -> dt.datetime:
        now = self.backups.time.now()
        latest = self.backups.list_backups()
        if not latest or now - latest[0].created_at >= self.interval:
            return now + dt.timedelta(seconds=30)
        return latest[0].created_at + self.interval

    def run_once(self) -> None:
        try:
            self.backups.take()
        except Exception:
            log.exception("scheduled backup failed")

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
