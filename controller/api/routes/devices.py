"""Stations, clusters and agents (with their live state), revoking an agent, commands to
an agent (volume, stop, restart, reboot) and what it last reported."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from controller.registry.commands import CommandKind
from controller.storage.tables.registry import AgentStatus

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES, ErrorBody
from ..schemas import (
    AgentChangeIn,
    AgentIn,
    AgentOut,
    ClusterChangeIn,
    ClusterIn,
    ClusterOut,
    RevokeIn,
    RevokeOut,
    StationChangeIn,
    StationIn,
    StationOut,
)
from .params import CommunePath, CommuneQuery, KeyPath

router = APIRouter(responses=ERROR_RESPONSES)


# ---------------------------------------------------------------------------- stations


@router.get("/stations", response_model=list[StationOut], tags=["stations"])
def list_stations(request: Request, who: Who, commune: CommuneQuery = None) -> list[StationOut]:
    return [StationOut.model_validate(s)
            for s in services_of(request).stations.list_stations(who, commune)]


@router.post("/communes/{commune}/stations", response_model=StationOut,
             status_code=status.HTTP_201_CREATED, tags=["stations"])
def create_station(request: Request, who: Who, commune: CommunePath,
                   body: StationIn) -> StationOut:
    return StationOut.model_validate(services_of(request).stations.create_station(
        who, commune, body.key, body.name, body.kind))


@router.get("/communes/{commune}/stations/{key}", response_model=StationOut,
            tags=["stations"])
def get_station(request: Request, who: Who, commune: CommunePath, key: KeyPath) -> StationOut:
    return StationOut.model_validate(services_of(request).stations.get_station(
        who, commune, key))


@router.patch("/communes/{commune}/stations/{key}", response_model=StationOut,
              tags=["stations"])
def update_station(request: Request, who: Who, commune: CommunePath, key: KeyPath,
                   body: StationChangeIn) -> StationOut:
    return StationOut.model_validate(services_of(request).stations.update_station(
        who, commune, key, name=body.name, kind=body.kind))


# ---------------------------------------------------------------------------- clusters


@router.get("/clusters", response_model=list[ClusterOut], tags=["clusters"])
def list_clusters(request: Request, who: Who, commune: CommuneQuery = None,
                  village: CommuneQuery = None) -> list[ClusterOut]:
    return [ClusterOut.model_validate(c)
            for c in services_of(request).stations.list_clusters(who, commune, village)]


@router.post("/communes/{commune}/clusters", response_model=ClusterOut,
             status_code=status.HTTP_201_CREATED, tags=["clusters"])
def create_cluster(request: Request, who: Who, commune: CommunePath,
                   body: ClusterIn) -> ClusterOut:
    return ClusterOut.model_validate(services_of(request).stations.create_cluster(
        who, commune, body.key, body.name, body.kind, body.station, body.village))


@router.get("/communes/{commune}/clusters/{key}", response_model=ClusterOut,
            tags=["clusters"])
def get_cluster(request: Request, who: Who, commune: CommunePath, key: KeyPath) -> ClusterOut:
    return ClusterOut.model_validate(services_of(request).stations.get_cluster(
        who, commune, key))


@router.patch("/communes/{commune}/clusters/{key}", response_model=ClusterOut,
              tags=["clusters"])
def update_cluster(request: Request, who: Who, commune: CommunePath, key: KeyPath,
                   body: ClusterChangeIn) -> ClusterOut:
    return ClusterOut.model_validate(services_of(request).stations.update_cluster(
        who, commune, key, name=body.name, kind=body.kind, station=body.station,
        village=body.village))


# ---------------------------------------------------------------------------- agents


@router.get("/agents", response_model=list[AgentOut], tags=["agents"])
def list_agents(request: Request, who: Who, commune: CommuneQuery = None,
                status_: Annotated[AgentStatus | None, Query(alias="status")] = None,
                ) -> list[AgentOut]:
    """Agents with their live state (``unknown`` until the fleet link reports)."""
    return [AgentOut.model_validate(a)
            for a in services_of(request).agents.list_agents(who, commune, status_)]


@router.post("/communes/{commune}/agents", response_model=AgentOut,
             status_code=status.HTTP_201_CREATED, tags=["agents"])
def create_agent(request: Request, who: Who, commune: CommunePath, body: AgentIn) -> AgentOut:
    """Register an agent (pending) before issuing its enrolment code."""
    assets = body.model_dump(exclude={"id", "cluster"}, exclude_none=True)
    return AgentOut.model_validate(services_of(request).agents.create(
        who, commune, body.id, body.cluster, **assets))


@router.get("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def get_agent(request: Request, who: Who, agent_id: KeyPath) -> AgentOut:
    return AgentOut.model_validate(services_of(request).agents.get(who, agent_id))


@router.patch("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def update_agent(request: Request, who: Who, agent_id: KeyPath,
                 body: AgentChangeIn) -> AgentOut:
    """Change asset data (fields sent; ``null`` clears) or move to another cluster."""
    changes = body.model_dump(exclude_unset=True)
    cluster = changes.pop("cluster", None)
    return AgentOut.model_validate(services_of(request).agents.update(
        who, agent_id, cluster=cluster, **changes))


@router.post("/agents/{agent_id}/revoke", response_model=RevokeOut, tags=["agents"])
def revoke_agent(request: Request, who: Who, agent_id: KeyPath,
                 body: RevokeIn | None = None) -> RevokeOut:
    """Revoke at once: keys removed, broker account dropped, data plane refused."""
    return RevokeOut.model_validate(services_of(request).revoker.revoke(
        who, agent_id, body.reason if body else ""))


# ---------------------------------------------------------------------------- commands


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: CommandKind
    level: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None, description="The volume in percent (``volume`` only).")


class CommandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agent_id: str
    commune: str
    action: CommandKind
    level: int | None
    epoch: int
    counter: int
    sent_at: dt.datetime
    expires_at: dt.datetime


class DeviceRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    kind: str
    at: dt.datetime
    time_trusted: bool
    code: str
    detail: str


class DeviceTelemetryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agent_id: str
    online: bool
    last_seen: dt.datetime | None
    heartbeat: dict[str, Any]
    telemetry: dict[str, Any]


@router.post("/agents/{agent_id}/commands", response_model=CommandOut,
             status_code=status.HTTP_202_ACCEPTED, tags=["agents"],
             responses={503: {"model": ErrorBody}})
def send_command(request: Request, who: Who, agent_id: KeyPath, body: CommandIn) -> CommandOut:
    """Send a signed command to an enrolled agent (valid 15 minutes). ``volume`` and
    ``stop``: operator, technician or admin; ``restart`` and ``reboot``: technician or
    admin. Audited as ``agent.command``; 503 when the station has no fleet link."""
    return CommandOut.model_validate(services_of(request).commands.send(
        who, agent_id, body.action, body.level))


@router.get("/agents/{agent_id}/journal", response_model=list[DeviceRecordOut],
            tags=["agents"])
def agent_journal(request: Request, who: Who, agent_id: KeyPath,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  extends: Annotated[bool, Query()] = False) -> list[DeviceRecordOut]:
    """The agent's newest journal records (events, plays, boots, intervals) as stored at
    the station, newest first; ``extends`` also lists interval extensions."""
    return [DeviceRecordOut.model_validate(r) for r in
            services_of(request).device_log.records(who, agent_id, limit, extends)]


@router.get("/agents/{agent_id}/telemetry", response_model=DeviceTelemetryOut,
            tags=["agents"])
def agent_telemetry(request: Request, who: Who, agent_id: KeyPath) -> DeviceTelemetryOut:
    """The last heartbeat and telemetry the agent sent (empty until it has)."""
    return DeviceTelemetryOut.model_validate(
        services_of(request).device_log.telemetry(who, agent_id))
