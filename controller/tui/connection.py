"""The console's link to the operator API.

Every pane talks to the controller through :class:`Connection` only, so that one place
knows whether the controller is reachable: a failed call marks the link down (the header
and the banner show it), and the app's reconnect loop brings it back without a restart.

The link is either the local Unix socket (the peer's Unix user is the loaxa user) or an
HTTPS URL with a login token (:meth:`Connection.login`). Live updates come from the
events WebSocket (:meth:`Connection.events`) on the same endpoint.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from controller.cli.client import ApiClient
from controller.cli.errors import CliError
from controller.i18n import _, current_language

UNREACHABLE = "unreachable"
UNAUTHENTICATED = "unauthenticated"
STREAM_OPEN = "stream_open"  # the first item of every event stream (not a station event)


class ApiError(Exception):
    """The controller refused or failed a call; ``message`` is already translated."""

    def __init__(self, message: str, code: str = "error",
                 details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.details = message, code, details or []

    @property
    def unreachable(self) -> bool:
        return self.code == UNREACHABLE

    @property
    def unauthenticated(self) -> bool:
        return self.code == UNAUTHENTICATED


def refusal(response: httpx.Response) -> ApiError:
    """The controller's own (translated) message for a refused call."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "message" in payload:
        return ApiError(str(payload["message"]), str(payload.get("code", "error")),
                        list(payload.get("details") or []))
    return ApiError(_("The controller answered {status}.").format(
        status=response.status_code))


@dataclass(frozen=True)
class Endpoint:
    """Where the API is: the local socket, or a URL (then a token is needed)."""

    socket: Path | None = None
    url: str | None = None
    token: str | None = None
    language: str = "vi"
    verify: str | bool = True

    @property
    def needs_login(self) -> bool:
        return self.url is not None and not self.token

    def client(self) -> ApiClient:
        return ApiClient(socket=None if self.url else self.socket, url=self.url,
                         token=self.token, language=self.language, verify=self.verify)

    def headers(self) -> dict[str, str]:
        headers = {"Accept-Language": self.language}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def describe(self) -> str:
        return self.url or str(self.socket)


class Connection:
    """Calls the API off the event loop (the HTTP client is synchronous) and remembers
    whether the last call reached the controller.

    Built from an :class:`Endpoint` (what ``loaxa tui`` does), or from a bare client
    factory (then there is no login and no event stream: the console polls)."""

    def __init__(self, target: Endpoint | Callable[[], ApiClient]) -> None:
        if isinstance(target, Endpoint):
            self.endpoint: Endpoint | None = target
            self._make_client: Callable[[], ApiClient] = target.client
        else:
            self.endpoint = None
            self._make_client = target
        self._client: ApiClient | None = None
        self.online = False
        self.last_error = ""
        self.listeners: list[Callable[[bool], None]] = []

    @classmethod
    def local(cls, socket: Path, language: str | None = None) -> Connection:
        return cls(Endpoint(socket=socket, language=language or current_language()))

    @property
    def can_log_in(self) -> bool:
        return self.endpoint is not None

    @property
    def has_events(self) -> bool:
        return self.endpoint is not None

    def _get_client(self) -> ApiClient:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _set_online(self, online: bool) -> None:
        if online:
            self.last_error = ""
        if online != self.online:
            self.online = online
            for listener in list(self.listeners):
                listener(online)

    async def call(self, method: str, path: str, *, body: Any = None,
                   params: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON answer; :class:`ApiError` on any failure (never another
        exception: a pane shows the message and carries on)."""
        client = self._get_client()
        try:
            answer = await asyncio.to_thread(client.call, method, path, body=body,
                                             params=params)
        except CliError as exc:
            if exc.code == UNREACHABLE:
                self.last_error = str(exc)
                self._set_online(False)
            else:
                self._set_online(True)
            raise ApiError(str(exc), exc.code, list(exc.details)) from None
        except Exception as exc:  # a bug or an odd answer: still no traceback on screen
            raise ApiError(_("Unexpected error: {error}").format(error=exc)) from None
        self._set_online(True)
        return answer

    async def exchange(self, send: Callable[[httpx.Client], httpx.Response]
                       ) -> httpx.Response:
        """A call that is not JSON both ways (an upload, a file download): ``send`` gets
        the HTTP client, off the event loop; the link state is kept as :meth:`call` does.
        A refusal (4xx/5xx) is an :class:`ApiError` with the controller's message."""
        client = self._get_client()
        try:
            response = await asyncio.to_thread(send, client.http)
        except (httpx.HTTPError, OSError) as exc:
            message = _("The connection to the controller failed: {error}").format(error=exc)
            self.last_error = message
            self._set_online(False)
            raise ApiError(message, UNREACHABLE) from None
        self._set_online(True)
        if response.status_code >= 400:
            raise refusal(response)
        return response

    def use_language(self, language: str) -> None:
        """Ask for the API's messages in ``language`` from now on (the console changed
        language); a connection built on a bare client keeps the client's."""
        if self.endpoint is None or self.endpoint.language == language:
            return
        self.endpoint = replace(self.endpoint, language=language)
        self._make_client = self.endpoint.client
        self.close()

    async def login(self, username: str, password: str) -> str:
        """Exchange a password for a token and use it from now on; the user name."""
        if self.endpoint is None:
            raise ApiError(_("This console cannot log in: start it with loaxa tui."))
        anonymous = Connection(replace(self.endpoint, token=None))
        try:
            issued = await anonymous.call("POST", "/auth/login",
                                          body={"username": username, "password": password})
        finally:
            anonymous.close()
        self.endpoint = replace(self.endpoint, token=str(issued["token"]))
        self._make_client = self.endpoint.client
        self.close()
        return str(issued["username"])

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The station's events as they happen, until the stream breaks (then
        :class:`ApiError`, ``unreachable``). The caller reconnects and re-reads. The
        first item, ``{"kind": "stream_open"}``, says the stream is connected."""
        from websockets.asyncio.client import connect, unix_connect
        from websockets.exceptions import WebSocketException

        endpoint = self.endpoint
        if endpoint is None:
            raise ApiError(_("No event stream on this connection."), UNREACHABLE)
        try:
            if endpoint.url:
                base = endpoint.url.rstrip("/")
                uri = "ws" + base.removeprefix("http") + "/v1/events"
                context: ssl.SSLContext | None = None
                if uri.startswith("wss:"):
                    context = ssl.create_default_context(
                        cafile=endpoint.verify if isinstance(endpoint.verify, str) else None)
                    if endpoint.verify is False:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                opener = connect(uri, additional_headers=endpoint.headers(), ssl=context,
                                 open_timeout=5, ping_interval=10, ping_timeout=10)
            else:
                assert endpoint.socket is not None
                opener = unix_connect(str(endpoint.socket), "ws://loaxa/v1/events",
                                      additional_headers=endpoint.headers(), open_timeout=5,
                                      ping_interval=10, ping_timeout=10)
            async with opener as socket:
                yield {"kind": STREAM_OPEN}
                async for message in socket:
                    try:
                        event = json.loads(message)
                    except ValueError:
                        continue
                    if isinstance(event, dict):
                        yield event
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise ApiError(_("The event stream was interrupted: {error}").format(error=exc),
                           UNREACHABLE) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
