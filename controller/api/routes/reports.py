"""Uptime and indicator reports, and the alerts raised about the fleet.

``GET /v1/reports/{kind}?from=&to=&format=`` answers the report file itself (JSON,
CSV, XLSX or a self-contained HTML page) with a download name; its headings are in the
request's language (``Accept-Language`` or ``lang``) and it names the indicator
definition it used. A viewer may read the reports of every commune in their scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from controller.reports.document import ReportKind
from controller.reports.formats import MEDIA_TYPES, Format
from controller.reports.service import ReportQuery

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES, request_language
from ..schemas import Day, Instant
from .params import CommuneQuery

router = APIRouter(responses=ERROR_RESPONSES)
Version = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    commune: str
    kind: str
    subject: str
    raised_at: dt.datetime
    cleared_at: dt.datetime | None
    detail: dict[str, Any]


@router.get("/reports/{kind}", tags=["reports"], response_class=Response, responses={
    200: {"description": "The report file.",
          "content": {MEDIA_TYPES[f]: {} for f in Format}}})
def report(request: Request, who: Who, kind: ReportKind,
           start: Annotated[Day, Query(alias="from")], end: Annotated[Day, Query(alias="to")],
           format: Format = Format.JSON, unit: CommuneQuery = None,
           definition: Version = None,
           lang: Annotated[str | None, Query(pattern=r"^(vi|en)$")] = None,
           detail: bool = True) -> Response:
    """``from``/``to`` are local days, both included; ``unit`` a unit key (default:
    every commune you may read); ``detail=false`` leaves out the drill-down tables."""
    rendered = services_of(request).reporting.reports.report(who, ReportQuery(
        kind=kind, start=start, end=end, format=format, unit=unit, definition=definition,
        language=lang or request_language(request), detail=detail))
    return Response(rendered.content, media_type=rendered.media_type, headers={
        "Content-Disposition": f'attachment; filename="{rendered.filename}"'})


@router.get("/alerts", response_model=list[AlertOut], tags=["reports"])
def alerts(request: Request, who: Who, commune: CommuneQuery = None,
           open_only: Annotated[bool, Query(alias="open")] = False,
           since: Annotated[Instant | None, Query()] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[AlertOut]:
    """Newest first; ``open=true`` only those not cleared."""
    return [AlertOut.model_validate(a) for a in services_of(request).reporting.alerts.alerts(
        who, commune, open_only, since, limit)]
