"""The controller's command groups."""

from __future__ import annotations

import click

from controller.i18n import _
from protocols.messages import PROTOCOL_VERSION

VERSION = "0.1.0"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, prog_name="loaxa",
                      message=f"%(prog)s %(version)s (wire protocol v{PROTOCOL_VERSION})")
def cli() -> None:
    # Click reads the help from the docstring; translated at import time.
    pass


cli.help = _("loaxa: IP-radio broadcast controller for commune loudspeaker networks.")


def run(args: list[str]) -> int:
    try:
        cli.main(args=args, prog_name="loaxa", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort:
        return 130
    return 0
