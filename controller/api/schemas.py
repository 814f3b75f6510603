"""Request and response bodies of the operator API (they are its OpenAPI description).

Inputs are constrained here as tightly as the database and the wire allow (identifier
pattern, lengths, no control characters, coordinates in range, aware datetimes), so bad
input is a 422 with details and never reaches a query.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from controller.registry.livestate import Connectivity
from controller.storage.tables.registry import AgentStatus, ClusterKind, StationKind, UnitLevel
from controller.storage.tables.security import Role
from controller.storage.tables.signing import KeyStatus
from protocols.topics import ID_PATTERN

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
Key = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL,
                                        strip_whitespace=True)]
Line = Annotated[str, StringConstraints(max_length=200, pattern=NO_CONTROL)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256,
                                            pattern=r"^[^\x00]*$")]
Notes = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]
Short = Annotated[str, StringConstraints(max_length=64, pattern=NO_CONTROL)]
UnitCode = Annotated[str, StringConstraints(max_length=32, pattern=NO_CONTROL)]
UnixUser = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                            pattern=r"^[^\x00-\x20:/\x7f]+$")]
Language = Annotated[str, StringConstraints(pattern=r"^(vi|en)$")]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Day = Annotated[dt.date, Field(ge=dt.date(1900, 1, 1), le=dt.date(9999, 1, 1))]


def _utc(value: dt.datetime) -> dt.datetime:
    """Naive datetimes are taken as UTC; anything not representable is refused."""
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("datetime out of range") from exc


Instant = Annotated[dt.datetime, AfterValidator(_utc)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---------------------------------------------------------------------------- auth


class LoginIn(Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenOut(Output):
    token: str
    username: str
    expires_at: dt.datetime


# ---------------------------------------------------------------------------- units


class UnitIn(Input):
    key: Key
    level: UnitLevel
    name: Name
    parent: Key | None = None
    code: UnitCode | None = None
    valid_from: Day | None = None


class UnitChangeIn(Input):
    name: Name | None = None
    parent: Key | None = None
    valid_from: Day | None = None


class MergeIn(Input):
    sources: Annotated[list[Key], Field(min_length=1, max_length=50)]
    valid_from: Day | None = None


class UnitOut(Output):
    key: str
    level: UnitLevel
    name: str
    parent: str | None
    code: str | None
    valid_from: dt.date
    valid_to: dt.date | None
    merged_into: str | None


# ---------------------------------------------------------------------------- stations


class StationIn(Input):
    key: Key
    name: Name
    kind: StationKind


class StationChangeIn(Input):
    name: Name | None = None
    kind: StationKind | None = None


class StationOut(Output):
    commune: str
    key: str
    name: str
    kind: StationKind
    created_at: dt.datetime


class ClusterIn(Input):
    key: Key
    name: Name
    kind: ClusterKind
    station: Key
    village: Key


class ClusterChangeIn(Input):
    name: Name | None = None
    kind: ClusterKind | None = None
    station: Key | None = None
    village: Key | None = None


class ClusterOut(Output):
    commune: str
    key: str
    name: str
    kind: ClusterKind
    station: str
    village: str
    agent: str | None
    created_at: dt.datetime


# ---------------------------------------------------------------------------- agents


class AssetFields(Input):
    serial: Short | None = None
    sim_iccid: Annotated[str, StringConstraints(max_length=32, pattern=NO_CONTROL)] | None = None
    imei: Annotated[str, StringConstraints(max_length=32, pattern=NO_CONTROL)] | None = None
    install_date: Day | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    notes: Notes | None = None


class AgentIn(AssetFields):
    id: Key | None = None
    cluster: Key | None = None


class AgentChangeIn(AssetFields):
    """Only the fields sent are changed; ``null`` clears an asset field."""

    cluster: Key | None = None


class LiveStateOut(Output):
    connectivity: Connectivity
    last_seen: dt.datetime | None
    playing: str | None
    volume: int | None
    amp_on: bool | None
    software: str | None
    clock_offset_us: int | None


class AgentOut(Output):
    id: str
    commune: str
    cluster: str | None
    village: str | None
    status: AgentStatus
    serial: str | None
    sim_iccid: str | None
    imei: str | None
    install_date: dt.date | None
    latitude: float | None
    longitude: float | None
    notes: str | None
    created_at: dt.datetime
    enrolled_at: dt.datetime | None
    revoked_at: dt.datetime | None
    has_key: bool
    live: LiveStateOut


class RevokeIn(Input):
    reason: Line = ""


class RevokeOut(Output):
    agent: AgentOut
    broker_synced: bool


# ---------------------------------------------------------------------------- enrolment


class CodeIn(Input):
    cluster: Key | None = None
    agent_id: Key | None = None


class IssuedCodeOut(Output):
    code: str
    agent_id: str
    commune: str
    cluster: str | None
    expires_at: dt.datetime
    command: str


class PendingCodeOut(Output):
    agent_id: str
    commune: str
    cluster: str | None
    issued_by: str | None
    issued_at: dt.datetime
    expires_at: dt.datetime
    failed_attempts: int


# ---------------------------------------------------------------------------- users


class GrantOut(Output):
    unit: str
    level: UnitLevel
    role: Role
    emergency: bool
    granted_at: dt.datetime


class UserOut(Output):
    username: str
    display_name: str
    unix_user: str | None
    language: str | None
    disabled: bool
    has_password: bool
    created_at: dt.datetime
    grants: list[GrantOut]


class UserIn(Input):
    username: Key
    display_name: Line = ""
    password: Password | None = None
    unix_user: UnixUser | None = None
    language: Language | None = None


class UserChangeIn(Input):
    display_name: Line | None = None
    unix_user: UnixUser | None = None
    clear_unix_user: bool = False
    language: Language | None = None
    disabled: bool | None = None


class PasswordIn(Input):
    password: Password
    current_password: Annotated[str, StringConstraints(max_length=256)] | None = None


class GrantIn(Input):
    unit: Key
    role: Role
    emergency: bool = False


# ---------------------------------------------------------------------------- audit, fleet


class AuditEntryOut(Output):
    id: int
    at: dt.datetime
    username: str
    commune: str | None
    action: str
    target: str
    detail: dict[str, object]
    source: str


class AuditPageOut(Output):
    entries: list[AuditEntryOut]
    next_before_id: int | None


class VillageSummaryOut(Output):
    village: str
    name: str
    clusters: int
    ip_clusters: int
    active_agents: int
    online_agents: int


class FleetSummaryOut(Output):
    communes: list[str]
    stations_by_kind: dict[str, int]
    clusters_by_kind: dict[str, int]
    agents_by_status: dict[str, int]
    agents_by_connectivity: dict[str, int]
    villages: list[VillageSummaryOut]


# ---------------------------------------------------------------------------- signing, backup


class KeyOut(Output):
    key_id: str
    status: KeyStatus
    created_at: dt.datetime
    changed_at: dt.datetime | None


class KeyringOut(Output):
    commune: str
    epoch: int
    trust_version: int
    keys: list[KeyOut]


class BackupOut(Output):
    name: str
    size: int
    created_at: dt.datetime
