"""``loaxa login|logout|whoami|events``: sessions and the live event stream."""

from __future__ import annotations

import json
from typing import Any

import click

from controller.i18n import _

from .common import read_password
from .context import api, context
from .errors import EXIT_UNAVAILABLE, CliError
from .output import STATE, emit, json_option, say, show_fields


@click.command("login", help=_("Get a login token (for the API over TCP, or scripts)."))
@click.option("-u", "--username", required=True, help=_("Your user name."))
@click.option("--password-stdin", is_flag=True, help=_("Read the password from stdin."))
@json_option
def login(username: str, password_stdin: bool) -> None:
    password = read_password(password_stdin, confirm=False)
    result = api().call("POST", "/auth/login", body={"username": username,
                                                     "password": password})

    def human(data: dict[str, Any]) -> None:
        say(_("Logged in as {user} until {time} (UTC).").format(user=data["username"],
                                                                time=data["expires_at"]))
        say(_("Use it with: export LOAXA_TOKEN={token}").format(token=data["token"]))

    emit(result, human)


@click.command("logout", help=_("Invalidate the token given with --token."))
@json_option
def logout() -> None:
    api().call("POST", "/auth/logout")
    emit({"logged_out": True}, lambda _d: say(_("Logged out.")))


@click.command("whoami", help=_("Who the controller thinks you are, and your roles."))
@json_option
def whoami() -> None:
    def human(data: dict[str, Any]) -> None:
        grants = ", ".join(f"{g['role']}@{g['unit']}" for g in data["grants"]) or "-"
        show_fields({**data, "grants": grants}, ["username", "display_name", "unix_user",
                                                 "language", "grants"])

    emit(api().call("GET", "/me"), human)


@click.command("events", help=_("Follow the controller's events (one per line)."))
@click.option("--count", type=click.IntRange(1), help=_("Stop after this many events."))
@click.option("--timeout", type=click.FloatRange(0.1), help=_("Stop after this many "
                                                              "seconds without an event."))
@json_option
def events(count: int | None, timeout: float | None) -> None:
    try:
        from websockets.exceptions import ConnectionClosed, InvalidStatus
        from websockets.sync.client import connect, unix_connect
    except ImportError:
        raise CliError(_("Following events needs the 'websockets' package."),
                       code="unavailable", exit_code=EXIT_UNAVAILABLE) from None
    state = context()
    headers = {"Authorization": f"Bearer {state.token}"} if state.token else {}
    try:
        if state.url:
            url = state.url.replace("http", "ws", 1).rstrip("/") + "/v1/events"
            socket = connect(url, additional_headers=headers, open_timeout=5)
        else:
            path = state.socket or state.settings().api_socket
            socket = unix_connect(str(path), uri="ws://loaxa/v1/events",
                                  additional_headers=headers, open_timeout=5)
    except InvalidStatus:
        raise CliError(_("The controller refused the event stream: log in first."),
                       code="unauthenticated") from None
    except OSError as exc:
        raise CliError(_("Cannot reach the controller at {where}: is it running? "
                         "({error})").format(where=state.url or state.socket, error=exc),
                       code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
    seen = 0
    with socket:
        while count is None or seen < count:
            try:
                raw = socket.recv(timeout=timeout)
            except TimeoutError:
                break
            except ConnectionClosed:
                break
            event = json.loads(raw)
            seen += 1
            if STATE.json:
                click.echo(json.dumps(event, ensure_ascii=False, sort_keys=True))
            else:
                click.echo(f"{event.get('at', '')}  {event.get('kind', '')}  "
                           f"{event.get('commune') or '-'}  {event.get('username', '')}  "
                           f"{event.get('action', '')} {event.get('target', '')}".rstrip())


COMMANDS = [login, logout, whoami, events]
