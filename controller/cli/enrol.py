"""``loaxa enrol ...``: one-time codes for agents."""

from __future__ import annotations

from typing import Any

import click

from controller.i18n import _

from .common import seg
from .context import api
from .output import emit, json_option, show_table


@click.group("enrol", help=_("Enrol agents with one-time codes."))
def enrol() -> None:
    pass


def _issued(data: dict[str, Any]) -> None:
    click.echo(_("Code for agent {agent}: {code}").format(agent=data["agent_id"],
                                                           code=data["code"]))
    click.echo(_("Valid until {time} (UTC). Shown only once.").format(time=data["expires_at"]))
    click.echo(_("On the agent, run:"))
    click.echo(f"  {data['command']}")


@enrol.command("issue", help=_("Issue a code for a new agent in a cluster, or for an "
                               "existing agent."))
@click.argument("commune")
@click.option("--cluster", help=_("The cluster (required for a new agent)."))
@click.option("--agent", "agent_id", help=_("An existing agent (re-enrolment)."))
@json_option
def issue(commune: str, cluster: str | None, agent_id: str | None) -> None:
    emit(api().call("POST", f"/communes/{seg(commune)}/enrolment-codes",
                    body={"cluster": cluster, "agent_id": agent_id}), _issued)


@enrol.command("pending", help=_("Codes not claimed yet."))
@click.option("--commune", help=_("Only this commune."))
@json_option
def pending(commune: str | None) -> None:
    emit(api().call("GET", "/enrolment-codes", params={"commune": commune}),
         lambda rows: show_table(rows, ["agent_id", "commune", "cluster", "issued_by",
                                        "expires_at", "failed_attempts"]))


COMMANDS = [enrol]
