"""``loaxa tui``: the operator console (a full-screen terminal program, in its own
process; Textual is imported only when it starts)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from controller.i18n import _

from .context import context
from .errors import EXIT_USAGE, CliError


@click.command("tui", help=_("The operator console: overview, library, schedule, "
                             "emergency, reports and devices, in a terminal."))
@click.option("--commune", help=_("The commune to work on (default: your first grant)."))
@click.option("--lang", "language", type=click.Choice(["vi", "en"]),
              help=_("The console's language. Default: LOAXA_LANG, else your own setting "
                     "at the station, else [station] language, else LANG, else vi."))
def tui(commune: str | None, language: str | None) -> None:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise CliError(_("The console needs a terminal (run it in a terminal or over SSH)."),
                       code="usage", exit_code=EXIT_USAGE)
    state = context()
    settings = state.settings()
    socket: Path | None = None
    if not state.url:
        socket = state.socket or settings.api_socket
    from controller.tui.app import run_console
    from controller.tui.connection import Endpoint
    from controller.tui.language import LanguageChoice

    choice = LanguageChoice.gather(language, settings.station.language)
    verify: str | bool = str(state.ca_file) if state.ca_file else True
    run_console(Endpoint(socket=socket, url=state.url, token=state.token,
                         language=choice.choose(), verify=verify), commune=commune,
                language=choice)


COMMANDS = [tui]
