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


EPOCH_ABOVE = click.option(
    "--epoch-above", type=click.IntRange(1, 10**9), metavar="N",
    help=_("Sign above epoch N too: the highest signing epoch agents may have seen, when "
           "this machine cannot know it (a new machine, a lost data directory)."))


def show_epochs(d: dict[str, Any]) -> None:
    for commune, epoch in sorted(d["epochs"].items()):
        click.echo(_("Signing epoch of {commune} is now {epoch}.").format(
            commune=commune, epoch=epoch))


@backup.command("restore", help=_("Replace the database with a backup (controller stopped); "
                                  "bumps the signing epoch."))
@CONFIG_OPTION
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@EPOCH_ABOVE
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@json_option
def restore(config: Path | None, file: Path, epoch_above: int | None, yes: bool) -> None:
    settings = local_settings(config)
    if controller_running(settings):
        raise CliError(_("The controller is running: stop it before restoring."),
                       code="conflict", exit_code=EXIT_REFUSED)
    confirm(_("Replace the database with {file}? The current one is kept aside.").format(
        file=file), yes)
    from controller.backup import restore_sqlite
    from controller.events import EventBus
    from controller.registry.timebase import StationTime
    from controller.signing.epoch_mark import EpochMark

    try:
        result = restore_sqlite(settings.database_url, file.resolve(), EventBus(),
                                StationTime(timezone=settings.station.timezone),
                                EpochMark(settings.signing_epochs_file),
                                above=epoch_above or 0)
    except ServiceError as error:
        raise CliError(error.translated(), code=error.code) from None
    data = {"restored_from": str(result.restored_from),
            "previous_copy": str(result.previous_copy) if result.previous_copy else None,
            "epochs": result.epochs, "history_known": result.history_known}

    def human(d: dict[str, Any]) -> None:
        click.echo(_("Restored from {file}.").format(file=d["restored_from"]))
        if d["previous_copy"]:
            click.echo(_("The previous database is kept as {file}.").format(
                file=d["previous_copy"]))
        show_epochs(d)
        if not d["history_known"]:
            click.echo(_("Nothing on this machine tells which signing epochs were used "
                         "before this restore. If agents may have seen a higher one, run "
                         "`loaxa backup bump-epoch --epoch-above N` before starting the "
                         "controller."), err=True)

    emit(data, human)


@backup.command("bump-epoch", help=_("Raise the signing epoch (after restoring PostgreSQL "
                                     "by hand)."))
@CONFIG_OPTION
@EPOCH_ABOVE
@json_option
def bump(config: Path | None, epoch_above: int | None) -> None:
    settings = local_settings(config)
    from controller.backup import bump_epochs
    from controller.signing.epoch_mark import EpochMark

    db, bus, time = open_database(settings)
    try:
        epochs = bump_epochs(db, bus, time, EpochMark(settings.signing_epochs_file),
                             reason="bump-epoch", above=epoch_above or 0)
    except ServiceError as error:
        raise CliError(error.translated(), code=error.code) from None
    finally:
        db.dispose()
    emit({"epochs": epochs}, show_epochs)


COMMANDS = [backup]
