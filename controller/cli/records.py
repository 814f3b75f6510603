"""``loaxa audit`` and ``loaxa fleet``: what happened, and the fleet now."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from controller.i18n import _

from .context import api
from .output import emit, json_option, show_fields, show_table, text

INSTANT = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"])


def _instant(value: dt.datetime | None) -> str | None:
    """Typed times are UTC (the help says so): the API reads naive times as UTC."""
    return value.isoformat() if value is not None else None


def _page(data: dict[str, Any]) -> None:
    show_table(data["entries"], ["id", "at", "username", "commune", "action", "target"])
    if data.get("next_before_id"):
        click.echo(_("More: add --before {id}").format(id=data["next_before_id"]))


@click.command("audit", help=_("The audit log, newest first (times in UTC)."))
@click.option("--commune", help=_("Only this unit (and below)."))
@click.option("--user", "username", help=_("Only this user."))
@click.option("--action", help=_("Only this action (a prefix if it ends with '.')."))
@click.option("--target", help=_("Only this target."))
@click.option("--since", type=INSTANT, help=_("From this time (UTC)."))
@click.option("--until", type=INSTANT, help=_("Before this time (UTC)."))
@click.option("--before", "before_id", type=click.IntRange(1), help=_("Older than this entry."))
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True,
              help=_("How many entries."))
@json_option
def audit(commune: str | None, username: str | None, action: str | None,
          target: str | None, since: dt.datetime | None, until: dt.datetime | None,
          before_id: int | None, limit: int) -> None:
    emit(api().call("GET", "/audit", params={
        "commune": commune, "username": username, "action": action, "target": target,
        "since": _instant(since), "until": _instant(until), "before_id": before_id,
        "limit": limit}), _page)


def _summary(data: dict[str, Any]) -> None:
    show_fields({"commune": data["communes"]}, ["commune"])
    for field, title in (("stations_by_kind", _("Stations by kind")),
                         ("clusters_by_kind", _("Clusters by kind")),
                         ("agents_by_status", _("Agents by status")),
                         ("agents_by_connectivity", _("Active agents by connection"))):
        counts = ", ".join(f"{text(k)}: {v}" for k, v in sorted(data[field].items()))
        click.echo(f"{title}: {counts or '-'}")
    click.echo("")
    show_table(data["villages"], ["village", "name", "clusters", "ip_clusters",
                                  "active_agents", "online_agents"])


@click.command("fleet", help=_("Fleet summary: counts by kind, status and village."))
@click.option("--commune", help=_("Only this commune."))
@json_option
def fleet(commune: str | None) -> None:
    emit(api().call("GET", "/fleet/summary", params={"commune": commune}), _summary)


COMMANDS = [audit, fleet]
