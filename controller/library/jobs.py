"""Import jobs: what an operator watches after handing the station a file.

Processing takes seconds to minutes (two ffmpeg passes over the whole file), far longer
than an HTTP request should wait over a poor link, so an upload returns a job at once
and the work runs on the import workers. The board keeps every job's state in memory,
publishes each change on the event bus (``LibraryImportProgress``, what the TUI's
progress bar follows) and answers the job-status endpoint the CLI polls. Jobs are not
persisted: after a restart the operator imports again (nothing half-done remains, the
pipeline writes the store atomically and the upload folder is swept at start).

``percent`` is a stage-weighted estimate (pass one and pass two dominate, the final
measurement is shorter, storing is a rename), good enough for a bar; ffmpeg's own
progress would be exact but would tie the pipeline to this view.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import StrEnum

from controller.events import EventBus, LibraryImportProgress
from controller.registry.errors import ServiceError
from controller.registry.timebase import StationTime

from .errors import LibraryError
from .importer import Stage
from .items import LibraryItemView
from .problems import library_message

PERCENT_AT = {Stage.CHECKING: 5, Stage.RENDERING: 40, Stage.MEASURING: 80,
              Stage.STORING: 95}


class JobState(StrEnum):
    QUEUED = "queued"  # received, waiting for a worker
    PROCESSING = "processing"
    DONE = "done"  # the item is in the library (added now, or already there)
    REFUSED = "refused"  # the file cannot become an item; nothing was added
    FAILED = "failed"  # the station failed (ffmpeg missing, disk, database)

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.REFUSED, JobState.FAILED)


class Outcome(StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"  # the same audio was already in this commune's library


JobError = LibraryError | ServiceError


@dataclass(frozen=True)
class ImportJob:
    """One job as it stands; the board replaces it with a new value on each change."""

    id: str
    commune: str
    commune_id: int
    name: str  # the operator's file name
    title: str | None  # as asked; None: taken from the file name
    chime: bool
    submitted_by: str
    submitted_at: dt.datetime
    state: JobState = JobState.QUEUED
    stage: Stage | None = None
    percent: int = 0
    ahead: int = 0  # queued jobs that go first (filled in when read)
    outcome: Outcome | None = None
    item: LibraryItemView | None = None
    error: JobError | None = None
    finished_at: dt.datetime | None = None

    @property
    def error_code(self) -> str | None:
        return self.error.code if self.error is not None else None

    def error_message(self, language: str | None = None) -> str | None:
        """The reason in ``language`` (translated when read, for each reader)."""
        if isinstance(self.error, LibraryError):
            return library_message(self.error, language)
        if isinstance(self.error, ServiceError):
            return self.error.translated(language)
        return None


def new_job_id() -> str:
    """Random, so one operator cannot guess another's job (reads are scope-checked too)."""
    return uuid.uuid4().hex


class JobBoard:
    """Every job of this process, newest kept; thread-safe; publishes every change."""

    def __init__(self, bus: EventBus, time: StationTime, *, keep: int = 500,
                 keep_for: dt.timedelta = dt.timedelta(hours=24)) -> None:
        self._bus = bus
        self._time = time
        self._keep = keep
        self._keep_for = keep_for
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()

    def add(self, job: ImportJob) -> ImportJob:
        with self._lock:
            self._prune()
            self._jobs[job.id] = job
        self._publish(job)
        return self.get(job.id) or job

    def get(self, job_id: str) -> ImportJob | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return self._with_ahead(job) if job is not None else None

    def of_commune(self, commune_id: int) -> list[ImportJob]:
        """Newest first."""
        with self._lock:
            return [self._with_ahead(job) for job in reversed(self._jobs.values())
                    if job.commune_id == commune_id]

    def waiting(self) -> int:
        with self._lock:
            return sum(1 for job in self._jobs.values() if job.state is JobState.QUEUED)

    # -- transitions (called by the worker running the job) ----------------------------
    def stage(self, job_id: str, stage: Stage) -> None:
        self._change(job_id, state=JobState.PROCESSING, stage=stage,
                     percent=PERCENT_AT[stage])

    def done(self, job_id: str, outcome: Outcome, item: LibraryItemView) -> None:
        self._change(job_id, state=JobState.DONE, stage=None, percent=100, outcome=outcome,
                     item=item, finished_at=self._time.now())

    def refused(self, job_id: str, error: JobError) -> None:
        self._change(job_id, state=JobState.REFUSED, stage=None, error=error,
                     finished_at=self._time.now())

    def failed(self, job_id: str, error: JobError) -> None:
        self._change(job_id, state=JobState.FAILED, stage=None, error=error,
                     finished_at=self._time.now())

    # -- internals ---------------------------------------------------------------------
    def _change(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state.finished:
                return
            job = replace(job, **changes)  # type: ignore[arg-type]
            self._jobs[job_id] = job
        self._publish(job)

    def _with_ahead(self, job: ImportJob) -> ImportJob:
        if job.state is not JobState.QUEUED:
            return job
        ahead = 0
        for other in self._jobs.values():
            if other.id == job.id:
                break
            ahead += other.state is JobState.QUEUED
        return replace(job, ahead=ahead)

    def _prune(self) -> None:
        cutoff = self._time.now() - self._keep_for
        for job_id, job in list(self._jobs.items()):
            if job.finished_at is not None and job.finished_at < cutoff:
                del self._jobs[job_id]
        finished = [job_id for job_id, job in self._jobs.items() if job.state.finished]
        for job_id in finished[:max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job_id]

    def _publish(self, job: ImportJob) -> None:
        self._bus.publish(LibraryImportProgress(
            commune_id=job.commune_id, commune=job.commune, job_id=job.id, name=job.name,
            state=job.state.value, stage=job.stage.value if job.stage else None,
            percent=job.percent, outcome=job.outcome.value if job.outcome else None,
            sha256=job.item.sha256 if job.item else None, code=job.error_code))
