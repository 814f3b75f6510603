"""``loaxa library ...``: the commune's bulletins (import, list, show, rename, delete) and
their way to the agents (``transfers``).

``import`` uploads each file to the controller (over the local socket or TCP alike, so
it works from an operator's laptop too), then follows the import jobs until they end:
a progress bar on a terminal, one line per stage otherwise (logs, scripts), on stderr so
``--json`` output stays clean. A refused file is named with its reason and the others
still go in; the exit code says whether everything did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import httpx

from controller.i18n import N_, _
from controller.library.errors import clock_text

from .client import ApiClient
from .common import confirm, seg
from .context import api, context
from .errors import EXIT_ERROR, EXIT_REFUSED, EXIT_UNAVAILABLE, CliError
from .library_watch import state_text, watch
from .output import STATE, emit, json_option, pad, say, stdout_is_tty, width

POLL_S = 0.25
BAR_WIDTH = 24
REFUSAL_CODES = {"in_use", "too_large", "busy", "ambiguous", "bad_upload"}
STAGES = {"uploading": N_("uploading the file"), "queued": N_("waiting for its turn"),
          "checking": N_("checking the file"), "rendering": N_("normalising and encoding"),
          "measuring": N_("measuring loudness"), "storing": N_("storing in the library")}
STATES = {"queued": N_("waiting to be processed"), "processing": N_("being processed"),
          "done": N_("imported"), "refused": N_("refused by the library"),
          "failed": N_("import failed")}


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """The library's refusals are "refused" exit codes, like conflicts elsewhere."""
    try:
        yield
    except CliError as error:
        if error.code in REFUSAL_CODES:
            error.exit_code = EXIT_REFUSED
        raise


def commune_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--commune", help=_("The commune (default: this station's)."))(
        function)


def commune_or_default(commune: str | None) -> str:
    return commune or context().settings().station.commune


def library_path(commune: str, *rest: str) -> str:
    return "/".join([f"/communes/{seg(commune)}/library", *(seg(r) for r in rest)])


# ---------------------------------------------------------------------------- rendering


def duration_text(ms: int | None) -> str:
    return clock_text(ms / 1000) if ms is not None else "-"


