"""``loaxa station|cluster|agent ...``: the commune's equipment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from controller.i18n import _

from .common import DATE, choice, confirm, iso_date, seg
from .context import api
from .output import emit, json_option, say, show_fields, show_table

STATION_KINDS = ["ip", "wired", "fm", "hybrid"]
CLUSTER_KINDS = ["ip", "wired", "fm"]
AGENT_STATUSES = ["pending", "active", "revoked"]


def _changes(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# ---------------------------------------------------------------------------- stations


@click.group("stations", help=_("Commune broadcasting stations."))
def station() -> None:
    pass


@station.command("list", help=_("Stations you may see."))
@click.option("--commune", help=_("Only this commune."))
@json_option
def station_list(commune: str | None) -> None:
    emit(api().call("GET", "/stations", params={"commune": commune}),
         lambda rows: show_table(rows, ["commune", "key", "name", "kind"]))


@station.command("show", help=_("One station."))
@click.argument("commune")
@click.argument("key")
@json_option
def station_show(commune: str, key: str) -> None:
    emit(api().call("GET", f"/communes/{seg(commune)}/stations/{seg(key)}"), show_fields)


@station.command("create", help=_("Add a station to a commune."))
@click.argument("commune")
@click.argument("key")
@click.option("--name", required=True, help=_("Its name."))
@click.option("--kind", type=choice(STATION_KINDS), required=True, help=_("Its kind."))
@json_option
def station_create(commune: str, key: str, name: str, kind: str) -> None:
    result = api().call("POST", f"/communes/{seg(commune)}/stations",
                        body={"key": key, "name": name, "kind": kind})
    emit(result, lambda s: say(_("Created {key}.").format(key=s["key"])))


@station.command("update", help=_("Change a station's name or kind."))
@click.argument("commune")
@click.argument("key")
@click.option("--name", help=_("New name."))
@click.option("--kind", type=choice(STATION_KINDS), help=_("New kind."))
@json_option
def station_update(commune: str, key: str, name: str | None, kind: str | None) -> None:
    result = api().call("PATCH", f"/communes/{seg(commune)}/stations/{seg(key)}",
                        body=_changes(name=name, kind=kind))
    emit(result, lambda s: say(_("Updated {key}.").format(key=s["key"])))


# ---------------------------------------------------------------------------- clusters


@click.group("clusters", help=_("Loudspeaker clusters in the villages."))
def cluster() -> None:
    pass


@cluster.command("list", help=_("Clusters you may see."))
@click.option("--commune", help=_("Only this commune."))
@click.option("--village", help=_("Only this village."))
@json_option
def cluster_list(commune: str | None, village: str | None) -> None:
    emit(api().call("GET", "/clusters", params={"commune": commune, "village": village}),
         lambda rows: show_table(rows, ["commune", "key", "name", "kind", "village",
                                        "station", "agent"]))


@cluster.command("show", help=_("One cluster."))
@click.argument("commune")
@click.argument("key")
@json_option
def cluster_show(commune: str, key: str) -> None:
    emit(api().call("GET", f"/communes/{seg(commune)}/clusters/{seg(key)}"), show_fields)


@cluster.command("create", help=_("Add a cluster in a village."))
@click.argument("commune")
@click.argument("key")
@click.option("--name", required=True, help=_("Its name."))
@click.option("--kind", type=choice(CLUSTER_KINDS), required=True, help=_("Its kind."))
@click.option("--station", "station_key", required=True, help=_("Its station."))
@click.option("--village", required=True, help=_("Its village."))
@json_option
def cluster_create(commune: str, key: str, name: str, kind: str, station_key: str,
                   village: str) -> None:
    result = api().call("POST", f"/communes/{seg(commune)}/clusters", body={
        "key": key, "name": name, "kind": kind, "station": station_key, "village": village})
    emit(result, lambda c: say(_("Created {key}.").format(key=c["key"])))


@cluster.command("update", help=_("Change a cluster."))
@click.argument("commune")
@click.argument("key")
@click.option("--name", help=_("New name."))
@click.option("--kind", type=choice(CLUSTER_KINDS), help=_("New kind."))
@click.option("--station", "station_key", help=_("New station."))
@click.option("--village", help=_("New village."))
@json_option
def cluster_update(commune: str, key: str, name: str | None, kind: str | None,
                   station_key: str | None, village: str | None) -> None:
    result = api().call("PATCH", f"/communes/{seg(commune)}/clusters/{seg(key)}",
                        body=_changes(name=name, kind=kind, station=station_key,
                                      village=village))
    emit(result, lambda c: say(_("Updated {key}.").format(key=c["key"])))


# ---------------------------------------------------------------------------- agents


@click.group("agents", help=_("Village agents (the boxes at IP clusters)."))
def agent() -> None:
    pass


def _agent_rows(rows: list[dict[str, Any]]) -> None:
    flat = [{**row, "connectivity": row["live"]["connectivity"],
             "last_seen": row["live"]["last_seen"]} for row in rows]
    show_table(flat, ["id", "commune", "cluster", "village", "status", "connectivity",
                      "last_seen"])


def _agent(row: dict[str, Any]) -> None:
    show_fields({**{k: v for k, v in row.items() if k != "live"},
                 "connectivity": row["live"]["connectivity"],
                 "last_seen": row["live"]["last_seen"]})


def asset_options(function: Any) -> Any:
    for option in reversed([
            click.option("--serial", help=_("Serial number.")),
            click.option("--sim-iccid", help=_("SIM card ICCID.")),
            click.option("--imei", help=_("Modem IMEI.")),
            click.option("--install-date", type=DATE, help=_("Installed on (YYYY-MM-DD).")),
            click.option("--lat", "latitude", type=float, help=_("Latitude.")),
            click.option("--lon", "longitude", type=float, help=_("Longitude.")),
            click.option("--notes", help=_("Notes."))]):
        function = option(function)
    return function


def _assets(serial: str | None, sim_iccid: str | None, imei: str | None,
            install_date: dt.datetime | None, latitude: float | None,
            longitude: float | None, notes: str | None) -> dict[str, Any]:
    return _changes(serial=serial, sim_iccid=sim_iccid, imei=imei,
                    install_date=iso_date(install_date), latitude=latitude,
                    longitude=longitude, notes=notes)


@agent.command("list", help=_("Agents with their live state."))
@click.option("--commune", help=_("Only this commune."))
@click.option("--status", type=choice(AGENT_STATUSES), help=_("Only this status."))
@json_option
def agent_list(commune: str | None, status: str | None) -> None:
    emit(api().call("GET", "/agents", params={"commune": commune, "status": status}),
         _agent_rows)


@agent.command("show", help=_("One agent."))
@click.argument("agent_id")
@json_option
def agent_show(agent_id: str) -> None:
    emit(api().call("GET", f"/agents/{seg(agent_id)}"), _agent)


@agent.command("create", help=_("Register an agent (then issue its code: loaxa enrol issue)."))
@click.argument("commune")
@click.option("--id", "agent_id", help=_("Its id (default: generated)."))
@click.option("--cluster", help=_("Its cluster."))
@asset_options
@json_option
def agent_create(commune: str, agent_id: str | None, cluster: str | None,
                 **assets: Any) -> None:
    body = {"id": agent_id, "cluster": cluster, **_assets(**assets)}
    result = api().call("POST", f"/communes/{seg(commune)}/agents", body=_changes(**body))
    emit(result, lambda a: say(_("Created {key}.").format(key=a["id"])))


@agent.command("update", help=_("Change an agent's asset data or cluster."))
@click.argument("agent_id")
@click.option("--cluster", help=_("New cluster."))
@asset_options
@click.option("--clear", multiple=True, type=choice(
    ["serial", "sim_iccid", "imei", "install_date", "latitude", "longitude", "notes"]),
    help=_("Clear this field (repeatable)."))
@json_option
def agent_update(agent_id: str, cluster: str | None, clear: tuple[str, ...],
                 **assets: Any) -> None:
    body: dict[str, Any] = {**_changes(cluster=cluster), **_assets(**assets)}
    body.update(dict.fromkeys(clear))
    result = api().call("PATCH", f"/agents/{seg(agent_id)}", body=body)
    emit(result, lambda a: say(_("Updated {key}.").format(key=a["id"])))


@agent.command("revoke", help=_("Revoke an agent at once (broker and data plane)."))
@click.argument("agent_id")
@click.option("--reason", default="", help=_("Why (kept in the audit log)."))
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@json_option
def agent_revoke(agent_id: str, reason: str, yes: bool) -> None:
    confirm(_("Revoke agent {agent}? It will be disconnected at once.").format(
        agent=agent_id), yes)
    result = api().call("POST", f"/agents/{seg(agent_id)}/revoke", body={"reason": reason})

    def human(data: dict[str, Any]) -> None:
        say(_("Revoked {key}.").format(key=data["agent"]["id"]))
        if not data["broker_synced"]:
            say(_("Warning: the broker could not be updated; it will be at the next "
                  "controller start."))

    emit(result, human)


AGENT_ACTIONS = ["volume", "stop", "restart", "reboot"]


@agent.command("command", help=_("Send a command to an agent: volume LEVEL, stop, restart "
                                 "or reboot."))
@click.argument("agent_id")
@click.argument("action", type=choice(AGENT_ACTIONS))
@click.argument("level", type=click.IntRange(0, 100), required=False)
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@json_option
def agent_command(agent_id: str, action: str, level: int | None, yes: bool) -> None:
    if action == "volume" and level is None:
        raise click.UsageError(_("Give the volume level (0 to 100)."))
    if action != "volume" and level is not None:
        raise click.UsageError(_("Only the volume command takes a level."))
    if action in ("restart", "reboot"):
        confirm(_("Send {action} to agent {agent}? Its loudspeakers go silent until it "
                  "is back.").format(action=action, agent=agent_id), yes)
    result = api().call("POST", f"/agents/{seg(agent_id)}/commands",
                        body={"action": action, "level": level})

    def human(sent: dict[str, Any]) -> None:
        say(_("Sent {action} to {agent} (command {epoch}.{counter}, valid until "
              "{expires}).").format(action=sent["action"], agent=sent["agent_id"],
                                    epoch=sent["epoch"], counter=sent["counter"],
                                    expires=sent["expires_at"]))

    emit(result, human)


@agent.command("journal", help=_("An agent's latest journal records, newest first."))
@click.argument("agent_id")
@click.option("--limit", type=click.IntRange(1, 200), default=30, show_default=True,
              help=_("How many records."))
@json_option
def agent_journal(agent_id: str, limit: int) -> None:
    emit(api().call("GET", f"/agents/{seg(agent_id)}/journal", params={"limit": limit}),
         lambda rows: show_table(rows, ["seq", "at", "kind", "code", "detail"]))


COMMANDS = [station, cluster, agent]
