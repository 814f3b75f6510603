"""``loaxa backup ...``: take and list backups through the controller; restore and bump
the epoch directly on the database (with the controller stopped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from controller.i18n import _
from controller.registry.errors import ServiceError

from .common import confirm
from .context import api
from .errors import EXIT_REFUSED, CliError
from .local import CONFIG_OPTION, controller_running, local_settings, open_database
from .output import emit, json_option, say, show_table


@click.group("backup", help=_("Backups of the controller database."))
def backup() -> None:
    pass


@backup.command("now", help=_("Take a backup now (the controller keeps running)."))
@json_option
def now() -> None:
    emit(api().call("POST", "/backups"),
         lambda b: say(_("Backup {name} ({size} bytes).").format(**b)))


@backup.command("list", help=_("Backups kept by the controller, newest first."))
@json_option
def list_() -> None:
    emit(api().call("GET", "/backups"),
         lambda rows: show_table(rows, ["name", "size", "created_at"]))


@backup.command("restore", help=_("Replace the database with a backup (controller stopped); "
                                  "bumps the signing epoch."))
@CONFIG_OPTION
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@json_option
def restore(config: Path | None, file: Path, yes: bool) -> None:
    settings = local_settings(config)
    if controller_running(settings):
        raise CliError(_("The controller is running: stop it before restoring."),
                       code="conflict", exit_code=EXIT_REFUSED)
    confirm(_("Replace the database with {file}? The current one is kept aside.").format(
        file=file), yes)
    from controller.backup import restore_sqlite
    from controller.events import EventBus
    from controller.registry.timebase import StationTime

    try:
        result = restore_sqlite(settings.database_url, file.resolve(), EventBus(),
                                StationTime(timezone=settings.station.timezone))
    except ServiceError as error:
        raise CliError(error.translated(), code=error.code) from None
    data = {"restored_from": str(result.restored_from),
            "previous_copy": str(result.previous_copy) if result.previous_copy else None,
            "epochs": result.epochs}

    def human(d: dict[str, Any]) -> None:
        click.echo(_("Restored from {file}.").format(file=d["restored_from"]))
        if d["previous_copy"]:
            click.echo(_("The previous database is kept as {file}.").format(
                file=d["previous_copy"]))
        for commune, epoch in sorted(d["epochs"].items()):
            click.echo(_("Signing epoch of {commune} is now {epoch}.").format(
                commune=commune, epoch=epoch))

    emit(data, human)


@backup.command("bump-epoch", help=_("Raise the signing epoch (after restoring PostgreSQL "
                                     "by hand)."))
@CONFIG_OPTION
@json_option
def bump(config: Path | None) -> None:
    settings = local_settings(config)
    from controller.backup import bump_epochs

    db, bus, time = open_database(settings)
    try:
        epochs = bump_epochs(db, bus, time, reason="bump-epoch")
    finally:
        db.dispose()

    def human(d: dict[str, Any]) -> None:
        for commune, epoch in sorted(d["epochs"].items()):
            click.echo(_("Signing epoch of {commune} is now {epoch}.").format(
                commune=commune, epoch=epoch))

    emit({"epochs": epochs}, human)


COMMANDS = [backup]
