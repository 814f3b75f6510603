"""What a report knows, before it is laid out in any format.

Every figure in a report comes from one of these rows, and every row can be traced to
the rows below it: an indicator to its communes, a commune to its villages and
stations, a village to its clusters, a cluster to its agents (or attestations), an
agent's availability to its days and intervals, its airings to slots and play records.
The renderers only lay these out; they never compute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..uptime.coverage import RegionIndicators
from ..uptime.window import ServiceWindow
from .outages import Interval, Outage
from .period import Period


@dataclass(frozen=True)
class ReportMeta:
    definition: str
    definition_title: str
    period: Period
    tree_day: dt.date  # the hierarchy is taken as of this day (the period's last)
    measured_until: dt.datetime  # the window counts up to here
    generated_at: dt.datetime
    unit_key: str
    unit_name: str
    unit_level: str
    window: str  # e.g. "04:30-21:30 Asia/Ho_Chi_Minh"
    zone: str
    min_evidence: int
    village_threshold: float
    airing_threshold: float
    hybrid_ip_share: float
    attestation_valid_days: int
    targets: dict[str, float]  # indicator -> national target for the period's year
    window_ms: int  # the service window of the period, per agent
    service_window: ServiceWindow


@dataclass(frozen=True)
class AgentRow:
    agent_id: str
    commune: str
    village: str
    village_name: str
    cluster: str
    station: str
    window_ms: int
    by_level: tuple[int, int, int, int]  # ms up at exactly evidence level 0..3
    unanchored_ms: int
    up_ms: int  # at the definition's evidence level or above
    availability: float | None
    targeted: int
    aired: int
    outages: int = 0
    outage_ms: int = 0  # in the service window
    missed: int = 0


@dataclass(frozen=True)
class ClusterRow:
    key: str
    name: str
    kind: str
    commune: str
    village: str
    station: str
    agents: tuple[str, ...]
    availability: float | None
    targeted: int
    aired: int
    reaches: bool
    basis: str
    attested_by: str | None
    attested_at: str | None
    attestations: tuple[int, ...]


@dataclass(frozen=True)
class VillageRow:
    key: str
    name: str
    commune: str
    commune_name: str
    clusters: int
    ip_clusters: int
    best_availability: float | None
    mean_availability: float | None
    targeted: int
    aired: int
    reached: bool
    basis: str


@dataclass(frozen=True)
class StationRow:
    key: str
    name: str
    commune: str
    kind: str
    clusters: int
    ip_clusters: int
    ip_share: float | None
    converted: bool
    mean_availability: float | None


@dataclass(frozen=True)
class CommuneRow:
    key: str
    name: str
    parents: str  # "Tỉnh A / Huyện B"
    villages: int
    villages_reached: int
    coverage: float | None
    dat: bool
    stations: int
    converted: int
    mean_availability: float | None


@dataclass(frozen=True)
class DayRow:
    agent_id: str
    day: dt.date
    window_ms: int
    by_level: tuple[int, int, int, int]
    unanchored_ms: int
    up_ms: int
    availability: float | None
    targeted: int
    aired: int


@dataclass(frozen=True)
class AiringRow:
    agent_id: str
    slot_id: str
    programme: str
    start_ns: int
    window_end_ns: int | None
    aired: bool
    outcome: str  # aired | partial | ... | no-record
    play_journal_id: str | None
    play_seq: int | None


@dataclass(frozen=True)
class AttestationRow:
    id: int
    commune: str
    target: str
    key: str
    period_start: dt.date
    period_end: dt.date
    effective_end: dt.date
    attested_by: str
    attested_at: dt.datetime
    note: str


@dataclass(frozen=True)
class AlertRow:
    id: int
    commune: str
    kind: str
    subject: str
    raised_at: dt.datetime
    cleared_at: dt.datetime | None
    detail: str


@dataclass
class ReportData:
    meta: ReportMeta
    region: RegionIndicators
    communes: list[CommuneRow] = field(default_factory=list)
    villages: list[VillageRow] = field(default_factory=list)
    stations: list[StationRow] = field(default_factory=list)
    clusters: list[ClusterRow] = field(default_factory=list)
    agents: list[AgentRow] = field(default_factory=list)
    days: list[DayRow] = field(default_factory=list)
    airings: list[AiringRow] = field(default_factory=list)  # targeted, with outcome
    outages: list[Outage] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    attestations: list[AttestationRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)

    @property
    def missed(self) -> list[AiringRow]:
        return [a for a in self.airings if not a.aired]
