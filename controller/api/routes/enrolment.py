"""Enrolment codes: issue one (with the command to paste on the agent), list pending."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import CodeIn, IssuedCodeOut, PendingCodeOut
from .params import CommunePath, CommuneQuery

router = APIRouter(tags=["enrolment"], responses=ERROR_RESPONSES)


@router.post("/communes/{commune}/enrolment-codes", response_model=IssuedCodeOut,
             status_code=status.HTTP_201_CREATED)
def issue(request: Request, who: Who, commune: CommunePath, body: CodeIn) -> IssuedCodeOut:
    """A one-time code for an existing agent, or for a new one in ``cluster``. The code
    is shown only in this response."""
    return IssuedCodeOut.model_validate(services_of(request).codes.issue(
        who, commune, cluster=body.cluster, agent_id=body.agent_id))


@router.get("/enrolment-codes", response_model=list[PendingCodeOut])
def pending(request: Request, who: Who, commune: CommuneQuery = None) -> list[PendingCodeOut]:
    """Codes neither claimed nor expired."""
    return [PendingCodeOut.model_validate(p)
            for p in services_of(request).codes.pending(who, commune)]
