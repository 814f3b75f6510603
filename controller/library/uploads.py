"""Receiving an uploaded bulletin: a multipart body streamed to a file, never to memory.

Bulletins arrive as phone videos of a few hundred MB, so the body is parsed as it
arrives (python-multipart's streaming parser) and the file part is written straight to
``<data_dir>/uploads/``: on the same disk as the content store, not in a ``/tmp`` that
may be a small RAM disk. The size cap is enforced as bytes arrive, so an oversized
upload costs at most the cap on disk, and whatever goes wrong (too large, malformed,
the client gone) removes the partial file.

The form: a part named ``file`` (with a file name) and optional small text parts
(``title``, ``chime``). File names are decoded as browsers and httpx send them (UTF-8,
``"`` as ``%22``), reduced to their last path element and cleaned of control characters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

from controller.i18n import N_
from controller.registry.errors import Unavailable

from .problems import BadUpload, UploadTooLarge

log = logging.getLogger("loaxa.library")

FILE_FIELD = "file"
MAX_FIELDS = 8
MAX_FIELD_BYTES = 4096
MAX_HEADER_BYTES = 8192
NAME_LIMIT = 200
# Multipart framing and the small fields around the file.
ENVELOPE_BYTES = MAX_FIELDS * (MAX_FIELD_BYTES + MAX_HEADER_BYTES)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n", "%0d": "\r", "%0a": "\n"}


@dataclass(frozen=True)
class Upload:
    """A received file waiting for its import; whoever takes it removes ``path``."""

    path: Path
    name: str  # the operator's file name, cleaned
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def clean_file_name(raw: str) -> str:
    """The last path element, without control characters, at most ``NAME_LIMIT``."""
    for escaped, plain in _ESCAPES.items():
        raw = raw.replace(escaped, plain)
    name = re.split(r"[\\/]", raw)[-1]
    name = _CONTROL.sub("", name).strip()
    if len(name) > NAME_LIMIT:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[:NAME_LIMIT - len(suffix) - 1] + dot + suffix) if dot and \
            len(suffix) <= 8 else name[:NAME_LIMIT]
    return name or "upload"


def multipart() -> ModuleType:
    """python-multipart, imported when an upload arrives: without it the station still
    runs (and says why uploads fail) instead of failing to start."""
    try:
        import python_multipart.multipart as parser
    except ImportError:
        raise Unavailable(N_("Uploads need the python-multipart package on the "
                             "controller.")) from None
    return parser


class UploadSpool:
    """The folder uploads are received into (created private to the station)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def receiver(self, content_type: str | None) -> MultipartReceiver:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return MultipartReceiver(self.root, content_type, self.max_bytes)

    def sweep(self) -> int:
        """Remove every leftover: jobs live in memory, so after a restart no job will
        ever take an earlier upload."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for leftover in self.root.iterdir():
            with contextlib.suppress(OSError):
                if leftover.is_file():
                    leftover.unlink()
                    removed += 1
        if removed:
            log.info("removed %d upload(s) left by an earlier run", removed)
        return removed


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.header_name = b""
        self.header_value = b""
        self.header_bytes = 0
        self.name = ""
        self.is_file = False
        self.data = bytearray()


class MultipartReceiver:
    """Feed it the body chunk by chunk (``feed``), then ``finish`` (or ``discard``)."""

    def __init__(self, root: Path, content_type: str | None, max_bytes: int) -> None:
        self._multipart = multipart()
        kind, params = self._multipart.parse_options_header(
            (content_type or "").encode("latin-1", "replace"))
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise BadUpload(N_("Send the file as multipart/form-data, in a part named "
                               "{field}."), field=FILE_FIELD)
        self.root = root
        self.max_bytes = max_bytes
        self._received = 0
        self._fields: dict[str, str] = {}
        self._part = _Part()
        self._file_name: str | None = None
        self._file_path: Path | None = None
        self._file: BinaryIO | None = None
        self._file_size = 0
        self._ended = False
        self._parser = self._multipart.MultipartParser(boundary, callbacks={
            "on_part_begin": self._on_part_begin, "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end, "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value, "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished, "on_end": self._on_end})

    # -- feeding -----------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self.max_bytes + ENVELOPE_BYTES:
            self.discard()
            raise UploadTooLarge(self.max_bytes // (1024 * 1024))
        try:
            self._parser.write(chunk)
        except (self._multipart.FormParserError, ValueError) as exc:
            self.discard()
            log.info("refused a malformed upload: %s", exc)
            raise BadUpload(N_("The upload is not valid multipart/form-data.")) from None
        except BaseException:
            self.discard()
            raise

    def finish(self) -> Upload:
        try:
            self._parser.finalize()
        except (self._multipart.FormParserError, ValueError):
            self.discard()
            raise BadUpload(N_("The upload is not valid multipart/form-data.")) from None
        if not self._ended:
            self.discard()
            raise BadUpload(N_("The upload was cut off before its end; send it again."))
        if self._file_path is None or self._file_name is None:
            self.discard()
            raise BadUpload(N_("No file in the upload: send it in a part named {field}."),
                            field=FILE_FIELD)
        self._close_file()
        return Upload(self._file_path, self._file_name, self._file_size, dict(self._fields))

    def discard(self) -> None:
        self._close_file()
        if self._file_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._file_path.unlink()
            self._file_path = None

    # -- parser callbacks --------------------------------------------------------------
    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._part.header_name += data[start:end]
        self._count_header(end - start)

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._part.header_value += data[start:end]
        self._count_header(end - start)

    def _count_header(self, size: int) -> None:
        self._part.header_bytes += size
        if self._part.header_bytes > MAX_HEADER_BYTES:
            raise BadUpload(N_("The upload is not valid multipart/form-data."))

    def _on_header_end(self) -> None:
        part = self._part
        part.headers[part.header_name.strip().lower()] = part.header_value.strip()
        part.header_name = part.header_value = b""

    def _on_headers_finished(self) -> None:
        part = self._part
        _, options = self._multipart.parse_options_header(
            part.headers.get(b"content-disposition", b"").decode("latin-1"))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if part.name == FILE_FIELD and filename is not None:
            if self._file_path is not None:
                raise BadUpload(N_("Send one file per upload."))
            part.is_file = True
            self._file_name = clean_file_name(filename.decode("utf-8", "replace"))
            suffix = Path(self._file_name).suffix
            self._file_path = self.root / (uuid.uuid4().hex + (
                suffix.lower() if _SUFFIX.match(suffix) else ".upload"))
            fd = os.open(self._file_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._file = os.fdopen(fd, "wb")
        elif len(self._fields) >= MAX_FIELDS:
            raise BadUpload(N_("The upload is not valid multipart/form-data."))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.is_file:
            assert self._file is not None
            self._file_size += end - start
            if self._file_size > self.max_bytes:
                raise UploadTooLarge(self.max_bytes // (1024 * 1024))
            self._file.write(data[start:end])
        elif part.name:
            part.data += data[start:end]
            if len(part.data) > MAX_FIELD_BYTES:
                raise BadUpload(N_("The form field {field} is too long."),
                                field=part.name[:40])

    def _on_part_end(self) -> None:
        part = self._part
        if part.is_file:
            self._close_file()
        elif part.name and part.name not in self._fields:
            self._fields[part.name] = bytes(part.data).decode("utf-8", "replace")

    def _on_end(self) -> None:
        self._ended = True

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
