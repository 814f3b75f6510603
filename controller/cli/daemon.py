"""``loaxa controller run``: the station daemon in the foreground (systemd runs this)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from controller.i18n import _

from .errors import EXIT_UNAVAILABLE, CliError
from .local import CONFIG_OPTION, local_settings


@click.group("controller", help=_("The station controller."))
def controller() -> None:
    pass


@controller.command("run", help=_("Run the controller until stopped (SIGTERM)."))
@CONFIG_OPTION
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help=_("How much to log."))
def run(config: Path | None, log_level: str) -> None:
    settings = local_settings(config)
    logging.basicConfig(level=getattr(logging, log_level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sqlalchemy.exc import SQLAlchemyError

    from controller.daemon import Daemon
    from controller.registry.errors import ServiceError

    try:
        Daemon(settings).run()
    except ServiceError as error:
        logging.getLogger("loaxa.daemon").exception("start failed")
        raise CliError(_("The controller could not start: {error}").format(
            error=error.translated()), code="unavailable", exit_code=EXIT_UNAVAILABLE) \
            from None
    except (OSError, RuntimeError, SQLAlchemyError) as error:
        logging.getLogger("loaxa.daemon").exception("start failed")
        raise CliError(_("The controller could not start: {error}").format(error=error),
                       code="unavailable", exit_code=EXIT_UNAVAILABLE) from None


COMMANDS = [controller]
