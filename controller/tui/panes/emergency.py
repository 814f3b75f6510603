"""The Phát khẩn cấp (Emergency broadcast) tab: red, so that nobody takes it for another.

Choose a bulletin (the ones kept cached on every agent come first, marked ★) and the
villages (none ticked: the whole commune), confirm in a red dialog, and it airs at once,
pre-empting everything, until it is stopped. The tab then shows the emergency on the
air and, agent by agent, whether it is airing it (the agents' live state, refreshed while
the tab is shown). An approver acknowledges it afterwards (it bypassed approval).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

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
from ..messages import LiveEvent
from ..table import Table
from .base import Pane

LIVE_EVERY_S = 3.0
SHOWN_EMERGENCIES = 10
CONNECTIVITY = {"online": N_("online"), "offline": N_("offline"),
                "unknown": N_("not heard from")}
PINNED = "★ "


def airing_state(agent: dict[str, Any], active: dict[str, Any] | None) -> tuple[str, bool]:
    """What an agent is doing about the emergency on the air (``active``): the text and
    whether it is airing it. Its live state names what it plays (``emergency:<id>:<n>``
    while airing an emergency)."""
    live = agent.get("live") or {}
    playing = str(live.get("playing") or "")
    if active is None:
        return (_("playing {slot}").format(slot=playing) if playing else _("silent")), False
    if playing.startswith(f"emergency:{active['id']}"):
        return _("AIRING IT"), True
    targets = active.get("villages") or []
    if targets and agent.get("village") not in targets:
        return _("not in the chosen villages"), False
    if live.get("connectivity") != "online":
        return _("unreachable: airs it when it reconnects"), False
    return _("not airing it yet"), False


class EmergencyPane(Pane):
    TITLE = N_("Emergency broadcast")
    KEY = "emergency"
    DEFAULT_CSS = """
    EmergencyPane {
        border: heavy $error;
        background: $error 8%;
    }
    EmergencyPane #emergency-banner {
        width: 100%;
        height: 2;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    EmergencyPane #emergency-banner.idle {
        background: $error 25%;
        text-style: none;
    }
    EmergencyPane #emergency-choose {
        height: 5;
    }
    EmergencyPane #emergency-choose > Vertical {
        width: 1fr;
        margin-right: 1;
    }
    EmergencyPane .heading {
        text-style: bold;
        color: $error;
        width: 100%;
    }
    EmergencyPane #emergency-items, EmergencyPane #emergency-villages {
        height: 1fr;
    }
    EmergencyPane #emergency-agents {
        height: 1fr;
    }
    EmergencyPane #emergency-log {
        height: 5;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", N_("Start emergency")),
        Binding("x", "stop", N_("Stop emergency")),
        Binding("k", "acknowledge", N_("Acknowledge")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.items: list[dict[str, Any]] = []
        self.villages: list[dict[str, Any]] = []
        self.agents: list[dict[str, Any]] = []
        self.emergencies: list[dict[str, Any]] = []
        self.active: dict[str, Any] | None = None
        self.tz: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="emergency-banner", classes="idle")
        with Horizontal(id="emergency-choose"):
            with Vertical():
                yield Label(_("1. Bulletin (★ cached)"), classes="heading")
                yield OptionList(id="emergency-items", compact=True)
            with Vertical():
                yield Label(_("2. Villages (none: whole commune)"), classes="heading")
                yield SelectionList[str](id="emergency-villages", compact=True)
        agents: Table[Text] = Table(id="emergency-agents", cursor_type="row")
        yield agents
        log: Table[Text] = Table(id="emergency-log", cursor_type="row")
        yield log

    def on_mount(self) -> None:
        agents = self.query_one("#emergency-agents", DataTable)
        for key, label in (("agent", _("Agent")), ("village", _("Village")),
                           ("link", _("Connection")), ("airing", _("Emergency"))):
            agents.add_column(label, key=key)
        log = self.query_one("#emergency-log", DataTable)
        for key, label in (("title", _("Emergency")), ("state", _("State")),
                           ("started", _("Started")), ("by", _("Started by")),
                           ("ack", _("Acknowledged by"))):
            log.add_column(label, key=key)
        self.set_interval(LIVE_EVERY_S, self.live)

    # ------------------------------------------------------------------ showing
    async def reload(self) -> None:
        if not self.commune:
            return
        base = f"/communes/{self.commune}"
        try:
            items = rows_of(await self.connection.call("GET", f"{base}/library"))
            pins = {str(p["content"]) for p in rows_of(
                await self.connection.call("GET", f"{base}/pins"))}
            units = rows_of(await self.connection.call("GET", "/units"))
            await self.fetch_live()
        except ApiError as error:
            if not error.unreachable:
                show_refusal(self, error)
            return
        for item in items:
            item["pinned"] = item["sha256"] in pins
        self.items = sorted(items, key=lambda i: (not i["pinned"], str(i["title"])))
        self.villages = [u for u in units if u.get("level") == "village"
                         and u.get("parent") == self.commune]
        self.show_choices()
        self.show_live()

    def focus_main(self) -> None:
        self.query_one("#emergency-items", OptionList).focus()

    def on_live_event(self, message: LiveEvent) -> None:
        if (message.kind.startswith("emergency_") or message.kind.startswith("agent_")) \
                and message.event.get("commune") == self.commune:
            self.run_worker(self.live(), group="emergency-live", exclusive=True)

    async def fetch_live(self) -> None:
        base = f"/communes/{self.commune}"
        self.emergencies = rows_of(await self.connection.call("GET", f"{base}/emergencies"))
        self.agents = rows_of(await self.connection.call(
            "GET", "/agents", params={"commune": self.commune, "status": "active"}))
        self.active = next((e for e in self.emergencies if e.get("active")), None)
        if self.tz is None:
            day = await self.connection.call("GET", f"{base}/timeline")
            self.tz = str(day.get("tz") or "") or None

    async def live(self) -> None:
        """While the tab is shown: the emergency and the agents' state, fresh."""
        if not self.commune or not self.shown or not self.connection.online:
            return
        try:
            await self.fetch_live()
        except ApiError:
            return  # the header says when the controller is unreachable
        self.show_live()

    def show_choices(self) -> None:
        options = self.query_one("#emergency-items", OptionList)
        chosen = options.highlighted
        options.clear_options()
        options.add_options([Option(Text(
            (PINNED if i["pinned"] else "") + f"{i['title']} · "
            f"{duration_text(i.get('duration_ms'))}"), id=str(i["sha256"]))
            for i in self.items])
        if self.items:
            options.highlighted = min(chosen or 0, len(self.items) - 1)
        villages = self.query_one("#emergency-villages", SelectionList)
        ticked = set(villages.selected)
        villages.clear_options()
        villages.add_options([(f"{v['name']} ({v['key']})", str(v["key"]),
                               v["key"] in ticked) for v in self.villages])

    def village_name(self, key: Any) -> str:
        return next((str(v["name"]) for v in self.villages if v["key"] == key), str(key))

    def where(self, villages: list[str]) -> str:
        return ", ".join(self.village_name(v) for v in villages) or _("the whole commune")

    def show_live(self) -> None:
        banner = self.query_one("#emergency-banner", Static)
        active = self.active
        if active is not None:
            banner.update(Text(_("⚠ EMERGENCY ON THE AIR: «{title}» in {where}, since "
                                 "{start} ({user}). Press x to stop it.").format(
                title=active["title"], where=self.where(active.get("villages") or []),
                start=local_time(active.get("started_at"), self.tz, "%H:%M"),
                user=active.get("started_by"))))
            banner.remove_class("idle")
        else:
            banner.update(Text(_("No emergency on the air. Choose a bulletin and villages, "
                                 "then press s.")))
            banner.add_class("idle")
        agents = self.query_one("#emergency-agents", DataTable)
        agents.clear()
        for agent in self.agents:
            text, airing = airing_state(agent, active)
            live = agent.get("live") or {}
            link = str(live.get("connectivity") or "unknown")
            agents.add_row(cell(agent["id"]), cell(self.village_name(agent.get("village"))),
                           cell(_(CONNECTIVITY[link]) if link in CONNECTIVITY else link),
                           Text(text, style="bold red" if airing else ""),
                           key=str(agent["id"]))
        if not self.agents:
            agents.add_row(cell(""), Text(_("No active agents in this commune.")))
        log = self.query_one("#emergency-log", DataTable)
        row = log.cursor_row
        log.clear()
        for e in self.emergencies[:SHOWN_EMERGENCIES]:
            log.add_row(cell(e["title"]), cell(self.state_text(e)),
                        cell(local_time(e.get("started_at"), self.tz)),
                        cell(e.get("started_by")),
                        cell(e.get("acknowledged_by") or _("to acknowledge")),
                        key=str(e["id"]))
        if self.emergencies:
            log.move_cursor(row=min(row, len(self.emergencies[:SHOWN_EMERGENCIES]) - 1))

    @staticmethod
    def state_text(row: dict[str, Any]) -> str:
        if row.get("active"):
            return _("on the air")
        return _("stopped") if row.get("stop_reason") == "stopped" else _("superseded")

    # ------------------------------------------------------------------ actions
    def chosen_item(self) -> dict[str, Any] | None:
        highlighted = self.query_one("#emergency-items", OptionList).highlighted
        if highlighted is None or not 0 <= highlighted < len(self.items):
            return None
        return self.items[highlighted]

    def action_start(self) -> None:
        item = self.chosen_item()
        if item is None:
            tell(self, _("Choose the bulletin to air first."), severity="warning")
            return
        villages = list(self.query_one("#emergency-villages", SelectionList).selected)
        self.run_worker(self.start(item, villages), group="emergency-change",
                        exclusive=True)

    async def start(self, item: dict[str, Any], villages: list[str]) -> None:
        body = _("Air «{title}» NOW in {where}, interrupting everything else, until it is "
                 "stopped?").format(title=item["title"], where=self.where(villages))
        if self.active is not None:
            body += "\n" + _("It replaces the emergency on the air («{title}»).").format(
                title=self.active["title"])
        sure = await self.app.push_screen_wait(ConfirmDialog(
            _("Start an emergency broadcast"), body, _("Air it now"), danger=True))
        if not sure:
            return
        request: dict[str, Any] = {"content": item["sha256"]}
        request.update({"villages": villages} if villages else {"all_villages": True})
        try:
            started = await self.connection.call(
                "POST", f"/communes/{self.commune}/emergencies", body=request)
        except ApiError as error:
            show_refusal(self, error)
            return
        tell(self, _("Emergency {id} is on the air: {title}.").format(
            id=started["id"], title=started["title"]), severity="warning")
        if started.get("document_version") is None:
            tell(self, _("Warning: the agents have not been told yet (no broker link); they "
                         "will be as soon as the controller reaches the broker."),
                 severity="error")
        await self.refresh_live()

    def action_stop(self) -> None:
        if self.active is None:
            tell(self, _("No emergency is on the air in this commune."), severity="warning")
            return
        self.run_worker(self.stop(self.active), group="emergency-change", exclusive=True)

    async def stop(self, active: dict[str, Any]) -> None:
        sure = await self.app.push_screen_wait(ConfirmDialog(
            _("Stop the emergency broadcast"),
            _("Stop «{title}» on every loudspeaker now?").format(title=active["title"]),
            _("Stop it")))
        if not sure:
            return
        try:
            stopped = await self.connection.call(
                "POST", f"/communes/{self.commune}/emergencies/stop")
        except ApiError as error:
            show_refusal(self, error)
            return
        tell(self, _("Stopped emergency {id}.").format(id=stopped["id"]))
        await self.refresh_live()

    def action_acknowledge(self) -> None:
        log = self.query_one("#emergency-log", DataTable)
        shown = self.emergencies[:SHOWN_EMERGENCIES]
        if not 0 <= log.cursor_row < len(shown):
            return
        emergency = shown[log.cursor_row]
        if emergency.get("acknowledged_by"):
            tell(self, _("Emergency {id} was already acknowledged by {user}.").format(
                id=emergency["id"], user=emergency["acknowledged_by"]), severity="warning")
            return
        self.run_worker(self.acknowledge(emergency), group="emergency-change",
                        exclusive=True)

    async def acknowledge(self, emergency: dict[str, Any]) -> None:
        sure = await self.app.push_screen_wait(ConfirmDialog(
            _("Acknowledge an emergency"),
            _("Acknowledge emergency {id} («{title}», started by {user}), aired without "
              "approval?").format(id=emergency["id"], title=emergency["title"],
                                  user=emergency.get("started_by") or NONE),
            _("Acknowledge")))
        if not sure:
            return
        try:
            await self.connection.call(
                "POST", f"/communes/{self.commune}/emergencies/{emergency['id']}/acknowledge",
                body={"note": ""})
        except ApiError as error:
            show_refusal(self, error)
            return
        tell(self, _("Acknowledged emergency {id}.").format(id=emergency["id"]))
        await self.refresh_live()

    async def refresh_live(self) -> None:
        try:
            await self.fetch_live()
        except ApiError as error:
            show_refusal(self, error)
            return
        self.show_live()
