"""Small pieces shared by the command modules: dates, passwords, choices."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any
from urllib.parse import quote

import click

from controller.i18n import _

from .errors import EXIT_USAGE, CliError

DATE = click.DateTime(formats=["%Y-%m-%d"])


def iso_date(value: dt.datetime | None) -> str | None:
    return value.date().isoformat() if value is not None else None


def read_password(from_stdin: bool, *, confirm: bool = True, prompt: str | None = None) -> str:
    """From one line of stdin (scripts), or typed twice at a terminal."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise CliError(_("No password on standard input."), code="usage",
                           exit_code=EXIT_USAGE)
        return line
    if not sys.stdin.isatty():
        raise CliError(_("No terminal to type a password: use --password-stdin."),
                       code="usage", exit_code=EXIT_USAGE)
    value: Any = click.prompt(prompt or _("Password"), hide_input=True,
                              confirmation_prompt=_("Repeat the password") if confirm else False)
    return str(value)


def confirm(question: str, assume_yes: bool) -> None:
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise CliError(_("Confirmation needed: add --yes to run this without a terminal."),
                       code="usage", exit_code=EXIT_USAGE)
    if not click.confirm(question):
        raise click.exceptions.Abort()


def choice(values: list[str]) -> click.Choice[str]:
    return click.Choice(values)


def seg(value: str) -> str:
    """One URL path segment, whatever the operator typed."""
    return quote(value, safe="")
