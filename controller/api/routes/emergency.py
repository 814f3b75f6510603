"""Emergency broadcasts from cache: start (emergency permission, no approval), stop,
the list (with the ones still to acknowledge) and an approver's acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from .params import CommunePath
from .schedule_schemas import AcknowledgeIn, EmergencyIn, EmergencyOut

router = APIRouter(responses=ERROR_RESPONSES)
EmergencyPath = Annotated[str, CommunePath]


@router.get("/communes/{commune}/emergencies", response_model=list[EmergencyOut],
            tags=["emergency"])
def list_emergencies(request: Request, who: Who, commune: CommunePath,
                     unacknowledged: Annotated[bool, Query()] = False,
                     active: Annotated[bool, Query()] = False) -> list[EmergencyOut]:
    """Newest first; ``unacknowledged`` lists what an approver still has to acknowledge."""
    return [EmergencyOut.model_validate(e) for e in
            services_of(request).scheduling.emergencies.list_emergencies(
                who, commune, unacknowledged=unacknowledged, active=active)]


@router.post("/communes/{commune}/emergencies", response_model=EmergencyOut,
             status_code=status.HTTP_201_CREATED, tags=["emergency"])
def start_emergency(request: Request, who: Who, commune: CommunePath,
                    body: EmergencyIn) -> EmergencyOut:
    """Air a cached item now (supersedes an emergency already on the air). Audited; an
    approver acknowledges it afterwards."""
    return EmergencyOut.model_validate(services_of(request).scheduling.emergencies.start(
        who, commune, content=body.content, title=body.title,
        villages=None if body.all_villages else body.villages,
        repeat_every_s=body.repeat_every_minutes * 60, volume=body.volume,
        attention_tone=body.attention_tone))


@router.post("/communes/{commune}/emergencies/stop", response_model=EmergencyOut,
             tags=["emergency"])
def stop_emergency(request: Request, who: Who, commune: CommunePath) -> EmergencyOut:
    return EmergencyOut.model_validate(services_of(request).scheduling.emergencies.stop(
        who, commune))


@router.post("/communes/{commune}/emergencies/{emergency_id}/acknowledge",
             response_model=EmergencyOut, tags=["emergency"])
def acknowledge_emergency(request: Request, who: Who, commune: CommunePath,
                          emergency_id: EmergencyPath,
                          body: AcknowledgeIn | None = None) -> EmergencyOut:
    return EmergencyOut.model_validate(
        services_of(request).scheduling.emergencies.acknowledge(
            who, commune, emergency_id, body.note if body else ""))
