"""The Tổng quan (Overview) tab: every village and cluster of the commune with its live
state (online, what is playing, volume, amplifier, last seen), the open alerts, and
today's timeline with what is on the air now.

Refreshed on the station's events (agents coming and going, alerts, emergencies, plans)
and by polling: every 10 s while the event stream runs (heartbeat values raise no
event), every 3 s while it is down. Enter on a cluster opens its agent in Thiết bị.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import DataTable, Label, Static

from controller.i18n import N_, _

from ..formatting import (
    ALERT_KIND,
    CLUSTER_KIND,
    PRIORITY,
    clock_time,
    connectivity,
    parse_instant,
    sort_key,
    speaker,
    text,
    translated,
    zone,
)
from ..forms.common import localise
from ..messages import LiveEvent
from ..table import Table
from .base import Pane

POLL_LIVE_S = 10.0  # while the event stream runs
POLL_FALLBACK_S = 3.0  # while it does not
QUIET_KINDS = frozenset({"library_import"})  # frequent, and not shown here


def fit(value: Text, width: int) -> Text:
    value.truncate(width, overflow="ellipsis")
    return value


class OverviewPane(Pane):
    TITLE = N_("Overview")
    KEY = "overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "open_agent", N_("Agent details")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        localise(self)
        self.data: dict[str, Any] = {}
        self._refreshing = False
        self._again = False
        self._last_refresh = 0.0

    def compose(self) -> ComposeResult:
        yield Static("", id="on-air", markup=False)
        yield Static("", id="fleet-counts", markup=False)
        table: Table[Text] = Table(id="clusters", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(id="overview-bottom"):
            with Vertical(id="today"):
                yield Label(_("Today on the air"), classes="section-title")
                yield Table(id="timeline", cursor_type="row", show_cursor=False)
            with Vertical(id="alerts-box"):
                yield Label("", id="alerts-title", classes="section-title")
                yield Table(id="alerts", cursor_type="row", show_cursor=False)

    def on_mount(self) -> None:
        clusters = self.query_one("#clusters", DataTable)
        clusters.add_column(_("Village"), width=12, key="village")
        clusters.add_column(_("Cluster"), width=10, key="cluster")
        clusters.add_column(_("State"), width=13, key="state")
        clusters.add_column(_("Now playing"), width=11, key="playing")
        clusters.add_column(_("Speaker"), width=8, key="speaker")
        clusters.add_column(_("Last heard"), width=11, key="seen")
        timeline = self.query_one("#timeline", DataTable)
        timeline.add_column(_("Time"), width=11, key="time")
        timeline.add_column(_("Programme"), key="title")
        alerts = self.query_one("#alerts", DataTable)
        alerts.add_column(_("Alert since"), width=11, key="since")
        alerts.add_column(_("Alert and subject"), key="kind")
        self.set_interval(1.0, self._tick)

    def focus_main(self) -> None:
        self.focus_first("#clusters")

    # ------------------------------------------------------------------ refreshing
    async def reload(self) -> None:
        await self.refresh_data()

    async def _tick(self) -> None:
        if not self.shown or not self.connection.online or not self.console.username:
            return
        every = POLL_LIVE_S if self.console.events_live else POLL_FALLBACK_S
        if time.monotonic() - self._last_refresh >= every:
            await self.refresh_data()

    def on_live_event(self, message: LiveEvent) -> None:
        if message.kind not in QUIET_KINDS and self.shown:
            self.run_worker(self.refresh_data(), group="overview-refresh")

    async def refresh_data(self) -> None:
        if not self.commune:
            return
        if self._refreshing:
            self._again = True
            return
        self._refreshing = True
        try:
            while True:
                self._again = False
                self._last_refresh = time.monotonic()
                data = await self._fetch_all()
                if data is not None and self.is_attached:
                    self.data = data
                    with contextlib.suppress(NoMatches):  # the console is closing
                        self.show(data)
                if not self._again:
                    break
        finally:
            self._refreshing = False

    async def _fetch_all(self) -> dict[str, Any] | None:
        commune = self.commune
        units, clusters, agents, alerts, timeline = await asyncio.gather(
            self.fetch("GET", "/units"),
            self.fetch("GET", "/clusters", params={"commune": commune}),
            self.fetch("GET", "/agents", params={"commune": commune}),
            self.fetch("GET", "/alerts", params={"commune": commune, "open": "true"},
                       quiet=True),
            self.fetch("GET", f"/communes/{commune}/timeline", quiet=True))
        if units is None or clusters is None or agents is None:
            return None
        return {"units": units, "clusters": clusters, "agents": agents,
                "alerts": alerts or [], "timeline": timeline or {}}

    # ------------------------------------------------------------------ showing
    def show(self, data: dict[str, Any]) -> None:
        timeline = data["timeline"]
        if timeline.get("tz"):
            self.console.station_tz = zone(timeline["tz"])
        self._show_on_air(timeline)
        self._show_clusters(data)
        self._show_timeline(timeline)
        self._show_alerts(data["alerts"])

    def _show_on_air(self, timeline: dict[str, Any]) -> None:
        now, tz = self.now(), self.local_zone
        line = Text()
        emergencies = [e for e in timeline.get("emergencies", []) if e.get("active")]
        for emergency in emergencies:
            line.append(_("EMERGENCY on the air: «{title}» since {time}").format(
                title=emergency.get("title", ""),
                time=clock_time(emergency.get("started_at"), tz, now)),
                style="bold white on red")
            line.append("  ")
        airing = [e for e in timeline.get("entries", []) if self._airing(e)]
        if airing:
            entry = airing[0]
            line.append("▶ ", style="bold green")
            line.append(_("On the air: «{title}» {start}–{end}").format(
                title=entry.get("title", ""), start=clock_time(entry.get("start"), tz, now),
                end=clock_time(entry.get("end"), tz, now)), style="bold")
            if len(airing) > 1:
                line.append(" " + _("and {count} more").format(count=len(airing) - 1))
        elif not emergencies:
            upcoming = [e for e in timeline.get("entries", [])
                        if (parse_instant(e.get("start")) or now) > now]
            line.append(_("Nothing on the air."), style="dim")
            if upcoming:
                line.append(" " + _("Next: «{title}» at {time}").format(
                    title=upcoming[0].get("title", ""),
                    time=clock_time(upcoming[0].get("start"), tz, now)))
        self.query_one("#on-air", Static).update(line)

    def _airing(self, entry: dict[str, Any]) -> bool:
        start, end = parse_instant(entry.get("start")), parse_instant(entry.get("end"))
        return start is not None and end is not None and start <= self.now() < end

    def _show_clusters(self, data: dict[str, Any]) -> None:
        commune = self.commune
        villages = {u["key"]: u["name"] for u in data["units"]
                    if u.get("level") == "village" and u.get("parent") == commune}
        agents = {a["id"]: a for a in data["agents"]}
        by_cluster = {a["cluster"]: a for a in data["agents"] if a.get("cluster")}
        table = self.query_one("#clusters", DataTable)
        cursor = table.cursor_row
        table.clear()
        now, tz = self.now(), self.local_zone
        covered: set[str] = set()
        online = enrolled = 0
        clusters = sorted(data["clusters"], key=lambda c: (
            sort_key(villages.get(c["village"], c["village"])), c["key"]))
        rows: list[tuple[str, list[Text], str]] = []
        for cluster in clusters:
            covered.add(cluster["village"])
            agent = by_cluster.get(cluster["key"])
            if agent is None and cluster.get("agent"):
                agent = agents.get(cluster["agent"])
            name = villages.get(cluster["village"], cluster["village"])
            if cluster.get("kind") != "ip":
                state = Text(translated(CLUSTER_KIND, cluster.get("kind")), style="dim")
                live: dict[str, Any] = {}
            else:
                state = connectivity(agent)
                live = (agent or {}).get("live") or {}
                if agent is not None and agent.get("status") == "active":
                    enrolled += 1
                    online += live.get("connectivity") == "online"
            cells = [fit(text(name), 12), fit(text(cluster["key"]), 10), fit(state, 13),
                     fit(text(live.get("playing"), "bold"), 11),
                     fit(speaker(live.get("volume"), live.get("amp_on")), 8),
                     text(clock_time(live.get("last_seen"), tz, now)
                          if live.get("last_seen") else None)]
            rows.append((name, cells, (agent or {}).get("id") or f"cluster:{cluster['key']}"))
        for key, name in villages.items():
            if key not in covered:
                rows.append((name, [fit(text(name), 12), text(None),
                                    Text(_("no cluster"), style="yellow"), text(None),
                                    text(None), text(None)], f"village:{key}"))
        rows.sort(key=lambda row: sort_key(row[0]))
        for _name, cells, key in rows:
            table.add_row(*cells, key=key)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        counts = Text(_("{villages} villages, {clusters} clusters, {online} of {agents} "
                        "agents online").format(villages=len(villages),
                                                clusters=len(data["clusters"]),
                                                online=online, agents=enrolled),
                      style="dim")
        self.query_one("#fleet-counts", Static).update(counts)

    def _show_timeline(self, timeline: dict[str, Any]) -> None:
        table = self.query_one("#timeline", DataTable)
        table.clear()
        now, tz = self.now(), self.local_zone
        for entry in timeline.get("entries", []):
            airing = self._airing(entry)
            when = f"{clock_time(entry.get('start'), tz, now)}–" \
                   f"{clock_time(entry.get('end'), tz, now)}"
            title = Text("▶ " if airing else "  ", style="bold green")
            title.append(str(entry.get("title", "")), style="bold" if airing else "")
            priority = str(entry.get("priority", "normal"))
            if priority in PRIORITY:
                title.append(f" ({translated(PRIORITY, priority)})", style="yellow")
            table.add_row(Text(when), title, key=str(entry.get("slot_id")))
        if not timeline.get("entries"):
            table.add_row(Text(""), Text(_("Nothing programmed today."), style="dim"))

    def _show_alerts(self, alerts: list[dict[str, Any]]) -> None:
        table = self.query_one("#alerts", DataTable)
        table.clear()
        now, tz = self.now(), self.local_zone
        for alert in alerts:
            label = Text(translated(ALERT_KIND, alert.get("kind")), style="bold red")
            label.append(f" {alert.get('subject', '')}")
            table.add_row(Text(clock_time(alert.get("raised_at"), tz, now)), label,
                          key=str(alert.get("id")))
        if not alerts:
            table.add_row(Text(""), Text(_("No open alerts."), style="green"))
        self.query_one("#alerts-title", Label).update(
            _("Open alerts ({count})").format(count=len(alerts)))

    # ------------------------------------------------------------------ actions
    def action_open_agent(self) -> None:
        table = self.query_one("#clusters", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        if ":" in key:
            self.notify(_("This cluster has no agent."), severity="warning")
            return
        self.console.show_agent(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "clusters":
            event.stop()
            self.action_open_agent()
