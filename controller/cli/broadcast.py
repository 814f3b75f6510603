"""``loaxa broadcast emergency ...``: air a cached item now, stop it, and the approver's
acknowledgement afterwards. Starting needs the emergency permission, not an approval."""

from __future__ import annotations

from typing import Any

import click

from controller.i18n import _

from .common import seg
from .context import api
from .output import emit, json_option, say, show_table
from .schedule import SHA, commune_of, commune_option, local, names, station_tz


@click.group("broadcast", help=_("Broadcasts outside the schedule."))
def broadcast() -> None:
    pass


@broadcast.group("emergency", help=_("Emergency broadcasts from the agents' cache."))
def emergency() -> None:
    pass


def emergencies_path(commune: str | None, *rest: str) -> str:
    return "/".join([f"/communes/{seg(commune_of(commune))}/emergencies",
                     *(seg(r) for r in rest)])


def state_text(row: dict[str, Any]) -> str:
    if row["active"]:
        return _("on the air")
    return _("stopped") if row["stop_reason"] == "stopped" else _("superseded")


def emergency_rows(rows: list[dict[str, Any]]) -> None:
    show_table([{_("ID"): r["id"], _("Item"): r["title"] or r["content"][:12],
                 _("State"): state_text(r),
                 _("Villages"): r["villages"] or _("whole commune"),
                 _("Started"): local(r["started_at"], station_tz(), True),
                 _("Started by"): r["started_by"],
                 _("Acknowledged by"): r["acknowledged_by"]} for r in rows],
               [_("ID"), _("Item"), _("State"), _("Villages"), _("Started"),
                _("Started by"), _("Acknowledged by")], empty=_("No emergencies."))


@emergency.command("start", help=_("Air a cached item now, on chosen villages or "
                                   "everywhere, until stopped."))
@click.option("--content", help=_("The item's SHA-256."))
@click.option("--title", help=_("The item's library title."))
@click.option("--villages", help=_("These villages (a,b)."))
@click.option("--all", "everywhere", is_flag=True, help=_("The whole commune."))
@click.option("--repeat-every", type=click.IntRange(0, 1440), default=0,
              help=_("Air it again every N minutes until stopped (0: once)."))
@click.option("--volume", type=click.IntRange(0, 100), default=100,
              help=_("Volume in percent (default 100)."))
@click.option("--no-tone", is_flag=True, help=_("No attention tone before it."))
@commune_option
@json_option
def emergency_start(content: str | None, title: str | None, villages: str | None,
                    everywhere: bool, repeat_every: int, volume: int, no_tone: bool,
                    commune: str | None) -> None:
    if (content is None) == (title is None):
        raise click.UsageError(_("Name the item: --content SHA or --title TITLE."))
    if content is not None and not SHA.match(content):
        raise click.BadParameter(_("a SHA-256 is 64 hexadecimal digits"),
                                 param_hint="--content")
    chosen = names(villages) or []
    if bool(chosen) == everywhere:
        raise click.UsageError(_("Choose --villages a,b or --all."))
    body = {"content": content.lower() if content else None, "title": title,
            "villages": chosen, "all_villages": everywhere,
            "repeat_every_minutes": repeat_every, "volume": volume,
            "attention_tone": not no_tone}
    result = api().call("POST", emergencies_path(commune),
                        body={k: v for k, v in body.items() if v is not None})

    def human(data: dict[str, Any]) -> None:
        say(_("Emergency {id} is on the air: {title}.").format(id=data["id"],
                                                                title=data["title"]))
        if data["document_version"] is None:
            say(_("Warning: the agents have not been told yet (no broker link); they will "
                  "be as soon as the controller reaches the broker."))
        say(_("An approver must acknowledge it afterwards: loaxa broadcast emergency ack "
              "{id}").format(id=data["id"]))

    emit(result, human)


@emergency.command("stop", help=_("Stop the emergency on the air."))
@commune_option
@json_option
def emergency_stop(commune: str | None) -> None:
    result = api().call("POST", emergencies_path(commune, "stop"))
    emit(result, lambda r: say(_("Stopped emergency {id}.").format(id=r["id"])))


@emergency.command("ack", help=_("Acknowledge an emergency aired without approval "
                                 "(approvers)."))
@click.argument("emergency_id")
@click.option("--note", default="", help=_("A note for the record."))
@commune_option
@json_option
def emergency_ack(emergency_id: str, note: str, commune: str | None) -> None:
    result = api().call("POST", emergencies_path(commune, emergency_id, "acknowledge"),
                        body={"note": note})
    emit(result, lambda r: say(_("Acknowledged emergency {id}.").format(id=r["id"])))


@emergency.command("list", help=_("Emergencies, newest first."))
@click.option("--unacknowledged", is_flag=True, help=_("Only those still to acknowledge."))
@click.option("--active", is_flag=True, help=_("Only the one on the air."))
@commune_option
@json_option
def emergency_list(unacknowledged: bool, active: bool, commune: str | None) -> None:
    emit(api().call("GET", emergencies_path(commune), params={
        "unacknowledged": "true" if unacknowledged else None,
        "active": "true" if active else None}), emergency_rows)


COMMANDS = [broadcast]
