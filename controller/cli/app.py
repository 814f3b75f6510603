"""The controller's command groups, and the one place where every error is turned into a
translated message and an exit code: no traceback ever reaches the operator (it goes to
the CLI log, or to the screen with ``--debug``)."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

import click

from controller.i18n import _
from protocols.messages import PROTOCOL_VERSION

from .context import CliContext
from .errors import EXIT_ERROR, EXIT_USAGE, CliError
from .output import STATE, echo_error

VERSION = "0.1.0"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, prog_name="loaxa",
                      message=f"%(prog)s %(version)s (wire protocol v{PROTOCOL_VERSION})")
@click.option("-c", "--config", type=click.Path(path_type=Path, dir_okay=False),
              envvar="LOAXA_CONFIG", help=_("Settings file (TOML)."))
@click.option("--socket", type=click.Path(path_type=Path), envvar="LOAXA_SOCKET",
              help=_("The API's Unix socket (default: from the settings)."))
@click.option("--url", envvar="LOAXA_URL", help=_("The API over TCP, e.g. https://host:8443."))
@click.option("--token", envvar="LOAXA_TOKEN", help=_("A login token (loaxa login)."))
@click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False),
              help=_("CA certificate to verify the API's TLS certificate."))
@click.option("--debug", is_flag=True, help=_("Show error details."))
@click.pass_context
def cli(ctx: click.Context, config: Path | None, socket: Path | None, url: str | None,
        token: str | None, ca_file: Path | None, debug: bool) -> None:
    obj = ctx.ensure_object(CliContext)
    obj.config, obj.socket, obj.url, obj.token = config, socket, url, token
    obj.ca_file, obj.debug = ca_file, debug
    if debug:
        logging.basicConfig(level=logging.DEBUG)


# Click reads the help from the docstring; translated at import time.
cli.help = _("loaxa: IP-radio broadcast controller for commune loudspeaker networks.")


def _register() -> None:
    from . import (
        access,
        admin,
        attest,
        backup,
        broadcast,
        collector,
        daemon,
        demo,
        devices,
        enrol,
        keys,
        records,
        report,
        schedule,
        tui,
        units,
        users,
    )
    from . import library as library_commands

    for module in (access, units, devices, enrol, users, records, keys, backup, admin, daemon,
                   demo, library_commands, schedule, broadcast, report, attest, collector,
                   tui):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def usage_message(error: click.UsageError) -> str:
    """Click's usage errors in the operator's language (Click itself speaks English)."""
    if isinstance(error, click.exceptions.NoSuchOption):
        message = _("No such option: {name}").format(name=error.option_name)
    elif isinstance(error, click.exceptions.MissingParameter) and error.param is not None:
        name = error.param.opts[0] if error.param.opts else error.param.name
        message = _("Missing {name}.").format(name=name)
    elif isinstance(error, click.exceptions.BadParameter) and error.param is not None:
        name = error.param.opts[0] if error.param.opts else error.param.name
        message = _("Invalid value for {name}: {problem}").format(name=name,
                                                                  problem=error.message)
    else:
        message = _("Wrong usage: {problem}").format(problem=error.message)
    command = error.ctx.command_path if error.ctx is not None else "loaxa"
    return message + "\n" + _("Try '{command} --help'.").format(command=command)


def log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "loaxa" / "cli.log"


def log_unexpected(error: BaseException) -> str | None:
    """Append the traceback to the CLI log; the log's path, or None if unwritable."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(error)))
        return str(path)
    except OSError:
        return None


def run(args: list[str]) -> int:
    STATE.json = False
    debug = "--debug" in args
    state = CliContext()
    try:
        with cli.make_context("loaxa", list(args), obj=state) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.NoArgsIsHelpError as error:
        if error.ctx is not None:
            click.echo(error.ctx.get_help())
        return EXIT_USAGE
    except click.UsageError as error:
        echo_error(usage_message(error), "usage")
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo(_("Cancelled."), err=True)
        return 130
    except click.ClickException as error:
        echo_error(error.format_message(), "usage")
        return error.exit_code
    except CliError as error:
        echo_error(error.message, error.code, error.details)
        return error.exit_code
    except KeyboardInterrupt:
        click.echo(_("Cancelled."), err=True)
        return 130
    except Exception as error:
        where = log_unexpected(error)
        if debug:
            click.echo("".join(traceback.format_exception(error)), err=True)
        message = _("Unexpected error: {error}").format(error=f"{type(error).__name__}: "
                                                              f"{error}")
        if where and not debug:
            message += " " + _("(details in {path})").format(path=where)
        echo_error(message, "internal_error")
        return EXIT_ERROR
    finally:
        state.close()
    return 0
