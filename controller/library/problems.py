"""What the library service answers when an operator's request cannot be done.

These are station-service errors (``controller.registry.errors.ServiceError``): a stable
``code``, an English template translated for the reader at the last moment. Each also
carries the HTTP ``status`` the operator API answers with, because "too large" (413) or
"still in use" (409) are not the generic statuses the shared error mapping derives from
a code. Refusals of the *audio* itself are ``controller.library.errors.ImportRefused``
and travel inside an import job instead (see ``jobs``).
"""

from __future__ import annotations

from typing import ClassVar

from controller.i18n import N_, translations
from controller.registry.errors import ServiceError

from .errors import LibraryError


class LibraryProblem(ServiceError):
    """Base of the library service's own refusals."""

    code = "library_problem"
    status: ClassVar[int] = 400


class UploadTooLarge(LibraryProblem):
    code = "too_large"
    status = 413

    def __init__(self, limit_mb: int) -> None:
        super().__init__(N_("The file is larger than the upload limit of {limit} MB."),
                         limit=limit_mb)


class BadUpload(LibraryProblem):
    """The request is not a usable file upload (not multipart, no file part, broken)."""

    code = "bad_upload"
    status = 400


class ImportsBusy(LibraryProblem):
    code = "busy"
    status = 429

    def __init__(self, waiting: int) -> None:
        super().__init__(N_("{count} files are already waiting to be processed; try again "
                            "when some have finished."), count=waiting)


class ItemInUse(LibraryProblem):
    code = "in_use"
    status = 409

    def __init__(self, title: str, users: list[str]) -> None:
        shown = ", ".join(users[:10]) + (" …" if len(users) > 10 else "")
        super().__init__(N_("«{title}» is still used by: {users}. Remove it from those "
                            "programmes first."), title=title, users=shown)


class AmbiguousItem(LibraryProblem):
    code = "ambiguous"
    status = 409

    def __init__(self, ref: str) -> None:
        super().__init__(N_("More than one library item starts with {ref}; type more of "
                            "its code."), ref=ref)


def library_message(error: LibraryError, language: str | None = None) -> str:
    """A pipeline error's sentence in ``language`` (not the process-wide one).

    ``LibraryError.message`` translates into the process's current language, which is
    right for the CLI but not for an API serving readers of both languages at once. A
    parameter that is itself an error (``BadChime``'s reason) is translated the same way.
    """
    catalog = translations(language)
    params: dict[str, object] = {}
    for key, value in error.params.items():
        inner = getattr(value, "error", None)
        params[key] = library_message(inner, language) if isinstance(inner, LibraryError) \
            else value
    try:
        return catalog.gettext(error.template).format(**params)
    except (KeyError, IndexError, ValueError):
        return error.message
