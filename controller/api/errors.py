"""Every error leaves the API as JSON ``{"code", "message", "details"}``: a stable code
for scripts, a message in the reader's language, and nothing from a traceback.

Anything not foreseen is logged with its traceback and answered ``internal_error``
(500) — the schemathesis run in the test suite exists to keep that path unused.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.i18n import N_, translations
from controller.registry.errors import ServiceError

from .language import choose_language

log = logging.getLogger("loaxa.api")

STATUS = {"not_found": 404, "conflict": 409, "invalid": 422, "forbidden": 403,
          "unauthenticated": 401, "unavailable": 503}
HTTP_CODES = {400: ("bad_request", N_("The request could not be read.")),
              401: ("unauthenticated", N_("Log in first.")),
              403: ("forbidden", N_("You do not have permission for this in that unit.")),
              404: ("not_found", N_("Not found.")),
              405: ("method_not_allowed", N_("This method is not allowed here.")),
              413: ("too_large", N_("The request is too large.")),
              415: ("unsupported_media_type", N_("Send JSON."))}


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str
    message: str
    details: list[ErrorDetail] = []


def request_language(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return choose_language(request.headers.get("accept-language"),
                           getattr(principal, "language", None))


def error_response(status: int, code: str, message: str,
                   details: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(code=code, message=message,
                     details=[ErrorDetail(**d) for d in details or []])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


async def service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    status = STATUS.get(exc.code, 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.translated(request_language(request)),
                          headers=headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    language = request_language(request)
    details = [{"field": ".".join(str(p) for p in error.get("loc", ())),
                "problem": str(error.get("msg", ""))[:300]} for error in exc.errors()[:20]]
    return error_response(422, "invalid_request",
                          translations(language).gettext(N_("The request is not valid.")),
                          details)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, message = HTTP_CODES.get(exc.status_code, ("http_error", N_("The request failed.")))
    return error_response(exc.status_code, code,
                          translations(request_language(request)).gettext(message),
                          headers=getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", translations(
        request_language(request)).gettext(N_("Internal error: the details are in the "
                                              "controller's log.")))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 422)}
