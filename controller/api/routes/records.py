"""Reading the audit log and the fleet summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from controller.audit import AuditFilter

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import AuditPageOut, FleetSummaryOut, Instant
from .params import CommuneQuery

router = APIRouter(responses=ERROR_RESPONSES)
Text64 = Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f]*$")]


@router.get("/audit", response_model=AuditPageOut, tags=["audit"])
def audit(request: Request, who: Who, commune: CommuneQuery = None,
          username: Text64 = None, action: Text64 = None,
          target: Annotated[str | None, Query(max_length=200,
                                              pattern=r"^[^\x00-\x1f]*$")] = None,
          since: Annotated[Instant | None, Query()] = None,
          until: Annotated[Instant | None, Query()] = None,
          before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> AuditPageOut:
    """Newest first; ``action`` ending in ``.`` matches a prefix (``agent.``); page on
    with ``before_id = next_before_id``."""
    page = services_of(request).audit.query(who, AuditFilter(
        commune=commune, username=username, action=action, target=target, since=since,
        until=until, before_id=before_id, limit=limit))
    return AuditPageOut.model_validate(page)


@router.get("/fleet/summary", response_model=FleetSummaryOut, tags=["fleet"])
def summary(request: Request, who: Who, commune: CommuneQuery = None) -> FleetSummaryOut:
    return FleetSummaryOut.model_validate(services_of(request).summary.summary(who, commune))
