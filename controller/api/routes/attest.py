"""Attestations of legacy (wired/FM) clusters and stations: the evidence indicator 1
accepts where no agent reports (who attested, when, for which days)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from controller.reports.attestations import Target

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import Day, Key
from .params import CommunePath, CommuneQuery

router = APIRouter(tags=["attestations"], responses=ERROR_RESPONSES)
Note = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]


class AttestationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target: Target
    key: Key
    start: Day
    end: Day | None = None  # default: as long as the definition allows
    note: Note = ""


class AttestationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    uid: str
    commune: str
    target: Target
    key: str
    period_start: dt.date
    period_end: dt.date
    effective_end: dt.date
    note: str
    attested_by: str
    attested_at: dt.datetime
    withdrawn_by: str | None
    withdrawn_at: dt.datetime | None


@router.post("/communes/{commune}/attestations", response_model=AttestationOut,
             status_code=status.HTTP_201_CREATED)
def attest(request: Request, who: Who, commune: CommunePath,
           body: AttestationIn) -> AttestationOut:
    """Attest a wired/FM cluster, or a whole legacy station, operational for the days
    ``start``..``end`` (audited: who and when are recorded)."""
    return AttestationOut.model_validate(services_of(request).reporting.attestations.attest(
        who, commune, body.target, body.key, body.start, body.end, body.note))


@router.get("/attestations", response_model=list[AttestationOut])
def list_attestations(request: Request, who: Who, commune: CommuneQuery = None,
                      withdrawn: Annotated[bool, Query()] = False) -> list[AttestationOut]:
    return [AttestationOut.model_validate(a) for a in
            services_of(request).reporting.attestations.attestations(who, commune,
                                                                     withdrawn)]


@router.post("/attestations/{attestation_id}/withdraw", response_model=AttestationOut)
def withdraw(request: Request, who: Who,
             attestation_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> AttestationOut:
    return AttestationOut.model_validate(
        services_of(request).reporting.attestations.withdraw(who, attestation_id))
