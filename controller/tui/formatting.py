"""How the console writes times, states and numbers: in the station's time zone, short
enough for 80 columns, and in the operator's language.

Data from the API is put into widgets as :class:`rich.text.Text` (never as markup), so an
agent id or a bulletin title with brackets is shown as it is.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text

from controller.i18n import N_, _

STATION_TZ = "Asia/Ho_Chi_Minh"
DASH = "—"

CONNECTIVITY = {"online": (N_("online"), "bold green"),
                "offline": (N_("offline"), "bold red"),
                "unknown": (N_("unknown"), "yellow")}
AGENT_STATUS = {"pending": (N_("not enrolled yet"), "yellow"),
                "revoked": (N_("revoked"), "dim")}
CLUSTER_KIND = {"ip": N_("IP"), "wired": N_("wired"), "fm": N_("FM")}
ALERT_KIND = {"alert_agent_offline": N_("Offline agent"),
              "alert_journal_backlog": N_("Unsent journal"),
              "alert_airing_missed": N_("Missed airing"),
              "alert_village_unreached": N_("Unreached village")}
PRIORITY = {"emergency": N_("emergency bulletin"), "live": N_("live broadcast"),
            "priority": N_("priority bulletin"), "relay": N_("relay programme")}
RECORD_KIND = {"boot": N_("agent started"), "anchor": N_("clock trusted"),
               "interval_open": N_("audio path up"),
               "interval_extend": N_("audio path still up"),
               "interval_close": N_("audio path down"), "event": N_("agent event"),
               "play": N_("proof of play"), "unknown": N_("unknown")}


def sort_key(name: str) -> str:
    """Vietnamese names in dictionary order, near enough: without their diacritics
    (``Thôn Đông`` sorts with ``Thon Dong``)."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold()


def zone(name: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(name or STATION_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(STATION_TZ)


def parse_instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def clock_time(value: Any, tz: dt.tzinfo, now: dt.datetime | None = None) -> str:
    """``HH:MM`` today (station time), ``DD/MM HH:MM`` another day, ``—`` if none."""
    instant = parse_instant(value) if not isinstance(value, dt.datetime) else value
    if instant is None:
        return DASH
    local = instant.astimezone(tz)
    if now is not None and local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M")
    return local.strftime("%d/%m %H:%M")


def text(value: Any, style: str = "") -> Text:
    """A cell or label from data (no markup), ``—`` for nothing."""
    if value is None or value == "":
        return Text(DASH, style="dim")
    return Text(str(value), style=style)


def connectivity(agent: dict[str, Any] | None) -> Text:
    if agent is None:
        return Text(_("no agent yet"), style="dim")
    status = str(agent.get("status", ""))
    if status in AGENT_STATUS:
        label, style = AGENT_STATUS[status]
        return Text(_(label), style=style)
    live = agent.get("live") or {}
    label, style = CONNECTIVITY.get(str(live.get("connectivity")), CONNECTIVITY["unknown"])
    return Text(_(label), style=style)


def amplifier(value: Any) -> Text:
    if value is None:
        return Text(DASH, style="dim")
    return Text(_("switched on"), style="green") if value else Text(_("switched off"),
                                                                   style="dim")


def speaker(volume_: Any, amp_on: Any) -> Text:
    """Volume and amplifier in one short cell: ``70% bật``."""
    if volume_ is None and amp_on is None:
        return Text(DASH, style="dim")
    cell = volume(volume_)
    cell.append(" ")
    cell.append_text(amplifier(amp_on))
    return cell


def volume(value: Any) -> Text:
    return Text(DASH, style="dim") if value is None else Text(f"{value}%")


def translated(table: dict[str, Any], key: Any) -> str:
    entry = table.get(str(key))
    if entry is None:
        return str(key)
    return _(entry[0] if isinstance(entry, tuple) else entry)
