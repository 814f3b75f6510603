"""The Lịch phát (Schedule) tab: the commune's sessions and programmes, a programme's
details and next airings, the programme form (new, edit), approval (approvers only: the
controller's refusal is shown to anyone else) and withdrawal; the session form (new,
edit) on the sessions table (``s`` goes there, Escape back to the programmes): the keys
``n`` and ``e`` act on the table that has the focus, and the footer says which.

Today's whole timeline is on the Overview tab; here a programme's next airings come from
the timelines of today and the next three days (the approved schedule only).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from controller.i18n import N_, _

from ..connection import ApiError
from ..forms.common import (
    NONE,
    cell,
    duration_text,
    local_time,
    localise,
    rows_of,
    show_refusal,
    tell,
)
from ..forms.dialogs import ConfirmDialog
from ..forms.programme import (
    KINDS,
    POLICIES,
    PRIORITIES,
    WEEKDAYS,
    Choices,
    ProgrammeForm,
    ask_resolution,
    clock,
    moment,
)
from ..forms.session import SessionForm
from ..messages import LiveEvent
from ..table import Table
from .base import Pane

STATUSES = {"draft": N_("draft"), "approved": N_("approved"),
            "superseded": N_("superseded"), "withdrawn": N_("withdrawn")}
PRIORITY_NAMES = {**PRIORITIES, "emergency": N_("emergency")}
AHEAD_DAYS = 4  # next airings: today and the next three days
SHOWN_AIRINGS = 3


def days_text(days: list[str]) -> str:
    """``["mon", "thu"]`` -> ``T2,T5``; every day -> ``hằng ngày``."""
    if "all" in days or set(WEEKDAYS) <= set(days):
        return _("every day")
    return ",".join(_(WEEKDAYS[d]) for d in days if d in WEEKDAYS)


def when_text(rule: dict[str, Any]) -> str:
    """A recurrence in a few words: ``hằng ngày 06:00``, ``T2,T5 17:00`` ..."""
    at = clock(rule.get("at")) or _("session start")
    kind = rule.get("kind")
    days = days_text(rule.get("weekdays") or [])
    if kind == "once":
        return f"{rule.get('on')} {at}"
    if kind == "daily":
        return _("daily {at}").format(at=at)
    if kind == "weekly":
        return f"{days} {at}"
    if kind == "range":
        return f"{rule.get('first')}..{rule.get('last')} {days} {at}".replace("  ", " ")
    if kind == "every":
        return _("every {minutes} min, {start}..{end}").format(
            minutes=rule.get("minutes"), start=moment(rule.get("start")),
            end=moment(rule.get("end")))
    return _(KINDS.get(str(kind), str(kind)))


def label_of(table: dict[str, str], value: Any) -> str:
    return _(table[value]) if value in table else str(value or NONE)


class SchedulePane(Pane):
    TITLE = N_("Schedule")
    KEY = "schedule"
    DEFAULT_CSS = """
    SchedulePane .heading {
        text-style: bold;
        width: 100%;
    }
    SchedulePane #schedule-sessions {
        height: 4;
    }
    SchedulePane #schedule-programmes {
        height: 1fr;
    }
    SchedulePane #schedule-detail {
        height: 4;
        border-top: solid $primary;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", N_("New programme")),
        Binding("e", "edit", N_("Edit")),
        Binding("a", "approve", N_("Approve")),
        Binding("w", "withdraw", N_("Withdraw")),
        Binding("s", "sessions", N_("Sessions")),
        Binding("n", "new_session", N_("New session")),
        Binding("e", "edit_session", N_("Edit session")),
        Binding("escape", "programmes", N_("Programmes")),
    ]
    SESSION_ACTIONS = frozenset({"new_session", "edit_session", "programmes"})
    PROGRAMME_ACTIONS = frozenset({"new", "edit", "approve", "withdraw", "sessions"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.sessions: list[dict[str, Any]] = []
        self.programmes: list[dict[str, Any]] = []
        self.airings: dict[str, list[str]] = {}
        self.tz: str | None = None

    def compose(self) -> ComposeResult:
        yield Label(_("Broadcast sessions"), classes="heading")
        sessions: Table[Text] = Table(id="schedule-sessions", cursor_type="row")
        yield sessions
        programmes: Table[Text] = Table(id="schedule-programmes",
                                                cursor_type="row", zebra_stripes=True)
        yield programmes
        yield Static("", id="schedule-detail")

    def on_mount(self) -> None:
        sessions = self.query_one("#schedule-sessions", DataTable)
        for key, label in (("key", _("Session")), ("name", _("Name")),
                           ("start", _("Starts")), ("cap", _("Cap (min)")),
                           ("days", _("Days"))):
            sessions.add_column(label, key=key)
        programmes = self.query_one("#schedule-programmes", DataTable)
        for key, label in (("key", _("Programme")), ("title", _("Title")),
                           ("status", _("Status")), ("priority", _("Priority")),
                           ("when", _("When"))):
            programmes.add_column(label, key=key)

    # ------------------------------------------------------------------ showing
    async def reload(self) -> None:
        if not self.commune:
            return
        base = f"/communes/{self.commune}"
        try:
            sessions = rows_of(await self.connection.call("GET", f"{base}/sessions"))
            programmes = rows_of(await self.connection.call("GET", f"{base}/programmes"))
            airings = await self.next_airings()
        except ApiError as error:
            if not error.unreachable:
                show_refusal(self, error)
            return
        self.sessions, self.programmes, self.airings = sessions, programmes, airings
        self.show()

    def focus_main(self) -> None:
        self.query_one("#schedule-programmes", DataTable).focus()

    def on_sessions(self) -> bool:
        """Whether the sessions table has the focus (then ``n``/``e`` act on it)."""
        return any(t.has_focus for t in self.query("#schedule-sessions"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.SESSION_ACTIONS:
            return self.on_sessions()
        if action in self.PROGRAMME_ACTIONS:
            return not self.on_sessions()
        return True

    def on_live_event(self, message: LiveEvent) -> None:
        if message.kind in ("programme_approved", "programme_withdrawn", "plan_published") \
                and message.event.get("commune") == self.commune and self.shown:
            self.run_worker(self.reload(), group="schedule-reload", exclusive=True)

    async def next_airings(self) -> dict[str, list[str]]:
        """Programme -> its next airings (local ``YYYY-MM-DD HH:MM``), soonest first."""
        found: dict[str, list[str]] = {}
        today: dt.date | None = None
        now = self.now()
        for n in range(AHEAD_DAYS):
            params = {"day": (today + dt.timedelta(days=n)).isoformat()} if today else None
            day = await self.connection.call("GET", f"/communes/{self.commune}/timeline",
                                             params=params)
            if today is None:
                today = dt.date.fromisoformat(str(day["day"]))
                self.tz = str(day.get("tz") or "") or None
            for entry in day.get("entries", []):
                if dt.datetime.fromisoformat(str(entry["end"])) > now:
                    found.setdefault(str(entry["programme"]), []).append(
                        local_time(str(entry["start"]), self.tz))
        return found

    def show(self) -> None:
        sessions = self.query_one("#schedule-sessions", DataTable)
        row = sessions.cursor_row
        sessions.clear()
        for s in self.sessions:
            sessions.add_row(cell(s["key"]), cell(s.get("name")), cell(clock(s["start"])),
                             cell(s["cap_minutes"]),
                             cell(days_text(s.get("weekdays") or [])), key=str(s["key"]))
        if self.sessions:
            sessions.move_cursor(row=min(row, len(self.sessions) - 1))
        else:
            sessions.add_row(Text(_("No sessions yet.")))
        table = self.query_one("#schedule-programmes", DataTable)
        current = self.selected()
        table.clear()
        for p in self.programmes:
            table.add_row(cell(p["key"]), cell(p["title"]),
                          cell(label_of(STATUSES, p["status"])),
                          cell(label_of(PRIORITY_NAMES, p["priority"])),
                          cell(when_text(p.get("recurrence") or {})), key=str(p["key"]))
        if not self.programmes:
            table.add_row(cell(""), Text(_("No programmes yet.")))
        self.select(current["key"] if current else None)

    def select(self, key: str | None) -> None:
        table = self.query_one("#schedule-programmes", DataTable)
        for row, p in enumerate(self.programmes):
            if p["key"] == key:
                table.move_cursor(row=row)
        self.show_detail()

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one("#schedule-programmes", DataTable)
        if not self.programmes or not 0 <= table.cursor_row < len(self.programmes):
            return None
        return self.programmes[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "schedule-programmes":
            self.show_detail()

    def show_detail(self) -> None:
        p = self.selected()
        detail = self.query_one("#schedule-detail", Static)
        if p is None:
            detail.update("")
            return
        items = ", ".join(str(i.get("title") or str(i["content"])[:12])
                          for i in p.get("items", []))
        where = ", ".join(p.get("villages") or []) or _("whole commune")
        if p.get("clusters"):
            where += " + " + ", ".join(p["clusters"])
        airings = self.airings.get(str(p["key"]), [])
        upcoming = ", ".join(airings[:SHOWN_AIRINGS]) if airings else (
            _("approve it to put it on the air") if p["status"] == "draft" else NONE)
        lines = [
            _("Bulletin: {items}").format(items=items),
            _("Where: {where} · When busy: {policy}").format(
                where=where, policy=label_of(POLICIES, p.get("policy"))),
            _("Next airings: {airings}").format(airings=upcoming)]
        detail.update(Text("\n".join(lines)))

    # ------------------------------------------------------------------ actions
    def action_sessions(self) -> None:
        self.query_one("#schedule-sessions", DataTable).focus()

    def action_programmes(self) -> None:
        self.focus_main()

    def selected_session(self) -> dict[str, Any] | None:
        table = self.query_one("#schedule-sessions", DataTable)
        if not self.sessions or not 0 <= table.cursor_row < len(self.sessions):
            return None
        return self.sessions[table.cursor_row]

    def action_new_session(self) -> None:
        self.run_worker(self.open_session_form(None), group="schedule-form",
                        exclusive=True)

    def action_edit_session(self) -> None:
        session = self.selected_session()
        if session is not None:
            self.run_worker(self.open_session_form(session), group="schedule-form",
                            exclusive=True)

    async def open_session_form(self, session: dict[str, Any] | None) -> None:
        saved = await self.app.push_screen_wait(SessionForm(self.connection, self.commune,
                                                            session))
        if saved is None:
            return
        text = _("Created session {key}.") if session is None else _("Saved session {key}.")
        tell(self, text.format(key=saved["key"]))
        await self.reload()
        keys = [str(s["key"]) for s in self.sessions]
        if saved["key"] in keys:
            self.query_one("#schedule-sessions", DataTable).move_cursor(
                row=keys.index(saved["key"]))

    def action_new(self) -> None:
        self.run_worker(self.open_form(None), group="schedule-form", exclusive=True)

    def action_edit(self) -> None:
        programme = self.selected()
        if programme is not None:
            self.run_worker(self.open_form(programme), group="schedule-form",
                            exclusive=True)

    def action_approve(self) -> None:
        programme = self.selected()
        if programme is None:
            return
        if programme["status"] != "draft":
            tell(self, _("{key} has no draft waiting for approval.").format(
                key=programme["key"]), severity="warning")
            return
        self.run_worker(self.approve(programme), group="schedule-change")

    def action_withdraw(self) -> None:
        programme = self.selected()
        if programme is not None:
            self.run_worker(self.withdraw(programme), group="schedule-change")

    async def choices(self) -> Choices:
        base = f"/communes/{self.commune}"
        library = rows_of(await self.connection.call("GET", f"{base}/library"))
        units = rows_of(await self.connection.call("GET", "/units"))
        clusters = rows_of(await self.connection.call("GET", "/clusters",
                                                      params={"commune": self.commune}))
        return Choices(
            items=[(f"{i['title']} · {duration_text(i.get('duration_ms'))}",
                    str(i["sha256"])) for i in library],
            sessions=[(f"{s['key']} {clock(s['start'])}", str(s["key"]))
                      for s in self.sessions],
            villages=[(f"{u['name']} ({u['key']})", str(u["key"])) for u in units
                      if u.get("level") == "village" and u.get("parent") == self.commune],
            clusters=[(f"{c['name']} ({c['key']})", str(c["key"])) for c in clusters])

    async def open_form(self, programme: dict[str, Any] | None) -> None:
        try:
            choices = await self.choices()
        except ApiError as error:
            show_refusal(self, error)
            return
        saved = await self.app.push_screen_wait(ProgrammeForm(
            self.connection, self.commune, choices, programme))
        if saved is None:
            return
        if programme is None:
            text = _("Created draft {key}; an approver must approve it before it airs.")
        else:
            text = _("Draft revision {revision} of {key} waits for approval.")
        tell(self, text.format(key=saved["key"], revision=saved.get("revision")))
        await self.reload()
        self.select(str(saved["key"]))

    async def approve(self, programme: dict[str, Any]) -> None:
        path = f"/communes/{self.commune}/programmes/{programme['key']}/approve"
        resolve: str | None = None
        while True:
            try:
                approved = await self.connection.call(
                    "POST", path, body={"resolve": resolve} if resolve else {})
                break
            except ApiError as error:
                if error.code == "schedule_conflict" and resolve is None:
                    resolve = await ask_resolution(self, error)
                    if resolve is not None:
                        continue
                    return
                show_refusal(self, error)
                return
        tell(self, _("Approved {key} (revision {revision}): it goes to the agents with the "
                     "next plans.").format(key=approved["key"],
                                           revision=approved["revision"]))
        await self.reload()
        self.select(str(approved["key"]))

    async def withdraw(self, programme: dict[str, Any]) -> None:
        sure = await self.app.push_screen_wait(ConfirmDialog(
            _("Withdraw a programme"),
            _("Take programme {key} off the air?").format(key=programme["key"]),
            _("Withdraw"), danger=True))
        if not sure:
            return
        try:
            await self.connection.call(
                "POST", f"/communes/{self.commune}/programmes/{programme['key']}/withdraw")
        except ApiError as error:
            show_refusal(self, error)
            return
        tell(self, _("Withdrew {key}.").format(key=programme["key"]))
        await self.reload()
