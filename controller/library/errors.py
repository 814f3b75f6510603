"""Why the library refused a file or could not do its work, in the operator's language.

Every refusal is its own class with a stable ``code`` (for JSON output and the API) and
an English message template marked for translation. The message is translated when it
is read, not when the error is raised, so an error created in a worker thread is shown
in the language of whoever displays it. ``detail`` carries the technical cause (ffmpeg's
complaint) for logs only; operators see ``message``.
"""

from __future__ import annotations

from typing import ClassVar

from controller.i18n import N_, _


class LibraryError(Exception):
    """Base of every error the audio library raises on purpose."""

    code: ClassVar[str] = "library_error"
    template: ClassVar[str] = N_("The audio library could not complete the operation.")

    def __init__(self, name: str = "", *, detail: str = "", **params: object) -> None:
        self.name = name
        self.detail = detail
        self.params: dict[str, object] = {"name": name, **params}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The operator-facing sentence, in the current language."""
        return _(self.template).format(**self.params)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by state, so an error crosses a process pool (subclasses take keywords)."""
        return (_rebuild, (type(self), dict(self.__dict__)))


def _rebuild(cls: type[LibraryError], state: dict[str, object]) -> LibraryError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error.message)
    return error


class ImportRefused(LibraryError):
    """The input file cannot become a library item; nothing was added to the store."""

    code = "refused"
    template = N_("The file {name} cannot be imported.")


class MissingFile(ImportRefused):
    code = "missing"
    template = N_("The file {name} does not exist.")


class PermissionDenied(ImportRefused):
    code = "permission_denied"
    template = N_("No permission to read the file {name}.")


class NotAFile(ImportRefused):
    code = "not_a_file"
    template = N_("{name} is not a regular file.")


class EmptyFile(ImportRefused):
    code = "empty"
    template = N_("The file {name} is empty (0 bytes).")


class NotAudio(ImportRefused):
    code = "not_audio"
    template = N_("The file {name} is not an audio or video file.")


class NoAudioTrack(ImportRefused):
    code = "no_audio_track"
    template = N_("The video {name} has no audio track.")


class CorruptFile(ImportRefused):
    code = "corrupt"
    template = N_("The file {name} is damaged and cannot be decoded; ask the sender for "
                  "a new copy.")


class TruncatedFile(ImportRefused):
    code = "truncated"
    template = N_("The file {name} is incomplete (cut off before its end); copy or "
                  "download it again.")


class SilentAudio(ImportRefused):
    code = "silent"
    template = N_("The file {name} contains only silence.")


class TooLong(ImportRefused):
    code = "too_long"
    template = N_("The file {name} lasts {duration}, longer than the limit of {limit}.")

    def __init__(self, name: str, *, duration_s: float, limit_s: float,
                 detail: str = "") -> None:
        self.duration_s = duration_s
        self.limit_s = limit_s
        super().__init__(name, detail=detail, duration=clock_text(duration_s),
                         limit=clock_text(limit_s))


class BadChime(ImportRefused):
    """The configured chime file is unusable; the bulletin itself may be fine."""

    code = "bad_chime"
    template = N_("The chime file {name} cannot be used: {reason}")

    def __init__(self, name: str, cause: ImportRefused) -> None:
        self.cause = cause
        super().__init__(name, detail=cause.detail, reason=_Deferred(cause))


class ProcessingFailed(LibraryError):
    """ffmpeg failed on input it had accepted, or a tool is missing: not the file's fault."""

    code = "processing_failed"
    template = N_("Processing the audio of {name} failed; see the controller log.")


class ToolMissing(LibraryError):
    code = "tool_missing"
    template = N_("The program {tool} is not installed; install ffmpeg.")

    def __init__(self, tool: str) -> None:
        super().__init__(tool, tool=tool)


class StoreError(LibraryError):
    """The content store refused an operation."""

    code = "store_error"
    template = N_("The library store failed on {name}.")


class InvalidContentId(StoreError):
    code = "invalid_content_id"
    template = N_("{name} is not a valid content identifier (64 hexadecimal digits).")


class ContentNotFound(StoreError):
    code = "content_not_found"
    template = N_("The audio {name} is not in the library store.")


class _Deferred:
    """Formats as another error's message at display time (keeps the language late)."""

    def __init__(self, error: LibraryError) -> None:
        self.error = error

    def __format__(self, spec: str) -> str:
        return format(self.error.message, spec)

    def __str__(self) -> str:
        return self.error.message


def clock_text(seconds: float) -> str:
    """``h:mm:ss`` (language-neutral, as operators read durations on their recorders)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
