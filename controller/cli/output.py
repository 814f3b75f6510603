"""Printing results: stable JSON for scripts (``--json``: exactly the API's objects), or
short Vietnamese (or English) tables and key/value lists for people."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from controller.i18n import N_, _

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class OutputState:
    json: bool = False


STATE = OutputState()

LABELS = {
    "key": N_("Key"), "level": N_("Level"), "name": N_("Name"), "parent": N_("Parent"),
    "code": N_("Code"), "valid_from": N_("Valid from"), "valid_to": N_("Valid to"),
    "merged_into": N_("Merged into"), "commune": N_("Commune"), "kind": N_("Kind"),
    "station": N_("Station"), "village": N_("Village"), "agent": N_("Agent"),
    "cluster": N_("Cluster"), "id": N_("ID"), "status": N_("Status"),
    "serial": N_("Serial number"), "sim_iccid": N_("SIM ICCID"), "imei": N_("IMEI"),
    "install_date": N_("Installed on"), "latitude": N_("Latitude"),
    "longitude": N_("Longitude"), "notes": N_("Notes"), "created_at": N_("Created"),
    "enrolled_at": N_("Enrolled"), "revoked_at": N_("Revoked"), "has_key": N_("Has key"),
    "connectivity": N_("Connection"), "last_seen": N_("Last seen"),
    "agent_id": N_("Agent"), "issued_by": N_("Issued by"), "issued_at": N_("Issued"),
    "expires_at": N_("Expires"), "failed_attempts": N_("Failed attempts"),
    "username": N_("User"), "display_name": N_("Full name"), "unix_user": N_("Unix user"),
    "language": N_("Language"), "disabled": N_("Disabled"), "has_password": N_("Password set"),
    "grants": N_("Roles"), "at": N_("Time"), "action": N_("Action"), "target": N_("Target"),
    "source": N_("Source"), "key_id": N_("Key ID"), "changed_at": N_("Changed"),
    "size": N_("Size (bytes)"), "epoch": N_("Signing epoch"),
    "trust_version": N_("Trust bundle version"), "token": N_("Token"),
    "clusters": N_("Clusters"), "ip_clusters": N_("IP clusters"),
    "active_agents": N_("Active agents"), "online_agents": N_("Online"),
    "role": N_("Role"), "unit": N_("Unit"), "emergency": N_("Emergency"),
    "command": N_("Command"), "broker_synced": N_("Broker updated"), "live": N_("Live state"),
}
VALUES = {
    "province": N_("province"), "district": N_("district"), "commune": N_("commune"),
    "village": N_("village"), "pending": N_("pending"), "active": N_("active"),
    "revoked": N_("revoked"), "unknown": N_("unknown"), "online": N_("online"),
    "offline": N_("offline"), "trusted": N_("trusted"),
}


def json_option(function: F) -> F:
    """``--json``: print the API's JSON instead of text (errors too, on stdout)."""

    def remember(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            STATE.json = True
        return value

    return click.option("--json", "as_json", is_flag=True, expose_value=False,
                        is_eager=True, callback=remember,
                        help=_("Print machine-readable JSON."))(function)


def label(field: str) -> str:
    return _(LABELS[field]) if field in LABELS else field


def text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and value in VALUES:
        return _(VALUES[value])
    if isinstance(value, list):
        return ", ".join(text(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items()) or "-"
    return str(value)


def width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else
               0 if unicodedata.combining(c) else 1 for c in value)


def pad(value: str, size: int) -> str:
    return value + " " * max(0, size - width(value))


def emit(data: Any, human: Callable[[Any], None]) -> None:
    """JSON when ``--json`` was given, else the human rendering."""
    if STATE.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        human(data)


def show_table(rows: Sequence[dict[str, Any]], fields: Sequence[str],
               empty: str | None = None) -> None:
    if not rows:
        click.echo(empty or _("(nothing)"))
        return
    cells = [[text(row.get(f)) for f in fields] for row in rows]
    headers = [label(f) for f in fields]
    sizes = [max(width(h), *(width(c[i]) for c in cells)) for i, h in enumerate(headers)]
    click.echo("  ".join(pad(h, s) for h, s in zip(headers, sizes, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(pad(c, s) for c, s in zip(row, sizes, strict=True)).rstrip())


def show_fields(data: dict[str, Any], fields: Sequence[str] | None = None) -> None:
    names = list(fields or data.keys())
    size = max((width(label(f)) for f in names), default=0)
    for name in names:
        click.echo(f"{pad(label(name), size)}  {text(data.get(name))}")


def say(message: str) -> None:
    """A one-line confirmation (suppressed with --json, which prints the object)."""
    if not STATE.json:
        click.echo(message)


def echo_error(message: str, code: str, details: Sequence[dict[str, str]] = ()) -> None:
    if STATE.json:
        click.echo(json.dumps({"error": {"code": code, "message": message,
                                         "details": list(details)}},
                              ensure_ascii=False, sort_keys=True))
    click.echo(_("Error: {message}").format(message=message), err=True)
    for detail in details[:10]:
        click.echo(f"  - {detail.get('field', '')}: {detail.get('problem', '')}", err=True)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
