"""The commune library: uploads that become import jobs, the items, and their way to
the agents (the content service's transfers).

An upload is ``multipart/form-data`` with a ``file`` part (and optional ``title`` and
``chime`` parts). The body is parsed as it streams in and the file written to the data
directory under a size cap (``controller.library.uploads``), after the caller has been
authorised, so a viewer's upload is refused before a byte of it is stored. The answer
is ``202`` with the import job; ``GET .../library/imports/{job}`` follows it (the CLI
polls it for its progress bar) and the event stream carries ``library_import`` events.
A refused file (``ImportRefused``) is a *job* outcome: ``state: refused`` with
``error.code`` (stable: ``empty``, ``corrupt``, ``truncated``, ``silent`` ...) and
``error.message`` in the reader's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from controller.i18n import N_
from controller.library.items import ITEM_REF_PATTERN
from controller.library.jobs import ImportJob
from controller.library.problems import BadUpload, LibraryProblem, UploadTooLarge
from controller.library.service import LibraryService
from controller.library.uploads import ENVELOPE_BYTES, FILE_FIELD
from controller.registry.errors import Invalid

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES, ErrorBody, error_response, request_language
from ..schemas import Input, Name, Output
from .params import CommunePath

router = APIRouter(responses=ERROR_RESPONSES)

ItemPath = Annotated[str, Path(pattern=ITEM_REF_PATTERN, max_length=64,
                               description="The item's number, or 8 to 64 hex digits of "
                                           "its sha256.")]
JobPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [FILE_FIELD],
        "properties": {
            FILE_FIELD: {"type": "string", "format": "binary",
                         "description": "The bulletin: any common audio or video file."},
            "title": {"type": "string", "maxLength": 200,
                      "description": "Default: the file name without its extension."},
            "chime": {"type": "boolean",
                      "description": "Add the attention chime before and after "
                                     "(default: the station's setting)."}}}}}}}


class LibraryItemOut(Output):
    id: int
    commune: str
    sha256: str
    title: str
    source_name: str
    source_format: str
    imported_by: str | None
    imported_at: dt.datetime
    duration_ms: int
    size_bytes: int
    bitrate_bps: int
    integrated_lufs: float
    speech_lufs: float
    true_peak_dbtp: float
    chime: bool
    used_by: list[str] = Field(default_factory=list)


class JobErrorOut(BaseModel):
    code: str
    message: str


class ImportJobOut(Output):
    id: str
    commune: str
    name: str
    title: str | None
    chime: bool
    state: str
    stage: str | None
    percent: int
    ahead: int
    outcome: str | None
    item: LibraryItemOut | None
    error: JobErrorOut | None
    submitted_by: str
    submitted_at: dt.datetime
    finished_at: dt.datetime | None


class RenameIn(Input):
    title: Name


class TransferOut(Output):
    agent_id: str
    sha256: str
    title: str | None
    size_bytes: int
    sent_bytes: int
    percent: int
    state: str
    position: int
    need_by: dt.datetime | None


class TransfersOut(Output):
    commune: str
    running: bool
    endpoint: str | None
    transfers: list[TransferOut]
    stats: dict[str, int]


class AgentDistributionOut(Output):
    agent_id: str
    targeted: bool = Field(description="Its last published plan names the item (a slot, "
                                       "the routine or a pin).")
    state: str = Field(description="waiting (nothing noted since the controller started), "
                                   "queued, sending, late, cached or failed.")
    percent: int
    sent_bytes: int
    size_bytes: int
    reason: str | None = Field(description="Why it failed: not_found, corrupt, bad_range, "
                                           "cancelled, disconnected, denied, stalled, "
                                           "unreadable.")
    updated_at: dt.datetime | None


class DistributionOut(Output):
    commune: str
    sha256: str
    title: str
    size_bytes: int
    running: bool
    pending: int = Field(description="Targeted agents whose transfer has not ended.")
    agents: list[AgentDistributionOut]


def library_of(request: Request) -> LibraryService:
    return services_of(request).library


def job_out(job: ImportJob, language: str) -> ImportJobOut:
    message = job.error_message(language)
    return ImportJobOut(
        id=job.id, commune=job.commune, name=job.name, title=job.title, chime=job.chime,
        state=job.state.value, stage=job.stage.value if job.stage else None,
        percent=job.percent, ahead=job.ahead,
        outcome=job.outcome.value if job.outcome else None,
        item=LibraryItemOut.model_validate(job.item) if job.item else None,
        error=JobErrorOut(code=job.error_code or "error", message=message)
        if message is not None else None,
        submitted_by=job.submitted_by, submitted_at=job.submitted_at,
        finished_at=job.finished_at)


def parse_chime(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    lowered = value.strip().lower()
    if lowered in TRUE or lowered in FALSE:
        return lowered in TRUE
    raise Invalid(N_("chime must be true or false."))


async def problem_response(request: Request, exc: Exception) -> JSONResponse:
    """The library's own refusals, with the HTTP status each one means."""
    assert isinstance(exc, LibraryProblem)
    return error_response(exc.status, exc.code, exc.translated(request_language(request)))


