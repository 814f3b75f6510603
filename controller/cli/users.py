"""``loaxa user ...``: accounts and role grants."""

from __future__ import annotations

import sys
from typing import Any

import click

from controller.i18n import _

from .common import choice, read_password, seg
from .context import api
from .output import emit, json_option, say, show_fields, show_table, text

ROLES = ["viewer", "operator", "approver", "technician", "admin"]


@click.group("users", help=_("Users and their roles."))
def user() -> None:
    pass


def _grants(data: dict[str, Any]) -> str:
    return ", ".join(f"{g['role']}@{g['unit']}" + ("+" + _("emergency") if g["emergency"]
                                                   else "") for g in data["grants"]) or "-"


def _user(data: dict[str, Any]) -> None:
    show_fields({**data, "grants": _grants(data)}, ["username", "display_name", "unix_user",
                                                    "language", "disabled", "has_password",
                                                    "grants"])


@user.command("list", help=_("Users you may see."))
@json_option
def user_list() -> None:
    emit(api().call("GET", "/users"), lambda rows: show_table(
        [{**r, "grants": _grants(r)} for r in rows],
        ["username", "display_name", "unix_user", "disabled", "grants"]))


@user.command("show", help=_("One user."))
@click.argument("username")
@json_option
def user_show(username: str) -> None:
    emit(api().call("GET", f"/users/{seg(username)}"), _user)


@user.command("create", help=_("Create a user (then grant a role)."))
@click.argument("username")
@click.option("--display-name", default="", help=_("Full name."))
@click.option("--unix-user", help=_("Unix account that logs in through the local socket."))
@click.option("--language", type=choice(["vi", "en"]), help=_("Preferred language."))
@click.option("--password-stdin", is_flag=True, help=_("Read a password from stdin."))
@click.option("--no-password", is_flag=True, help=_("No password (local socket only)."))
@json_option
def user_create(username: str, display_name: str, unix_user: str | None,
                language: str | None, password_stdin: bool, no_password: bool) -> None:
    password = None if no_password else read_password(password_stdin)
    result = api().call("POST", "/users", body={
        "username": username, "display_name": display_name, "unix_user": unix_user,
        "language": language, "password": password})
    emit(result, lambda u: say(_("Created {key}.").format(key=u["username"])))


@user.command("update", help=_("Change a user."))
@click.argument("username")
@click.option("--display-name", help=_("Full name."))
@click.option("--unix-user", help=_("Unix account that logs in through the local socket."))
@click.option("--clear-unix-user", is_flag=True, help=_("Remove the Unix account mapping."))
@click.option("--language", type=choice(["vi", "en"]), help=_("Preferred language."))
@click.option("--disable/--enable", "disabled", default=None, help=_("Disable or enable."))
@json_option
def user_update(username: str, display_name: str | None, unix_user: str | None,
                clear_unix_user: bool, language: str | None, disabled: bool | None) -> None:
    body = {k: v for k, v in {"display_name": display_name, "unix_user": unix_user,
                              "language": language, "disabled": disabled}.items()
            if v is not None}
    if clear_unix_user:
        body["clear_unix_user"] = True
    result = api().call("PATCH", f"/users/{seg(username)}", body=body)
    emit(result, lambda u: say(_("Updated {key}.").format(key=u["username"])))


@user.command("password", help=_("Set a password (your own, or a user you manage)."))
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help=_("Read the new password (and, on a second line, your current one) "
                     "from stdin."))
@json_option
def user_password(username: str, password_stdin: bool) -> None:
    password = read_password(password_stdin)
    current = None
    if password_stdin:
        current = sys.stdin.readline().rstrip("\n") or None
    api().call("PUT", f"/users/{seg(username)}/password",
               body={"password": password, "current_password": current})
    emit({"username": username, "password_set": True},
         lambda _d: say(_("Password changed for {key}.").format(key=username)))


@user.command("grant", help=_("Grant a role on a unit (and every unit below it)."))
@click.argument("username")
@click.option("--unit", required=True, help=_("The unit."))
@click.option("--role", type=choice(ROLES), required=True, help=_("The role."))
@click.option("--emergency", is_flag=True, help=_("May air emergencies without approval."))
@json_option
def user_grant(username: str, unit: str, role: str, emergency: bool) -> None:
    result = api().call("POST", f"/users/{seg(username)}/grants",
                        body={"unit": unit, "role": role, "emergency": emergency})
    emit(result, lambda u: say(_("{user} now has: {grants}").format(
        user=u["username"], grants=_grants(u))))


@user.command("ungrant", help=_("Take a role away."))
@click.argument("username")
@click.option("--unit", required=True, help=_("The unit."))
@click.option("--role", type=choice(ROLES), required=True, help=_("The role."))
@json_option
def user_ungrant(username: str, unit: str, role: str) -> None:
    result = api().call("DELETE", f"/users/{seg(username)}/grants/{seg(unit)}/{seg(role)}")
    emit(result, lambda u: say(_("{user} now has: {grants}").format(
        user=u["username"], grants=text(_grants(u)))))


COMMANDS = [user]
