"""The Thiết bị (Devices) tab: the commune's agents; for the chosen one its live state and
telemetry and its recent journal records; commands (volume, stop, restart the service,
reboot) and enrolling a new agent with a one-time code shown big and clear.

Commands go through ``POST /v1/agents/{id}/commands`` (volume and stop: operator,
technician or admin; restart and reboot: technician or admin); the station refuses what
the user's role does not allow and the console shows its message.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Label, Static

from controller.i18n import N_, _

from ..formatting import (
    CLUSTER_KIND,
    RECORD_KIND,
    amplifier,
    clock_time,
    connectivity,
    text,
    translated,
    volume,
)
from ..forms.common import localise
from ..messages import LiveEvent
from ..table import Table
from ..widgets import ChoiceScreen, CodeScreen, ConfirmScreen, NumberPrompt
from .base import Pane

POLL_S = 5.0
FOLLOW_UP_S = (1.5, 3.0)  # after a command, look again this soon
AGENT_KINDS = frozenset({"agent_online", "agent_offline", "agent_enrolled", "agent_revoked",
                         "enrolment_code_issued"})
CLOCK_SOURCES = {0: N_("free-running"), 1: N_("NTP-synced"), 2: N_("synced to the station")}
COMMAND_NAMES = {"stop": N_("stop playback"), "restart": N_("restart the service"),
                 "reboot": N_("reboot the box")}


def duration(seconds: Any) -> str:
    if not isinstance(seconds, int):
        return "—"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("up {days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("up {hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("up {minutes} min").format(minutes=minutes)


class DevicesPane(Pane):
    TITLE = N_("Devices")
    KEY = "devices"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "volume", N_("Set volume")),
        Binding("s", "command('stop')", N_("Stop playback")),
        Binding("r", "command('restart')", N_("Restart service")),
        Binding("b", "command('reboot')", N_("Reboot agent")),
        Binding("n", "enrol", N_("Enrol agent")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.agents: list[dict[str, Any]] = []
        self.selected: str | None = None
        self.agent: dict[str, Any] | None = None
        self.telemetry: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []
        self._last_refresh = 0.0
        self._loading = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="agent-list"):
                yield Label("", id="agents-title", classes="section-title")
                yield Table(id="agents", cursor_type="row")
            with Vertical(id="agent-detail"):
                yield Static("", id="agent-title", markup=False)
                yield Static("", id="agent-live", markup=False)
                yield Label(_("Recent events"), classes="section-title")
                yield Table(id="journal", cursor_type="row", show_cursor=False)

    def on_mount(self) -> None:
        agents = self.query_one("#agents", DataTable)
        agents.add_column(_("Agent box"), width=10, key="id")
        agents.add_column(_("State"), width=12, key="state")
        journal = self.query_one("#journal", DataTable)
        journal.add_column(_("Recorded at"), width=11, key="at")
        journal.add_column(_("Journal record"), width=14, key="kind")
        journal.add_column(_("Detail"), key="detail")
        self.set_interval(1.0, self._tick)

    def focus_main(self) -> None:
        self.focus_first("#agents")

    # ------------------------------------------------------------------ loading
    def select(self, agent_id: str) -> None:
        """Show this agent (the tab's reload fetches it)."""
        self.selected = agent_id

    async def reload(self) -> None:
        await self.load_agents()
        await self.load_agent()

    async def _tick(self) -> None:
        if self.shown and self.connection.online and self.console.username \
                and time.monotonic() - self._last_refresh >= POLL_S:
            await self.load_agent()

    def on_live_event(self, message: LiveEvent) -> None:
        if not self.shown:
            return
        event = message.event
        if message.kind in AGENT_KINDS:
            self.run_worker(self.reload(), group="devices-refresh")
        elif event.get("agent_id") == self.selected or (
                message.kind == "audit" and event.get("target") == self.selected):
            self.run_worker(self.load_agent(), group="devices-refresh")

    async def load_agents(self) -> None:
        if not self.commune:
            return
        agents = await self.fetch("GET", "/agents", params={"commune": self.commune})
        if agents is None or not self.is_attached:
            return
        self.agents = list(agents)
        table = self.query_one("#agents", DataTable)
        table.clear()
        for agent in self.agents:
            agent_id = str(agent["id"])
            table.add_row(text(agent_id), connectivity(agent), key=agent_id)
        self.query_one("#agents-title", Label).update(
            _("Agents ({count})").format(count=len(self.agents)))
        ids = [str(a["id"]) for a in self.agents]
        if self.selected not in ids:
            self.selected = ids[0] if ids else None
        if self.selected is not None:
            table.move_cursor(row=ids.index(self.selected))

    async def load_agent(self) -> None:
        """Fetch and show the selected agent. One load at a time: a selection that moves
        while a load is on its way is fetched by that same load when it lands (else the
        operator would see the old agent until the next poll)."""
        if self._loading:
            return
        self._loading = True
        self._last_refresh = time.monotonic()
        try:
            agent_id = self.selected
            while agent_id is not None:
                agent = await self.fetch("GET", f"/agents/{agent_id}")
                if agent is None:
                    return
                telemetry = await self.fetch("GET", f"/agents/{agent_id}/telemetry",
                                             quiet=True)
                records = await self.fetch("GET", f"/agents/{agent_id}/journal",
                                           params={"limit": 30}, quiet=True)
                if agent_id == self.selected:
                    break
                agent_id = self.selected
            if agent_id is None:
                self.agent, self.telemetry, self.records = None, {}, []
            else:
                self.agent, self.telemetry, self.records = agent, telemetry or {}, records or []
            if self.is_attached:
                with contextlib.suppress(NoMatches):  # the console is closing
                    self.show_agent()
        finally:
            self._loading = False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "agents":
            return
        event.stop()
        agent_id = event.row_key.value
        if agent_id and agent_id != self.selected:
            self.selected = agent_id
            self.run_worker(self.load_agent(), group="devices-refresh")

    # ------------------------------------------------------------------ showing
    def show_agent(self) -> None:
        title = self.query_one("#agent-title", Static)
        live_box = self.query_one("#agent-live", Static)
        journal = self.query_one("#journal", DataTable)
        journal.clear()
        agent = self.agent
        if agent is None:
            title.update(Text(_("No agent yet: press n to enrol one."), style="dim"))
            live_box.update("")
            return
        heading = Text(str(agent["id"]), style="bold")
        heading.append("  " + _("cluster {cluster}, village {village}").format(
            cluster=agent.get("cluster") or "—", village=agent.get("village") or "—"))
        title.update(heading)
        live_box.update(self._live_lines(agent))
        now, tz = self.now(), self.local_zone
        for record in self.records:
            when = Text(clock_time(record.get("at"), tz, now),
                        style="" if record.get("time_trusted") else "yellow")
            kind = Text(translated(RECORD_KIND, record.get("kind")))
            detail = " ".join(str(p) for p in (record.get("code"), record.get("detail")) if p)
            journal.add_row(when, kind, text(detail))
        if not self.records:
            journal.add_row(text(None), Text(_("No records yet."), style="dim"), text(None))

    def _live_lines(self, agent: dict[str, Any]) -> Text:
        live = agent.get("live") or {}
        beat = self.telemetry.get("heartbeat") or {}
        full = self.telemetry.get("telemetry") or {}
        link = beat.get("link") or {}
        now, tz = self.now(), self.local_zone
        offset = live.get("clock_offset_us")
        source = beat.get("clock_source", full.get("clock_source"))
        clock = "—" if offset is None else _("{ms:+.1f} ms").format(ms=offset / 1000)
        if source in CLOCK_SOURCES:
            clock += f" ({_(CLOCK_SOURCES[source])})"
        disk = beat.get("disk_free_mb", full.get("disk_free_mb"))
        temperature = beat.get("cpu_temp_dc", full.get("cpu_temp_dc"))
        cache = full.get("cache") or {}
        pairs: list[tuple[str, Text]] = [
            (_("State"), connectivity(agent)),
            (_("Last heard"), text(clock_time(live.get("last_seen"), tz, now)
                                  if live.get("last_seen") else None)),
            (_("Now playing"), text(live.get("playing"), "bold")),
            (_("Volume now"), volume(live.get("volume"))),
            (_("Amplifier power"), amplifier(live.get("amp_on"))),
            (_("Agent software"), text(live.get("software"))),
            (_("Clock offset"), text(clock)),
            (_("Running for"), text(duration(beat.get("uptime_s", full.get("uptime_s"))))),
            (_("Disk free"), text(None if disk is None else f"{disk} MB")),
            (_("Signal strength"), text(None if link.get("rssi_dbm") is None
                               else f"{link['rssi_dbm']} dBm")),
            (_("Unsent records"), text(beat.get("backlog_records"))),
            (_("Content cache"), text(None if not cache else _("{items} items, {missing} missing")
                              .format(items=cache.get("items", 0),
                                      missing=cache.get("missing", 0)))),
            (_("Kind"), text(translated(CLUSTER_KIND, "ip") if agent.get("cluster") else None)),
            (_("CPU temperature"), text(None if temperature is None
                                    else f"{temperature / 10:.1f} °C")),
        ]
        lines = Text()
        for n, (label, value) in enumerate(pairs):
            cell = Text(f"{label}: ", style="dim")
            cell.append_text(value)
            cell.truncate(26, overflow="ellipsis", pad=n % 2 == 0)
            lines.append_text(cell)
            lines.append("\n" if n % 2 else " ")
        return lines

    # ------------------------------------------------------------------ commands
    def _chosen(self) -> dict[str, Any] | None:
        if self.agent is None:
            self.notify(_("Choose an agent first."), severity="warning")
            return None
        return self.agent

    @work(exclusive=True, group="device-action", exit_on_error=False)
    async def action_volume(self) -> None:
        agent = self._chosen()
        if agent is None:
            return
        current = (agent.get("live") or {}).get("volume")
        level = await self.app.push_screen_wait(NumberPrompt(
            _("Volume of agent {agent}, in percent:").format(agent=agent["id"]),
            current, 0, 100))
        if level is None:
            return
        await self.send(agent["id"], "volume", level)

    @work(exclusive=True, group="device-action", exit_on_error=False)
    async def action_command(self, action: str) -> None:
        agent = self._chosen()
        if agent is None:
            return
        question = _("Send «{command}» to agent {agent}?").format(
            command=_(COMMAND_NAMES[action]), agent=agent["id"])
        if action in ("restart", "reboot"):
            question += " " + _("Its loudspeakers go silent until it is back.")
        if not await self.app.push_screen_wait(ConfirmScreen(question, danger=True)):
            return
        await self.send(agent["id"], action)

    async def send(self, agent_id: str, action: str, level: int | None = None) -> None:
        sent = await self.fetch("POST", f"/agents/{agent_id}/commands",
                                body={"action": action, "level": level})
        if sent is None:
            return
        if action == "volume":
            message = _("Sent volume {level} to {agent}.").format(level=level,
                                                                   agent=agent_id)
        else:
            message = _("«{command}» sent to {agent}.").format(
                command=_(COMMAND_NAMES[action]), agent=agent_id)
        self.notify(message, title=_("Command sent"))
        for delay in FOLLOW_UP_S:  # the agent answers in its next heartbeat and journal
            self.set_timer(delay, self._follow_up)

    def _follow_up(self) -> None:
        if self.shown:
            self.run_worker(self.load_agent(), group="devices-refresh")

    @work(exclusive=True, group="device-action", exit_on_error=False)
    async def action_enrol(self) -> None:
        if not self.commune:
            return
        clusters = await self.fetch("GET", "/clusters", params={"commune": self.commune})
        if clusters is None:
            return
        choices = [(f"cluster:{c['key']}", _("Cluster {cluster} (village {village})").format(
            cluster=c["key"], village=c["village"]))
            for c in clusters if c.get("kind") == "ip" and not c.get("agent")]
        if self.agent is not None and self.agent.get("status") == "pending":
            choices.insert(0, (f"agent:{self.agent['id']}", _(
                "A new code for agent {agent}").format(agent=self.agent["id"])))
        if not choices:
            self.notify(_("Every IP cluster already has an agent: add a cluster first."),
                        severity="warning", timeout=8)
            return
        chosen = await self.app.push_screen_wait(ChoiceScreen(
            _("Enrol an agent for which cluster?"), choices))
        if chosen is None:
            return
        what, _sep, key = chosen.partition(":")
        body = {"cluster": key} if what == "cluster" else {"agent_id": key}
        issued = await self.fetch("POST", f"/communes/{self.commune}/enrolment-codes",
                                  body=body)
        if issued is None:
            return
        self.selected = str(issued["agent_id"])
        await self.reload()
        await self.app.push_screen_wait(CodeScreen(
            issued, clock_time(issued.get("expires_at"), self.local_zone)))
