"""The CLI's connection to the operator API: HTTP over the local Unix socket (peer
credentials identify the user) or over TCP + TLS with a login token."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from controller.i18n import _

from .errors import EXIT_UNAVAILABLE, CliError

TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class ApiClient:
    def __init__(self, *, socket: Path | None = None, url: str | None = None,
                 token: str | None = None, language: str = "vi",
                 verify: str | bool = True) -> None:
        self.where = url or str(socket)
        headers = {"Accept-Language": language, "User-Agent": "loaxa-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if url:
            # A CA file as a context: httpx deprecates ``verify=<path>``.
            context = ssl.create_default_context(cafile=verify) \
                if isinstance(verify, str) else verify
            self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers,
                                     timeout=TIMEOUT, verify=context)
        else:
            transport = httpx.HTTPTransport(uds=str(socket))
            self.http = httpx.Client(transport=transport, base_url="http://loaxa",
                                     headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, body: Any = None,
             params: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON answer (None for 204); an API error becomes a CliError."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.http.request(method, f"/v1{path}", json=body, params=query)
        except (httpx.ConnectError, httpx.ConnectTimeout, FileNotFoundError,
                ConnectionRefusedError) as exc:
            raise CliError(_("Cannot reach the controller at {where}: is it running? "
                             "({error})").format(where=self.where, error=exc),
                           code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
        except httpx.HTTPError as exc:
            raise CliError(_("The connection to the controller failed: {error}").format(
                error=exc), code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
        if response.status_code == 204:
            return None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400:
            if isinstance(payload, dict) and "code" in payload and "message" in payload:
                raise CliError(str(payload["message"]), code=str(payload["code"]),
                               details=list(payload.get("details") or []))
            raise CliError(_("The controller answered {status}.").format(
                status=response.status_code))
        return payload
