"""What every command gets from the root options: where the settings and the API are,
and how to authenticate (a token, or nothing on the local socket)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from controller.i18n import current_language
from controller.settings import Settings, SettingsError, load_settings

from .client import ApiClient
from .errors import EXIT_USAGE, CliError


@dataclass
class CliContext:
    config: Path | None = None
    socket: Path | None = None
    url: str | None = None
    token: str | None = None
    ca_file: Path | None = None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _client: ApiClient | None = field(default=None, repr=False)

    def settings(self, config: Path | None = None) -> Settings:
        path = config or self.config
        if self._settings is None or config is not None:
            try:
                self._settings = load_settings(path)
            except SettingsError as exc:
                raise CliError(str(exc), code="invalid_settings", exit_code=EXIT_USAGE) \
                    from None
        return self._settings

    def client(self) -> ApiClient:
        if self._client is None:
            socket = None if self.url else (self.socket or self.settings().api_socket)
            self._client = ApiClient(socket=socket, url=self.url, token=self.token,
                                     language=current_language(),
                                     verify=str(self.ca_file) if self.ca_file else True)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def context() -> CliContext:
    ctx = click.get_current_context()
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


def api() -> ApiClient:
    return context().client()
