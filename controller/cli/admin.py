"""``loaxa admin ...``: bootstrap and recovery, directly on the database."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import click

from controller.i18n import _
from controller.registry.errors import ServiceError

from .common import read_password
from .errors import CliError
from .local import CONFIG_OPTION, local_settings, open_database
from .output import emit, json_option


def service_error(error: ServiceError) -> CliError:
    return CliError(error.translated(), code=error.code)


@click.group("admin", help=_("First administrator and recovery (on the database, no API)."))
def admin() -> None:
    pass


@admin.command("init", help=_("Create the commune (if the registry is empty) and an "
                              "administrator of the whole tree."))
@CONFIG_OPTION
@click.option("-u", "--username", default="admin", show_default=True,
              help=_("The administrator's user name."))
@click.option("--unix-user", help=_("Unix account mapped to it (default: you, when no "
                                    "password is given)."))
@click.option("--password-stdin", is_flag=True, help=_("Read a password from stdin."))
@click.option("--display-name", default="", help=_("Full name."))
@json_option
def init(config: Path | None, username: str, unix_user: str | None, password_stdin: bool,
         display_name: str) -> None:
    settings = local_settings(config)
    password = read_password(True) if password_stdin else None
    if unix_user is None and password is None:
        unix_user = pwd.getpwuid(os.getuid()).pw_name
    from controller.registry.bootstrap import ensure_commune, init_admin
    from controller.signing.keyring import Keyring

    db, bus, time = open_database(settings)
    try:
        created_unit = ensure_commune(db, bus, time, settings.station.commune,
                                      settings.station.name)
        Keyring(db, bus, time).ensure(settings.station.commune)
        result = init_admin(db, bus, time, username, unix_user=unix_user, password=password,
                            display_name=display_name)
    except ServiceError as error:
        raise service_error(error) from None
    finally:
        db.dispose()
    data = {"username": result.username, "created_user": result.created_user,
            "granted": result.granted, "unix_user": unix_user,
            "commune": settings.station.commune, "created_commune": created_unit}

    def human(d: dict[str, object]) -> None:
        click.echo(_("Administrator {user} is ready (admin of: {units}).").format(
            user=d["username"], units=", ".join(result.granted) or _("already")))
        if unix_user:
            click.echo(_("Unix user {name} can now use loaxa on this machine.").format(
                name=unix_user))

    emit(data, human)


@admin.command("reset-password", help=_("Set a user's password (and re-enable it)."))
@CONFIG_OPTION
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help=_("Read the password from stdin."))
@json_option
def reset(config: Path | None, username: str, password_stdin: bool) -> None:
    settings = local_settings(config)
    password = read_password(password_stdin)
    from controller.registry.bootstrap import reset_password

    db, bus, time = open_database(settings)
    try:
        reset_password(db, bus, time, username, password)
    except ServiceError as error:
        raise service_error(error) from None
    finally:
        db.dispose()
    emit({"username": username, "password_set": True},
         lambda _d: click.echo(_("Password changed for {key}.").format(key=username)))


COMMANDS = [admin]
