"""The commune library as operators use it: import, list, show, rename, delete.

Every front end (API, CLI through the API, the TUI later) goes through this service, so
the rules live here: who may do what (``permissions``), one row per audio per commune,
refusals that add nothing, deletes refused while a programme needs the item
(``usage``), files removed only when no commune's row names them (``retention``), and
every change audited in the transaction that makes it.

An import is a job (``jobs``) run by the import workers: the request that hands over
the file returns at once. The worker runs the pipeline (``import_file``), which writes
the content store atomically, then records the row; a refusal or a failure records
nothing, and the uploaded file is removed either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus, LibraryItemChanged
from controller.i18n import N_
from controller.registry.errors import Invalid, NotFound, ServiceError
from controller.registry.stations import find_commune
from controller.registry.timebase import StationTime
from controller.registry.work import reading, unit_of_work
from controller.security.authz import Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem

from .errors import ImportRefused, LibraryError, ProcessingFailed
from .importer import Stage, import_file
from .items import (
    LibraryItemView,
    find_item,
    referenced,
    usernames_of,
    view_of,
)
from .jobs import ImportJob, JobBoard, Outcome, new_job_id
from .model import ProcessedAudio
from .permissions import require_manage, require_read
from .problems import ImportsBusy, ItemInUse
from .retention import FileKeeper
from .settings import ProcessingSettings
from .store import ContentStore
from .transfers import (
    ContentSlot,
    DistributionReport,
    TransfersReport,
    distribution_report,
    transfer_report,
)
from .uploads import NAME_LIMIT, Upload, UploadSpool
from .usage import ContentUsage, UsageChain
from .workers import ImportWorkers

log = logging.getLogger("loaxa.library")

TITLE_LIMIT = 200


@dataclass(frozen=True)
class Commune:
    id: int
    key: str


@dataclass(frozen=True)
class LibraryLimits:
    """How much import work the station takes on (the upload size cap is the spool's)."""

    workers: int = 1
    max_queued: int = 50


def check_title(title: str) -> str:
    cleaned = title.strip()
    if not cleaned or len(cleaned) > TITLE_LIMIT or any(ord(c) < 32 or c == "\x7f"
                                                        for c in cleaned):
        raise Invalid(N_("A title must have 1 to 200 characters and no control "
                         "characters."))
    return cleaned


def title_from(name: str) -> str:
    """The default title: the file name without its extension."""
    stem = Path(name).stem.strip() or name
    return stem[:TITLE_LIMIT]


class LibraryService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime, store: ContentStore,
                 processing: ProcessingSettings, spool: UploadSpool, *,
                 limits: LibraryLimits | None = None,
                 usage: ContentUsage | None = None) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.store = store
        self.processing = processing
        self.spool = spool
        self.limits = limits or LibraryLimits()
        # Plug further checks in with ``usage.add(...)`` (see ``controller.library.usage``).
        self.usage = UsageChain(*([usage] if usage is not None else []))
        # The running content service plugs in here (``controller.dataplane``).
        self.content = ContentSlot()
        self.jobs = JobBoard(bus, time)
        self.workers = ImportWorkers(self.limits.workers)
        self.keeper = FileKeeper(store, self._referenced)

    # ------------------------------------------------------------------ lifecycle
    def sweep(self) -> None:
        """At start: leftovers of imports and uploads a stop or power cut interrupted."""
        self.spool.sweep()
        removed = self.store.sweep_staging(older_than_s=0.0, clock=self.time.clock)
        if removed:
            log.info("removed %d unfinished import file(s) from the store", removed)

    def stop(self) -> None:
        self.workers.stop()

    def healthy(self) -> bool:
        return self.workers.alive()

    # ------------------------------------------------------------------ importing
    def authorise_import(self, who: Principal, commune: str) -> Commune:
        """Before receiving a file: may ``who`` import into ``commune``?"""
        with reading(self.db, self.time) as work:
            unit = find_commune(work.session, commune)
            assert unit.id is not None
            require_manage(Scope(work.session, who, self.time.today()), unit.id)
            return Commune(unit.id, unit.key)

    def submit(self, who: Principal, commune: Commune, upload: Upload, *,
               title: str | None = None, chime: bool | None = None) -> ImportJob:
        """Queue an import of ``upload`` (the job owns the file from here on)."""
        try:
            title = check_title(title) if title is not None else None
            waiting = self.jobs.waiting()
            if waiting >= self.limits.max_queued:
                raise ImportsBusy(waiting)
        except ServiceError:
            upload.discard()
            raise
        settings = self.processing if chime is None else \
            self.processing.model_copy(update={"chime": chime})
        job = self.jobs.add(ImportJob(
            id=new_job_id(), commune=commune.key, commune_id=commune.id,
            name=upload.name[:NAME_LIMIT], title=title, chime=settings.chime,
            submitted_by=who.username, submitted_at=self.time.now()))
        task = _ImportTask(self, job, who, upload, settings)
        try:
            self.workers.submit(task)
        except RuntimeError:  # stopping
            task.cancel()
        log.info("import %s queued: %s (%d bytes) for %s by %s", job.id, upload.name,
                 upload.size, commune.key, who.username)
        return self.jobs.get(job.id) or job

    def job(self, who: Principal, commune: str, job_id: str) -> ImportJob:
        with reading(self.db, self.time) as work:
            unit = self._readable(work.session, who, commune)
        job = self.jobs.get(job_id)
        if job is None or job.commune_id != unit.id:
            raise NotFound(N_("No import {job} in this commune (jobs are kept for a day "
                              "and forgotten when the controller restarts)."), job=job_id)
        return job

    def jobs_of(self, who: Principal, commune: str) -> list[ImportJob]:
        with reading(self.db, self.time) as work:
            unit = self._readable(work.session, who, commune)
        return self.jobs.of_commune(unit.id)

    def _run(self, job: ImportJob, who: Principal, upload: Upload,
             settings: ProcessingSettings) -> None:
        """The worker's side of a job: process, record, report; never raises.

        The upload is removed before the job is reported finished, so whoever sees the
        end of a job sees the station as the job left it.
        """
        try:
            with self.keeper.importing():
                result = import_file(upload.path, self.store, settings, name=upload.name,
                                     progress=lambda stage: self._stage(job, stage))
                outcome, item = self._record(job, who, result.audio)
        except ImportRefused as refusal:
            log.info("import %s refused (%s): %s", job.id, refusal.code,
                     refusal.detail or refusal.message)
            upload.discard()
            self.jobs.refused(job.id, refusal)
        except (LibraryError, ServiceError) as error:
            log.error("import %s failed: %s %s", job.id, error,
                      getattr(error, "detail", ""))
            upload.discard()
            self.jobs.failed(job.id, error)
        except Exception as error:  # a bug or the disk: the operator still gets an answer
            log.exception("import %s failed", job.id)
            upload.discard()
            self.jobs.failed(job.id, ProcessingFailed(upload.name, detail=repr(error)))
        else:
            upload.discard()
            self.jobs.done(job.id, outcome, item)
            log.info("import %s: %s %s", job.id, outcome.value, item.sha256)

    def _stage(self, job: ImportJob, stage: Stage) -> None:
        self.jobs.stage(job.id, stage)

    def _record(self, job: ImportJob, who: Principal,
                audio: ProcessedAudio) -> tuple[Outcome, LibraryItemView]:
        """The row for a stored import (or the existing one: the same audio twice)."""
        with self.keeper.deciding(), unit_of_work(self.db, self.bus, self.time) as work:
            existing = work.session.exec(select(LibraryItem).where(
                LibraryItem.commune_id == job.commune_id,
                LibraryItem.sha256 == audio.sha256)).first()
            if existing is not None:
                return Outcome.DUPLICATE, view_of(existing, job.commune,
                                                  usernames_of(work.session, [existing]))
            item = LibraryItem(
                commune_id=job.commune_id, sha256=audio.sha256,
                title=job.title or title_from(audio.source_name),
                source_name=audio.source_name[:260], source_format=audio.source_format[:32],
                imported_by=who.user_id, imported_at=self.time.now(),
                duration_ms=audio.duration_ms, size_bytes=audio.size_bytes,
                bitrate_bps=audio.bitrate_bps, integrated_lufs=audio.integrated_lufs,
                speech_lufs=audio.speech_lufs, true_peak_dbtp=audio.true_peak_dbtp,
                chime=audio.chime)
            work.session.add(item)
            work.session.flush()
            record(work, who, "library.import", target=audio.sha256,
                   commune_id=job.commune_id,
                   detail={"title": item.title, "source_name": item.source_name,
                           "duration_ms": item.duration_ms, "job": job.id})
            work.events.append(LibraryItemChanged(
                commune_id=job.commune_id, commune=job.commune, change="added",
                sha256=item.sha256, title=item.title))
            return Outcome.ADDED, view_of(item, job.commune,
                                          usernames_of(work.session, [item]))

    # ------------------------------------------------------------------ the library
    def list_items(self, who: Principal, commune: str) -> list[LibraryItemView]:
        """Newest first."""
        with reading(self.db, self.time) as work:
            unit = self._readable(work.session, who, commune)
            rows = list(work.session.exec(select(LibraryItem).where(
                LibraryItem.commune_id == unit.id).order_by(col(LibraryItem.id).desc())))
            names = usernames_of(work.session, rows)
        return [view_of(row, unit.key, names) for row in rows]

    def get_item(self, who: Principal, commune: str, ref: str) -> LibraryItemView:
        """One item, with the programmes that still use it."""
        with reading(self.db, self.time) as work:
            unit = self._readable(work.session, who, commune)
            row = find_item(work.session, unit.id, ref)
            names = usernames_of(work.session, [row])
        return view_of(row, unit.key, names, self.usage.users_of(unit.key, row.sha256))

    def rename(self, who: Principal, commune: str, ref: str, title: str) -> LibraryItemView:
        title = check_title(title)
        with unit_of_work(self.db, self.bus, self.time) as work:
            unit = self._writable(work.session, who, commune)
            row = find_item(work.session, unit.id, ref)
            before = row.title
            row.title = title
            work.session.add(row)
            record(work, who, "library.rename", target=row.sha256, commune_id=unit.id,
                   detail={"from": before, "to": title})
            work.events.append(LibraryItemChanged(commune_id=unit.id, commune=unit.key,
                                                  change="renamed", sha256=row.sha256,
                                                  title=title))
            return view_of(row, unit.key, usernames_of(work.session, [row]))

    def delete(self, who: Principal, commune: str, ref: str) -> LibraryItemView:
        """Remove the row (refused while a programme needs it); the file goes too when
        no other commune's row names the same content."""
        with self.keeper.deciding():
            with unit_of_work(self.db, self.bus, self.time) as work:
                unit = self._writable(work.session, who, commune)
                row = find_item(work.session, unit.id, ref)
                users = self.usage.users_of(unit.key, row.sha256)
                if users:
                    raise ItemInUse(row.title, users)
                view = view_of(row, unit.key, usernames_of(work.session, [row]))
                work.session.delete(row)
                record(work, who, "library.delete", target=row.sha256, commune_id=unit.id,
                       detail={"title": row.title, "source_name": row.source_name})
                work.events.append(LibraryItemChanged(commune_id=unit.id, commune=unit.key,
                                                      change="deleted", sha256=row.sha256,
                                                      title=row.title))
            removed = self.keeper.release(view.sha256)
        log.info("deleted library item %s of %s%s", view.sha256, unit.key,
                 " and its file" if removed else "")
        return view

    def transfers(self, who: Principal, commune: str) -> TransfersReport:
        """What the content service is sending to this commune's agents."""
        with reading(self.db, self.time) as work:
            unit = self._readable(work.session, who, commune)
            return transfer_report(work.session, self.content, unit.id, unit.key)

    def distribution(self, who: Principal, commune: str, ref: str) -> DistributionReport:
        """One item's way to every agent that needs it (or that the service sent it to)."""
        with reading(self.db, self.time) as work:
            unit = self._readable(work.session, who, commune)
            row = find_item(work.session, unit.id, ref)
            return distribution_report(work.session, self.content, unit.id, unit.key, row,
                                       self.time.clock.wall_ns())

    # ------------------------------------------------------------------ helpers
    def _readable(self, session: Session, who: Principal, commune: str) -> Commune:
        unit = find_commune(session, commune)
        assert unit.id is not None
        require_read(Scope(session, who, self.time.today()), unit.id)
        return Commune(unit.id, unit.key)

    def _writable(self, session: Session, who: Principal, commune: str) -> Commune:
        unit = find_commune(session, commune)
        assert unit.id is not None
        require_manage(Scope(session, who, self.time.today()), unit.id)
        return Commune(unit.id, unit.key)

    def _referenced(self, sha256: str) -> bool:
        with self.db.session() as session:
            return referenced(session, sha256)


@dataclass(frozen=True)
class _ImportTask:
    service: LibraryService
    job: ImportJob
    who: Principal
    upload: Upload
    settings: ProcessingSettings

    def run(self) -> None:
        self.service._run(self.job, self.who, self.upload, self.settings)

    def cancel(self) -> None:
        self.upload.discard()
        self.service.jobs.failed(self.job.id, ProcessingFailed(
            self.upload.name, detail="the controller stopped before processing it"))
