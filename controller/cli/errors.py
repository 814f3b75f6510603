"""CLI errors and their exit codes (documented in docs/operations.md).

Every failure reaches the operator as one translated sentence on stderr and a non-zero
exit code; with ``--json`` scripts also get ``{"error": {"code", "message"}}`` on stdout.
"""

from __future__ import annotations

EXIT_ERROR = 1  # unexpected; details in the CLI log or with --debug
EXIT_USAGE = 2  # wrong command line
EXIT_DENIED = 3  # not logged in, or not allowed
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5  # conflict or invalid value
EXIT_UNAVAILABLE = 6  # controller unreachable, or a needed tool missing

EXIT_FOR_CODE = {"unauthenticated": EXIT_DENIED, "forbidden": EXIT_DENIED,
                 "not_found": EXIT_NOT_FOUND, "conflict": EXIT_REFUSED,
                 "invalid": EXIT_REFUSED, "invalid_request": EXIT_REFUSED,
                 "unavailable": EXIT_UNAVAILABLE, "unreachable": EXIT_UNAVAILABLE}


class CliError(Exception):
    """A failure already phrased for the operator (translated)."""

    def __init__(self, message: str, code: str = "error", exit_code: int | None = None,
                 details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code if exit_code is not None else EXIT_FOR_CODE.get(
            code, EXIT_ERROR)
        self.details = details or []
