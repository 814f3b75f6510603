"""The Thư viện (Library) tab: the commune's bulletins with their length and loudness,
importing a file with a progress bar, renaming and deleting (after a confirmation).

An import is the CLI's ``loaxa library import``: the file is uploaded (the bar follows
the bytes sent), then the controller's import job is followed until it ends (the bar
follows its stages). A refused file (corrupt, silent, ...) is a notification with the
library's reason, in the reader's language.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, ProgressBar

from controller.i18n import N_, _

from ..connection import ApiError
from ..forms.common import (
    cell,
    decimal,
    duration_text,
    localise,
    rows_of,
    show_refusal,
    tell,
)
from ..forms.dialogs import ConfirmDialog, PromptDialog
from ..forms.transfer import upload
from ..messages import LiveEvent
from ..table import Table
from .base import Pane

POLL_S = 0.25
STAGES = {"uploading": N_("uploading the file"), "queued": N_("waiting for its turn"),
          "checking": N_("checking the file"), "rendering": N_("normalising and encoding"),
          "measuring": N_("measuring loudness"), "storing": N_("storing in the library")}
FINISHED = ("done", "refused", "failed")


class LibraryPane(Pane):
    TITLE = N_("Library")
    KEY = "library"
    DEFAULT_CSS = """
    LibraryPane #library-import {
        height: auto;
    }
    LibraryPane #library-path {
        width: 1fr;
    }
    LibraryPane #library-progress-row {
        height: 1;
    }
    LibraryPane #library-progress-row.idle {
        display: none;
    }
    LibraryPane #library-stage {
        width: 1fr;
        padding-left: 1;
    }
    LibraryPane #library-items {
        height: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "focus_import", N_("Import a file")),
        Binding("r", "rename", N_("Rename")),
        Binding("d,delete", "delete", N_("Delete")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.items: list[dict[str, Any]] = []
        self.importing = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="library-import"):
            yield Input(placeholder=_("File to import (Enter), e.g. /home/op/ban-tin.mp3"),
                        id="library-path")
        with Horizontal(id="library-progress-row", classes="idle"):
            yield ProgressBar(total=100, show_eta=False, id="library-progress")
            yield Label("", id="library-stage")
        table: Table[str] = Table(id="library-items", cursor_type="row",
                                          zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#library-items", DataTable)
        table.add_column(_("Item no."), key="id")
        table.add_column(_("Bulletin title"), key="title")
        table.add_column(_("Audio length"), key="duration")
        table.add_column(_("LUFS"), key="lufs")
        table.add_column(_("Peak dBTP"), key="peak")
        table.add_column(_("kbit/s"), key="bitrate")

    # ------------------------------------------------------------------ showing
    async def reload(self) -> None:
        if not self.commune:
            return
        try:
            answer = await self.connection.call("GET", f"/communes/{self.commune}/library")
        except ApiError as error:
            if not error.unreachable:
                show_refusal(self, error)
            return
        self.show_items(rows_of(answer))

    def focus_main(self) -> None:
        self.query_one("#library-items", DataTable).focus()

    def on_live_event(self, message: LiveEvent) -> None:
        """Another operator changed the library: show it (unless importing here)."""
        if message.kind == "library_item" and message.event.get("commune") == \
                self.commune and self.shown and not self.importing:
            self.run_worker(self.reload(), group="library-reload", exclusive=True)

    def show_items(self, items: list[dict[str, Any]], select: int | None = None) -> None:
        self.items = items
        table = self.query_one("#library-items", DataTable)
        current = self.selected()
        keep = select if select is not None else (current["id"] if current else None)
        table.clear()
        for item in items:
            table.add_row(cell(item["id"]), cell(item["title"]),
                          cell(duration_text(item.get("duration_ms"))),
                          cell(decimal(item.get("integrated_lufs"))),
                          cell(decimal(item.get("true_peak_dbtp"))),
                          cell(int(item.get("bitrate_bps") or 0) // 1000),
                          key=str(item["id"]))
        if not items:
            table.add_row(cell(""), Text(_("The library is empty.")), key="empty")
        for row, item in enumerate(items):
            if item["id"] == keep:
                table.move_cursor(row=row)

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one("#library-items", DataTable)
        if not self.items or not 0 <= table.cursor_row < len(self.items):
            return None
        return self.items[table.cursor_row]

    # ------------------------------------------------------------------ importing
    def action_focus_import(self) -> None:
        self.query_one("#library-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "library-path":
            return
        event.stop()
        text = event.value.strip()
        if not text:
            return
        if self.importing:
            tell(self, _("An import is already under way."), severity="warning")
            return
        path = Path(text).expanduser()
        if not path.is_file():
            tell(self, _("No such file: {path}").format(path=path), severity="error",
                        title=_("Import a file"))
            return
        self.importing = True
        self.run_worker(self.import_file(path), group="import", exclusive=True)

    def show_progress(self, stage: str, percent: int) -> None:
        self.query_one("#library-progress-row").set_class(False, "idle")
        self.query_one("#library-progress", ProgressBar).update(progress=percent)
        self.query_one("#library-stage", Label).update(_(STAGES.get(stage, stage)))

    def hide_progress(self) -> None:
        self.query_one("#library-progress-row").set_class(True, "idle")

    async def import_file(self, path: Path) -> None:
        field = self.query_one("#library-path", Input)
        field.disabled = True
        size = max(1, path.stat().st_size)
        sent = [0]
        ticker = self.set_interval(0.1, lambda: self.show_progress(
            "uploading", min(100, sent[0] * 100 // size)))
        self.show_progress("uploading", 0)
        try:
            job = await upload(self.connection, self.commune, path,
                               on_read=lambda done: sent.__setitem__(0, done))
            ticker.stop()
            job = await self.follow(job)
        except ApiError as error:
            ticker.stop()
            show_refusal(self, error)
            return
        finally:
            self.importing = False
            field.disabled = False
            self.hide_progress()
        self.finished(job)
        field.value = ""
        item = job.get("item") or {}
        await self.reload_selecting(item.get("id"))
        self.query_one("#library-items", DataTable).focus()

    async def follow(self, job: dict[str, Any]) -> dict[str, Any]:
        while job.get("state") not in FINISHED:
            stage = "queued" if job.get("state") == "queued" else str(job.get("stage")
                                                                     or "queued")
            self.show_progress(stage, int(job.get("percent") or 0))
            await asyncio.sleep(POLL_S)
            job = await self.connection.call(
                "GET", f"/communes/{self.commune}/library/imports/{job['id']}")
        return job

    def finished(self, job: dict[str, Any]) -> None:
        item = job.get("item")
        if job.get("state") == "done" and isinstance(item, dict):
            if job.get("outcome") == "duplicate":
                text = _("{name} is already in the library as «{title}» (number {id})."
                         ).format(name=job["name"], title=item["title"], id=item["id"])
            else:
                text = _("Added «{title}» as number {id}: {duration}, {lufs:.1f} LUFS, "
                         "code {code}.").format(
                    title=item["title"], id=item["id"],
                    duration=duration_text(item["duration_ms"]), lufs=item["speech_lufs"],
                    code=str(item["sha256"])[:12])
            tell(self, text, title=_("Import a file"))
            return
        error = job.get("error") or {}
        tell(self, str(error.get("message") or _("The import failed.")),
                    title=_("{name} was not imported").format(name=job.get("name", "")),
                    severity="error", timeout=10)

    async def reload_selecting(self, item_id: Any) -> None:
        try:
            answer = await self.connection.call("GET", f"/communes/{self.commune}/library")
        except ApiError as error:
            show_refusal(self, error)
            return
        self.show_items(rows_of(answer), select=item_id if isinstance(item_id, int)
                        else None)

    # ------------------------------------------------------------------ changing
    def action_rename(self) -> None:
        item = self.selected()
        if item is not None:
            self.run_worker(self.rename(item), group="library-change")

    def action_delete(self) -> None:
        item = self.selected()
        if item is not None:
            self.run_worker(self.delete(item), group="library-change")

    async def rename(self, item: dict[str, Any]) -> None:
        title = await self.app.push_screen_wait(PromptDialog(
            _("New title for bulletin number {id}").format(id=item["id"]),
            value=str(item["title"]), placeholder=_("Bulletin title")))
        if not title or title == item["title"]:
            return
        try:
            renamed = await self.connection.call(
                "PATCH", f"/communes/{self.commune}/library/{item['id']}",
                body={"title": title})
        except ApiError as error:
            show_refusal(self, error)
            return
        tell(self, _("Renamed number {id} to «{title}».").format(
            id=renamed["id"], title=renamed["title"]))
        await self.reload_selecting(renamed["id"])

    async def delete(self, item: dict[str, Any]) -> None:
        sure = await self.app.push_screen_wait(ConfirmDialog(
            _("Delete a bulletin"),
            _("Delete «{title}» (number {id}) from the library?").format(
                title=item["title"], id=item["id"]),
            _("Delete"), danger=True))
        if not sure:
            return
        try:
            deleted = await self.connection.call(
                "DELETE", f"/communes/{self.commune}/library/{item['id']}")
        except ApiError as error:
            show_refusal(self, error)
            return
        tell(self, _("Deleted «{title}» (number {id}).").format(
            title=deleted["title"], id=deleted["id"]))
        await self.reload()
