"""The console's link to the operator API.

Every pane talks to the controller through :class:`Connection` only, so that one place
knows whether the controller is reachable: a failed call marks the link down (the header
shows it), and the app's reconnect loop brings it back without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from controller.cli.client import ApiClient
from controller.cli.errors import CliError

UNREACHABLE = "unreachable"


class ApiError(Exception):
    """The controller refused or failed a call; ``message`` is already translated."""

    def __init__(self, message: str, code: str = "error",
                 details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.details = message, code, details or []

    @property
    def unreachable(self) -> bool:
        return self.code == UNREACHABLE


class Connection:
    """Calls the API off the event loop (the HTTP client is synchronous) and remembers
    whether the last call reached the controller."""

    def __init__(self, make_client: Callable[[], ApiClient]) -> None:
        self._make_client = make_client
        self._client: ApiClient | None = None
        self.online = False
        self.listeners: list[Callable[[bool], None]] = []

    def _get_client(self) -> ApiClient:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _set_online(self, online: bool) -> None:
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
                self._set_online(False)
            else:
                self._set_online(True)
            raise ApiError(str(exc), exc.code, list(exc.details)) from None
        self._set_online(True)
        return answer

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