# ---------------------------------------------------------------------------- imports


@router.post("/communes/{commune}/library/imports", response_model=ImportJobOut,
             status_code=status.HTTP_202_ACCEPTED, tags=["library"],
             openapi_extra=UPLOAD_BODY,
             responses={413: {"model": ErrorBody}, 429: {"model": ErrorBody}})
async def upload(request: Request, who: Who, commune: CommunePath) -> ImportJobOut:
    """Upload a bulletin; it is processed in the background (follow the job)."""
    library = library_of(request)
    target = await run_in_threadpool(library.authorise_import, who, commune)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > library.spool.max_bytes + ENVELOPE_BYTES:
        raise UploadTooLarge(library.spool.max_bytes // (1024 * 1024))
    receiver = library.spool.receiver(request.headers.get("content-type"))
    try:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(receiver.feed, chunk)
        received = await run_in_threadpool(receiver.finish)
    except ClientDisconnect:
        receiver.discard()
        raise BadUpload(N_("The upload was cut off before its end; send it again.")) \
            from None
    except BaseException:
        receiver.discard()
        raise
    try:
        chime = parse_chime(received.fields.get("chime"))
        title = received.fields.get("title") or None
    except Invalid:
        received.discard()
        raise
    job = await run_in_threadpool(library.submit, who, target, received, title=title,
                                  chime=chime)
    return job_out(job, request_language(request))


@router.get("/communes/{commune}/library/imports", response_model=list[ImportJobOut],
            tags=["library"])
def list_imports(request: Request, who: Who, commune: CommunePath) -> list[ImportJobOut]:
    """This commune's recent imports (kept a day, in memory), newest first."""
    language = request_language(request)
    return [job_out(job, language) for job in library_of(request).jobs_of(who, commune)]


@router.get("/communes/{commune}/library/imports/{job_id}", response_model=ImportJobOut,
            tags=["library"])
def get_import(request: Request, who: Who, commune: CommunePath,
               job_id: JobPath) -> ImportJobOut:
    return job_out(library_of(request).job(who, commune, job_id), request_language(request))


# ---------------------------------------------------------------------------- items


@router.get("/communes/{commune}/library", response_model=list[LibraryItemOut],
            tags=["library"])
def list_items(request: Request, who: Who, commune: CommunePath) -> list[LibraryItemOut]:
    """The commune's library, newest first."""
    return [LibraryItemOut.model_validate(item)
            for item in library_of(request).list_items(who, commune)]


@router.get("/communes/{commune}/library/{item}", response_model=LibraryItemOut,
            tags=["library"])
def get_item(request: Request, who: Who, commune: CommunePath,
             item: ItemPath) -> LibraryItemOut:
    """One item, with the programmes that still use it (``used_by``)."""
    return LibraryItemOut.model_validate(library_of(request).get_item(who, commune, item))


@router.patch("/communes/{commune}/library/{item}", response_model=LibraryItemOut,
              tags=["library"])
def rename_item(request: Request, who: Who, commune: CommunePath, item: ItemPath,
                body: RenameIn) -> LibraryItemOut:
    return LibraryItemOut.model_validate(library_of(request).rename(who, commune, item,
                                                                    body.title))


@router.delete("/communes/{commune}/library/{item}", response_model=LibraryItemOut,
               tags=["library"])
def delete_item(request: Request, who: Who, commune: CommunePath,
                item: ItemPath) -> LibraryItemOut:
    """Refused (409 ``in_use``) while a programme still uses the item; the answer is
    the item as it was."""
    return LibraryItemOut.model_validate(library_of(request).delete(who, commune, item))


# ---------------------------------------------------------------------------- transfers


@router.get("/communes/{commune}/content/transfers", response_model=TransfersOut,
            tags=["content"])
def transfers(request: Request, who: Who, commune: CommunePath) -> TransfersOut:
    """What the content service is sending to this commune's agents, most urgent first."""
    return TransfersOut.model_validate(library_of(request).transfers(who, commune))


@router.get("/communes/{commune}/library/{item}/distribution", response_model=DistributionOut,
            tags=["content"])
def distribution(request: Request, who: Who, commune: CommunePath,
                 item: ItemPath) -> DistributionOut:
    """One item on its way to the agents: per agent, its state and percent (the
    ``content_transfer`` events carry the same, as it changes)."""
    report = library_of(request).distribution(who, commune, item)
    return DistributionOut(
        commune=report.commune, sha256=report.sha256, title=report.title,
        size_bytes=report.size_bytes, running=report.running, pending=report.pending,
        agents=[AgentDistributionOut.model_validate(a) for a in report.agents])
