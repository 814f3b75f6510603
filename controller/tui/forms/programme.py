"""The programme form: what airs (a library item), when (once, every day, on weekdays,
over a date range, or every N minutes within a window), where (villages, clusters), in
which session, at which priority and with which policy.

Saving asks the controller first (``POST .../programmes/check``, which stores nothing):
conflicts with the approved schedule are shown with the override/append choice, and the
programme is then created (or its edit saved) as a draft with that choice. Anything the
controller refuses is a notification and the form stays open to be corrected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, SelectionList

from controller.i18n import N_, _

from ..connection import ApiError, Connection
from .base import FormScreen, Invalid
from .common import localise, show_refusal
from .dialogs import ConflictDialog

KINDS = {"once": N_("once, on a date"), "daily": N_("every day"),
         "weekly": N_("on chosen weekdays"), "range": N_("every day of a date range"),
         "every": N_("every N minutes (storm bulletins)")}
PRIORITIES = {"normal": N_("normal"), "priority": N_("priority (aired first)"),
              "fill": N_("filler (only when nothing else airs)")}
POLICIES = {"queue_after": N_("wait until what is playing ends"),
            "preempt": N_("interrupt what is playing"),
            "skip_if_busy": N_("skip it if something is playing")}
WEEKDAYS = {"mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"),
            "fri": N_("Fri"), "sat": N_("Sat"), "sun": N_("Sun")}
#: Which fields each kind of recurrence uses (the others are hidden).
KIND_FIELDS = {"once": {"on", "at"}, "daily": {"at", "since"},
               "weekly": {"at", "since", "weekdays"},
               "range": {"first", "last", "at", "weekdays"},
               "every": {"minutes", "start", "end", "daily-from", "daily-until"}}
ALL_KIND_FIELDS = set().union(*KIND_FIELDS.values())


@dataclass
class Choices:
    """What the form offers: the library, sessions, villages and clusters (``(label,
    key)`` pairs)."""

    items: list[tuple[str, str]] = field(default_factory=list)
    sessions: list[tuple[str, str]] = field(default_factory=list)
    villages: list[tuple[str, str]] = field(default_factory=list)
    clusters: list[tuple[str, str]] = field(default_factory=list)


def clock(value: Any) -> str:
    """``"06:00:00"`` -> ``"06:00"`` (what the operator types)."""
    return str(value)[:5] if value else ""


def moment(value: Any) -> str:
    """``"2026-12-01T06:00:00"`` -> ``"2026-12-01 06:00"``."""
    return str(value).replace("T", " ")[:16] if value else ""


def parse_date(field_id: str, text: str, required: bool = True) -> str | None:
    text = text.strip()
    if not text and not required:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise Invalid(field_id, _("Write the date as YYYY-MM-DD, e.g. 2026-12-01.")) \
            from None


def parse_time(field_id: str, text: str, required: bool = False) -> str | None:
    text = text.strip()
    if not text and not required:
        return None
    for pattern in ("%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).time().isoformat()
        except ValueError:
            continue
    raise Invalid(field_id, _("Write the time as HH:MM, e.g. 05:30."))


def parse_moment(field_id: str, text: str) -> str:
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).isoformat()
        except ValueError:
            continue
    raise Invalid(field_id, _("Write the date and time as YYYY-MM-DD HH:MM, e.g. "
                              "2026-12-01 05:30."))


class ProgrammeForm(FormScreen):
    SAVE_GROUP = "programme-save"
    """Create a programme (``programme`` is None) or edit one; dismissed with the
    programme as the controller stored it, or None when cancelled."""

    DEFAULT_CSS = """
    ProgrammeForm {
        align: center middle;
    }
    ProgrammeForm > #form {
        width: 80;
        max-width: 100%;
        height: 100%;
        max-height: 24;
        border: thick $primary;
        background: $surface;
    }
    ProgrammeForm #form-title {
        text-style: bold;
        width: 100%;
        padding: 0 1;
    }
    ProgrammeForm #fields {
        height: 1fr;
        padding: 0 1;
    }
    ProgrammeForm .row {
        height: auto;
    }
    ProgrammeForm .row > Label {
        width: 16;
        padding-right: 1;
    }
    ProgrammeForm .row > Input, ProgrammeForm .row > Select {
        width: 1fr;
    }
    ProgrammeForm .row > SelectionList {
        width: 1fr;
        height: auto;
        max-height: 4;
    }
    ProgrammeForm .hidden {
        display: none;
    }
    ProgrammeForm #weekdays Checkbox {
        border: none;
        padding: 0;
        margin-right: 1;
        height: 1;
        width: auto;
    }
    ProgrammeForm .buttons {
        height: auto;
        padding: 0 1;
    }
    ProgrammeForm .buttons Button {
        margin-right: 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", N_("Save"), priority=True),
        Binding("escape", "cancel", N_("Cancel")),
    ]

    def __init__(self, connection: Connection, commune: str, choices: Choices,
                 programme: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.connection, self.commune, self.choices = connection, commune, choices
        self.programme = programme

    # ------------------------------------------------------------------ layout
    def row(self, label: str, widget: Widget, row_id: str = "") -> Horizontal:
        return Horizontal(Label(label), widget, classes="row", id=row_id or None)

    def compose(self) -> ComposeResult:
        p = self.programme or {}
        rule: dict[str, Any] = p.get("recurrence") or {"kind": "daily"}
        kind = str(rule.get("kind", "daily"))
        items = p.get("items") or []
        chosen_item = items[0]["content"] if items else Select.NULL
        days = set(rule.get("weekdays") or [])
        with Vertical(id="form"):
            yield Label(_("Edit programme {key}").format(key=p["key"]) if p
                        else _("New programme"), id="form-title")
            with VerticalScroll(id="fields"):
                yield self.row(_("Title"), Input(str(p.get("title", "")), compact=True,
                                                 placeholder=_("e.g. Morning news"),
                                                 id="f-title"))
                if not p:
                    yield self.row(_("Programme id"), Input(
                        compact=True, placeholder=_("optional, e.g. tin-sang"),
                        id="f-key"))
                yield self.row(_("Bulletin"), Select(
                    self.choices.items, prompt=_("Choose a library item"), compact=True,
                    value=chosen_item if any(v == chosen_item for _l, v in
                                             self.choices.items) else Select.NULL,
                    id="f-item"))
                yield self.row(_("Repeats"), Select(
                    [(_(label), key) for key, label in KINDS.items()], compact=True,
                    allow_blank=False, value=kind if kind in KINDS else "daily",
                    id="f-kind"))
                yield self.row(_("On (date)"), Input(
                    str(rule.get("on") or ""), compact=True, placeholder=_("YYYY-MM-DD"),
                    id="f-on"), "row-on")
                yield self.row(_("First day"), Input(
                    str(rule.get("first") or ""), compact=True, placeholder=_("YYYY-MM-DD"),
                    id="f-first"), "row-first")
                yield self.row(_("Last day"), Input(
                    str(rule.get("last") or ""), compact=True, placeholder=_("YYYY-MM-DD"),
                    id="f-last"), "row-last")
                with Horizontal(classes="row", id="row-weekdays"):
                    yield Label(_("Weekdays"))
                    with Horizontal(id="weekdays"):
                        for day, label in WEEKDAYS.items():
                            yield Checkbox(_(label), day in days or "all" in days,
                                           id=f"f-day-{day}")
                yield self.row(_("At (time)"), Input(
                    clock(rule.get("at")), compact=True,
                    placeholder=_("HH:MM; empty: the session's start"), id="f-at"),
                    "row-at")
                yield self.row(_("Since (date)"), Input(
                    str(rule.get("since") or ""), compact=True,
                    placeholder=_("optional, YYYY-MM-DD"), id="f-since"), "row-since")
                yield self.row(_("Every (minutes)"), Input(
                    str(rule.get("minutes") or ""), compact=True, type="integer",
                    placeholder=_("e.g. 60"), id="f-minutes"), "row-minutes")
                yield self.row(_("From"), Input(
                    moment(rule.get("start")), compact=True,
                    placeholder=_("YYYY-MM-DD HH:MM"), id="f-start"), "row-start")
                yield self.row(_("Until"), Input(
                    moment(rule.get("end")), compact=True,
                    placeholder=_("YYYY-MM-DD HH:MM"), id="f-end"), "row-end")
                yield self.row(_("Each day from"), Input(
                    clock(rule.get("daily_from")), compact=True,
                    placeholder=_("optional, HH:MM"), id="f-daily-from"), "row-daily-from")
                yield self.row(_("Each day until"), Input(
                    clock(rule.get("daily_until")), compact=True,
                    placeholder=_("optional, HH:MM"), id="f-daily-until"),
                    "row-daily-until")
                yield self.row(_("Session"), Select(
                    self.choices.sessions, prompt=_("no session"), compact=True,
                    value=p["session"] if p.get("session") in
                    {v for _l, v in self.choices.sessions} else Select.NULL,
                    id="f-session"))
                yield self.row(_("Villages"), SelectionList[str](
                    *((label, key, key in (p.get("villages") or []))
                      for label, key in self.choices.villages),
                    compact=True, id="f-villages"))
                yield self.row(_("Target clusters"), SelectionList[str](
                    *((label, key, key in (p.get("clusters") or []))
                      for label, key in self.choices.clusters),
                    compact=True, id="f-clusters"))
                yield Label(_("No village or cluster chosen: the whole commune."),
                            classes="row")
                priority = str(p.get("priority", "normal"))
                yield self.row(_("Priority"), Select(
                    [(_(label), key) for key, label in PRIORITIES.items()], compact=True,
                    allow_blank=False,
                    value=priority if priority in PRIORITIES else "normal",
                    id="f-priority"))
                policy = str(p.get("policy", "queue_after"))
                yield self.row(_("When busy"), Select(
                    [(_(label), key) for key, label in POLICIES.items()], compact=True,
                    allow_blank=False,
                    value=policy if policy in POLICIES else "queue_after", id="f-policy"))
            with Horizontal(classes="buttons"):
                yield Button(_("Save"), id="save", variant="primary")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.show_kind(str(self.query_one("#f-kind", Select).value))
        self.query_one("#f-title", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-kind":
            self.show_kind(str(event.value))

    def show_kind(self, kind: str) -> None:
        used = KIND_FIELDS.get(kind, set())
        for name in ALL_KIND_FIELDS:
            self.query_one(f"#row-{name}").set_class(name not in used, "hidden")

    # ------------------------------------------------------------------ reading
    def text(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def recurrence(self) -> dict[str, Any]:
        kind = str(self.query_one("#f-kind", Select).value)
        at = parse_time("f-at", self.text("f-at"))
        days = [day for day in WEEKDAYS if self.query_one(f"#f-day-{day}", Checkbox).value]
        if kind == "once":
            return {"kind": "once", "on": parse_date("f-on", self.text("f-on")), "at": at}
        since = parse_date("f-since", self.text("f-since"), required=False)
        if kind == "daily":
            return {"kind": "daily", "at": at, "since": since}
        if kind == "weekly":
            if not days:
                raise Invalid("f-day-mon", _("Choose at least one weekday."))
            return {"kind": "weekly", "weekdays": days, "at": at, "since": since}
        if kind == "range":
            return {"kind": "range", "first": parse_date("f-first", self.text("f-first")),
                    "last": parse_date("f-last", self.text("f-last")), "at": at,
                    "weekdays": days or ["all"]}
        minutes = self.text("f-minutes")
        if not minutes.isdigit() or int(minutes) < 1:
            raise Invalid("f-minutes", _("Say every how many minutes, e.g. 60."))
        return {"kind": "every", "minutes": int(minutes),
                "start": parse_moment("f-start", self.text("f-start")),
                "end": parse_moment("f-end", self.text("f-end")),
                "daily_from": parse_time("f-daily-from", self.text("f-daily-from")),
                "daily_until": parse_time("f-daily-until", self.text("f-daily-until"))}

    def body(self) -> dict[str, Any]:
        """The programme as the API takes it; :class:`Invalid` names a field to fix."""
        title = self.text("f-title")
        if not title:
            raise Invalid("f-title", _("Give the programme a title."))
        item = self.query_one("#f-item", Select).value
        kept = [self.item_ref(i) for i in (self.programme or {}).get("items") or []]
        if item is not Select.NULL:  # the first item chosen here; a playlist's others kept
            items = [{"content": str(item)}, *kept[1:]]
        elif kept:  # an edit of a programme whose item is not in the library (yet)
            items = kept
        else:
            raise Invalid("f-item", _("Choose the bulletin it airs."))
        session = self.query_one("#f-session", Select).value
        body: dict[str, Any] = {
            "title": title, "items": items,
            "recurrence": self.recurrence(),
            "session": None if session is Select.NULL else str(session),
            "villages": list(self.query_one("#f-villages", SelectionList).selected),
            "clusters": list(self.query_one("#f-clusters", SelectionList).selected),
            "priority": str(self.query_one("#f-priority", Select).value),
            "policy": str(self.query_one("#f-policy", Select).value)}
        if self.programme is None and self.text("f-key"):
            body["key"] = self.text("f-key")
        return body

    def item_ref(self, item: dict[str, Any]) -> dict[str, Any]:
        """A programme's item as the API takes it back (with its length when the
        library does not hold it)."""
        ref: dict[str, Any] = {"content": str(item["content"])}
        if not any(value == ref["content"] for _label, value in self.choices.items) \
                and item.get("duration_ms"):
            ref["duration_ms"] = int(item["duration_ms"])
        return ref

    # ------------------------------------------------------------------ saving
    async def save(self, body: dict[str, Any]) -> None:
        try:
            saved = await self.check_and_send(body)
        except ApiError as error:
            show_refusal(self, error)
            saved = None
        finally:
            self.saving = False
        if saved is not None:
            self.dismiss(saved)

    async def check_and_send(self, body: dict[str, Any]) -> dict[str, Any] | None:
        base = f"/communes/{self.commune}/programmes"
        key = self.programme["key"] if self.programme else None
        check = await self.connection.call("POST", f"{base}/check",
                                           body={**body, "key": key} if key else body)
        resolve: str | None = None
        if check.get("conflicts"):
            resolve = await self.app.push_screen_wait(ConflictDialog(
                _("It conflicts with the approved schedule:"),
                [str(c.get("message", "")) for c in check["conflicts"]],
                [str(n.get("message", "")) for n in check.get("impact", [])],
                bool(check.get("overridable", True))))
            if resolve is None:
                return None
        while True:
            sent = {**body, "resolve": resolve} if resolve else body
            try:
                if key is None:
                    return dict(await self.connection.call("POST", base, body=sent))
                sent.pop("key", None)
                return dict(await self.connection.call("PATCH", f"{base}/{key}", body=sent))
            except ApiError as error:
                if error.code != "schedule_conflict" or resolve is not None:
                    raise
                resolve = await ask_resolution(self, error)  # the schedule moved meanwhile
                if resolve is None:
                    return None


async def ask_resolution(node: Widget | ModalScreen[Any], error: ApiError) -> str | None:
    """The override/append choice for a 409 ``schedule_conflict`` answer (its details
    list the conflicts)."""
    problems = [str(d.get("problem", "")) for d in error.details
                if isinstance(d, dict) and d.get("problem")]
    choice: str | None = await node.app.push_screen_wait(ConflictDialog(
        error.message, problems, []))
    return choice
