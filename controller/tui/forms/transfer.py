"""The two calls that are not JSON both ways: a file uploaded to the library (multipart,
with its progress) and a report downloaded as a file (XLSX, HTML).

``Connection.call`` speaks JSON only, so these go through ``Connection.exchange``, which
hands over the HTTP client off the event loop and keeps the link state.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from controller.i18n import _

from ..connection import ApiError, Connection


class CountingFile(io.FileIO):
    """A file whose reads are counted (httpx streams an upload by reading the file)."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(path, "rb")
        self.on_read = on_read
        self.done = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size if size is not None else -1) or b""
        self.done += len(data)
        self.on_read(self.done)
        return data


async def upload(connection: Connection, commune: str, path: Path, *,
                 on_read: Callable[[int], None], title: str | None = None) -> dict[str, Any]:
    """Send one file to the commune's library; the import job the controller started."""
    form = {"title": title} if title else {}
    try:
        handle = CountingFile(path, on_read)
    except OSError as exc:
        raise ApiError(_("Cannot read {path}: {error}").format(
            path=path, error=exc.strerror or exc), "unreadable") from None
    with handle:
        response = await connection.exchange(lambda http: http.post(
            f"/v1/communes/{commune}/library/imports",
            files={"file": (path.name, handle)}, data=form))
    job = response.json()
    if not isinstance(job, dict):
        raise ApiError(_("The controller answered {status}.").format(
            status=response.status_code))
    return job


async def download(connection: Connection, path: str,
                   params: Mapping[str, str]) -> bytes:
    """A file the API answers (a report), as bytes."""
    response = await connection.exchange(lambda http: http.get(f"/v1{path}",
                                                                 params=dict(params)))
    return response.content