def local_time(value: str | None, seconds: bool = False) -> str:
    """An API time (UTC, ISO 8601) in the station's time zone, as operators read clocks."""
    if not value:
        return "-"
    try:
        when = dt.datetime.fromisoformat(value)
        zone = ZoneInfo(context().settings().station.timezone)
    except (ValueError, CliError):
        return value
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{size / 1024:.0f} kB" if size >= 1024 else f"{size} B"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> None:
    if not rows:
        click.echo(empty)
        return
    sizes = [max(width(h), *(width(row[i]) for row in rows)) for i, h in enumerate(headers)]
    click.echo("  ".join(pad(h, s) for h, s in zip(headers, sizes, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(pad(c, s) for c, s in zip(row, sizes, strict=True)).rstrip())


def fields(pairs: Sequence[tuple[str, str]]) -> None:
    size = max((width(label) for label, _value in pairs), default=0)
    for label, value in pairs:
        click.echo(f"{pad(label, size)}  {value}")


def show_item(item: dict[str, Any]) -> None:
    fields([
        (_("Item no."), str(item["id"])), (_("Bulletin title"), item["title"]),
        (_("Code (sha256)"), item["sha256"]), (_("Source file"), item["source_name"] or "-"),
        (_("Source format"), item["source_format"] or "-"),
        (_("Imported by"), item["imported_by"] or "-"),
        (_("Imported at"), local_time(item["imported_at"], seconds=True)),
        (_("Audio length"), duration_text(item["duration_ms"])),
        (_("Item loudness"), f"{item['integrated_lufs']:.1f} LUFS"),
        (_("Speech loudness"), f"{item['speech_lufs']:.1f} LUFS"),
        (_("Item true peak"), f"{item['true_peak_dbtp']:.1f} dBTP"),
        (_("Opus bitrate"), f"{item['bitrate_bps'] // 1000} kbit/s"),
        (_("File size"), size_text(item["size_bytes"])),
        (_("Attention chime"), _("yes") if item["chime"] else _("no")),
        (_("Used by programmes"), ", ".join(item.get("used_by") or []) or "-")])


def show_items(items: list[dict[str, Any]]) -> None:
    table([_("Item no."), _("Bulletin title"), _("Audio length"), _("Item loudness"),
           _("Imported at"), _("Imported by"), _("Content code")],
          [[str(i["id"]), i["title"], duration_text(i["duration_ms"]),
            f"{i['integrated_lufs']:.1f} LUFS", local_time(i["imported_at"]),
            i["imported_by"] or "-", i["sha256"][:12]] for i in items],
          _("The library is empty."))


# ---------------------------------------------------------------------------- progress


class Progress:
    """Where an import stands, drawn on stderr: a bar on a terminal, lines otherwise."""

    def __init__(self, name: str, tty: bool) -> None:
        self.name = name
        self.tty = tty
        self.last: tuple[str, int] | None = None

    def show(self, stage: str, percent: int) -> None:
        if (stage, percent) == self.last:
            return
        changed_stage = self.last is None or self.last[0] != stage
        self.last = (stage, percent)
        label = _(STAGES.get(stage) or STATES.get(stage) or stage)
        if self.tty:
            filled = BAR_WIDTH * max(0, min(100, percent)) // 100
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            click.echo(f"\r{self.name}  [{bar}] {percent:3d}%  {label}\x1b[K", nl=False,
                       err=True)
        elif changed_stage:
            click.echo(f"{self.name}: {percent}% {label}", err=True)

    def end(self) -> None:
        if self.tty and self.last is not None:
            click.echo("", err=True)


class CountingFile(io.FileIO):
    """A file whose reads are counted (httpx streams uploads by reading the file)."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(path, "rb")
        self.on_read = on_read
        self.done = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size if size is not None else -1) or b""
        self.done += len(data)
        self.on_read(self.done)
        return data


def _answer(client: ApiClient, response: httpx.Response) -> Any:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400:
        if isinstance(payload, dict) and "code" in payload and "message" in payload:
            raise CliError(str(payload["message"]), code=str(payload["code"]),
                           details=list(payload.get("details") or []))
        raise CliError(_("The controller answered {status}.").format(
            status=response.status_code))
    return payload


def upload(client: ApiClient, commune: str, path: Path, *, title: str | None,
           chime: bool | None, progress: Progress) -> dict[str, Any]:
    """Send one file; the import job the controller started for it."""
    size = path.stat().st_size
    form = {k: v for k, v in {"title": title, "chime": None if chime is None else
                              ("true" if chime else "false")}.items() if v is not None}
    progress.show("uploading", 0)
    with CountingFile(path, lambda done: progress.show(
            "uploading", min(100, done * 100 // size) if size else 100)) as handle:
        try:
            response = client.http.post(f"/v1{library_path(commune, 'imports')}",
                                        files={"file": (path.name, handle)}, data=form)
        except httpx.HTTPError as exc:
            raise CliError(_("The connection to the controller failed: {error}").format(
                error=exc), code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
    job: dict[str, Any] = _answer(client, response)
    return job


def follow(client: ApiClient, commune: str, job: dict[str, Any],
           progress: Progress) -> dict[str, Any]:
    """Poll the job until it ends, drawing its progress."""
    while True:
        stage = job["stage"] or job["state"]
        progress.show(stage if job["state"] != "queued" else "queued", job["percent"])
        if job["state"] in ("done", "refused", "failed"):
            progress.end()
            return job
        time.sleep(POLL_S)
        job = client.call("GET", library_path(commune, "imports", job["id"]))


def report(job: dict[str, Any]) -> None:
    item = job.get("item")
    if job["state"] == "done" and item is not None:
        if job["outcome"] == "duplicate":
            say(_("{name} is already in the library as «{title}» (number {id}).").format(
                name=job["name"], title=item["title"], id=item["id"]))
        else:
            say(_("Added «{title}» as number {id}: {duration}, {lufs:.1f} LUFS, code "
                  "{code}.").format(title=item["title"], id=item["id"],
                                    duration=duration_text(item["duration_ms"]),
                                    lufs=item["speech_lufs"], code=item["sha256"][:12]))
    elif job.get("error"):
        click.echo(_("Error: {message}").format(message=job["error"]["message"]), err=True)


# ---------------------------------------------------------------------------- commands


@click.group("library", help=_("The commune's bulletins: import, list, rename, delete."))
def library() -> None:
    pass


@library.command("import", help=_("Import audio or video files as bulletins."))
@click.argument("files", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--title", help=_("The title (one file only; default: the file name)."))
@click.option("--chime/--no-chime", default=None,
              help=_("Add the attention chime before and after (default: the station's "
                     "setting)."))
@click.option("--wait/--no-wait", default=True, show_default=True,
              help=_("Wait until each file is processed."))
@commune_option
@json_option
def import_files(files: tuple[Path, ...], title: str | None, chime: bool | None, wait: bool,
                 commune: str | None) -> None:
    if title is not None and len(files) != 1:
        raise click.UsageError(_("--title needs exactly one file."))
    where = commune_or_default(commune)
    client = api()
    tty = sys.stderr.isatty()
    pending: list[tuple[dict[str, Any], Progress]] = []
    with refusals():
        for path in files:
            progress = Progress(path.name, tty)
            job = upload(client, where, path, title=title, chime=chime, progress=progress)
            pending.append((job, progress))
    if not wait:
        def queued(jobs: list[dict[str, Any]]) -> None:
            for job in jobs:
                say(_("{name}: import {id} queued.").format(name=job["name"], id=job["id"]))

        emit([job for job, _progress in pending], queued)
        return
    finished = [follow(client, where, job, progress) for job, progress in pending]
    if STATE.json:
        emit(finished, lambda _jobs: None)
    else:
        for job in finished:
            report(job)
    states = {job["state"] for job in finished}
    if states != {"done"}:
        raise click.exceptions.Exit(EXIT_ERROR if "failed" in states else EXIT_REFUSED)


@library.command("list", help=_("The bulletins in the library, newest first."))
@commune_option
@json_option
def list_items(commune: str | None) -> None:
    emit(api().call("GET", library_path(commune_or_default(commune))), show_items)


@library.command("show", help=_("One bulletin (by number, or the start of its code)."))
@click.argument("item")
@commune_option
@json_option
def show(item: str, commune: str | None) -> None:
    emit(api().call("GET", library_path(commune_or_default(commune), item)), show_item)


@library.command("rename", help=_("Give a bulletin a new title."))
@click.argument("item")
@click.argument("title")
@commune_option
@json_option
def rename(item: str, title: str, commune: str | None) -> None:
    result = api().call("PATCH", library_path(commune_or_default(commune), item),
                        body={"title": title})
    emit(result, lambda i: say(_("Renamed number {id} to «{title}».").format(
        id=i["id"], title=i["title"])))


@library.command("delete", help=_("Delete a bulletin (refused while a programme uses it)."))
@click.argument("item")
@click.option("--yes", "assume_yes", is_flag=True, help=_("Do not ask for confirmation."))
@commune_option
@json_option
def delete(item: str, assume_yes: bool, commune: str | None) -> None:
    where = commune_or_default(commune)
    confirm(_("Delete bulletin {item} from the library?").format(item=item), assume_yes)
    with refusals():
        result = api().call("DELETE", library_path(where, item))
    emit(result, lambda i: say(_("Deleted «{title}» (number {id}).").format(
        title=i["title"], id=i["id"])))


@library.command("imports", help=_("Recent imports and where they stand."))
@commune_option
@json_option
def imports(commune: str | None) -> None:
    def human(jobs: list[dict[str, Any]]) -> None:
        table([_("Uploaded file"), _("Import state"), _("Import progress"), _("Uploaded by"),
               _("Import result")],
              [[j["name"], _(STATES.get(j["state"], j["state"])), f"{j['percent']}%",
                j["submitted_by"],
                (j["error"] or {}).get("message") or (j["item"] or {}).get("title") or "-"]
               for j in jobs], _("No recent imports."))

    emit(api().call("GET", library_path(commune_or_default(commune), "imports")), human)


@library.command("transfers", help=_(
    "Bulletins on their way to the agents: what is being sent, or where the given "
    "bulletins stand on every agent that needs them."))
@click.argument("items", nargs=-1)
@click.option("--watch", "follow_up", is_flag=True,
              help=_("Follow until every agent that needs the bulletins has them (a "
                     "progress bar per agent on a terminal, a line per change otherwise)."))
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), default=600.0,
              show_default=True, help=_("With --watch: give up after this many seconds."))
@commune_option
@json_option
def transfers(items: tuple[str, ...], follow_up: bool, timeout_s: float,
              commune: str | None) -> None:
    where = commune_or_default(commune)
    client = api()
    if not items and not follow_up:
        emit(client.call("GET", f"/communes/{seg(where)}/content/transfers"), show_transfers)
        return
    if not items:  # what is on its way now
        sending = client.call("GET", f"/communes/{seg(where)}/content/transfers")
        items = tuple(dict.fromkeys(t["sha256"] for t in sending["transfers"]))
        if not items:
            emit([], lambda _reports: click.echo(_("Nothing is being sent.")))
            return

    def fetch() -> list[dict[str, Any]]:
        return [client.call("GET", library_path(where, item, "distribution"))
                for item in items]

    if not follow_up:
        emit(fetch(), show_distribution)
        return
    mode = "json" if STATE.json else ("tty" if stdout_is_tty() else "lines")
    if not watch(fetch, mode, timeout_s):
        raise click.exceptions.Exit(EXIT_ERROR)


def show_transfers(data: dict[str, Any]) -> None:
    if not data["running"]:
        click.echo(_("The content service is not running in this controller."))
        return
    table([_("Agent"), _("Bulletin title"), _("Content code"), _("Sent so far"),
           _("Transfer state"), _("First airing")],
          [[t["agent_id"], t["title"] or "-", t["sha256"][:12],
            f"{t['percent']}% ({size_text(t['sent_bytes'])}/{size_text(t['size_bytes'])})",
            state_text(t), local_time(t["need_by"])]
           for t in data["transfers"]], _("Nothing is being sent."))
    stats = data.get("stats") or {}
    if stats:
        click.echo(_("Completed: {completed}; sent: {sent}; refused as unknown: "
                     "{unauthorised}.").format(completed=stats.get("completed", 0),
                                                sent=size_text(stats.get("bytes", 0)),
                                                unauthorised=stats.get("unauthorised", 0)))


def show_distribution(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        click.echo(f"«{report['title']}» ({report['sha256'][:12]}, "
                   f"{size_text(report['size_bytes'])})")
        table([_("Agent"), _("Sent so far"), _("Transfer state")],
              [[a["agent_id"], f"{a['percent']}% ({size_text(a['sent_bytes'])})",
                state_text(a)] for a in report["agents"]],
              _("No agent needs it yet."))


COMMANDS = [library]
