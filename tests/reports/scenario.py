"""A scripted fleet with known outages, airings and misses, legacy and hybrid stations.

Everything here is stated in local time (Asia/Ho_Chi_Minh, UTC+7) so the expected
figures in the tests can be worked out by hand from this file alone. The report
period is 2026-10-30 .. 2026-11-02: four days across a month boundary, each with a
17 h service window (04:30-21:30), i.e. 61,200,000 ms a day, 244,800,000 ms in all.

Tree (as of 2026-11-02)::

    tinh-a (province)
      huyen-a (district)
        xa-a  villages thon-a1, thon-a2, thon-a3
      xa-b    villages thon-b1, thon-b2, thon-c1   (huyen-b abolished 2026-07-01;
                                                    xa-c merged into xa-b 2026-10-01,
                                                    thon-c1 moved with it)

Stations and clusters::

    st-a1 ip      c-a1 ip thon-a1 ag-a1 | c-a2 ip thon-a2 ag-a2 | c-a3 ip thon-a3 ag-a3
    st-a2 hybrid  c-a4 ip thon-a3 ag-a4 | c-a5 wired thon-a2 (attested)
    st-b1 hybrid  c-b1 ip thon-b1 ag-b1 | c-b2 wired thon-b2 | c-b3 fm thon-b2
                  (the station is attested)
    st-c1 fm      c-c1 fm thon-c1 (xa-c's; its attestation expired, another withdrawn)

Agents (evidence: e0 process, e1 sink, e2 amplifier, e3 loopback)::

    ag-a1  up e2 until 10-31 20:00, power cut, back 11-01 06:00 at e1 (one outage across
           the day *and* month boundary: 3 h in the window); 10 slots, 10 aired (one
           played twice, first partial; one withdrawn only after its start)
    ag-a2  e1; reboot 10-30 03:00-05:00 (across the window's start: 0.5 h), reboot
           11-01 22:00 - 11-02 02:00 (outside the window: listed, 0 h), unhealthy
           11-02 21:00-23:00 (across the window's end: 0.5 h); its clock is 1 h wrong
           until anchored after the first reboot; a declared journal gap; nothing planned
    ag-a3  e1; evidence only e0 10-30 08:00-10:00; a boot never anchored all of 11-01
           (counts as down, shown as unanchored); 4 slots: aired, missed, no record, failed
    ag-a4  e3 all along; its wall clock steps +2 h on 10-31 (changes nothing); 10 slots,
           9 aired, one pre-empted (its fragment aired: not counted); one slot withdrawn
           before its start (not counted)
    ag-b1  e1; down 10-30 21:00 - 10-31 23:00 (0.5 h + 17 h), reflashed (new journal)
           when it came back; 8 slots, 6 aired, the two of 10-31 without a record
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from controller.fleet.ingest import Delivery, JournalIngest
from controller.storage.database import Database
from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.registry import (
    AdminUnit,
    AdminUnitVersion,
    Agent,
    AgentStatus,
    Cluster,
    ClusterKind,
    Station,
    StationKind,
    UnitLevel,
)
from controller.storage.tables.reports import Attestation
from controller.uptime.definition import load_definition
from controller.uptime.rollup import RollupMaintainer
from protocols.messages import (
    Anchor,
    Boot,
    CloseReason,
    Evidence,
    IntervalClose,
    IntervalExtend,
    IntervalOpen,
    JournalBatch,
    JournalEntry,
    Play,
    PlayOutcome,
    SeqRange,
)
from protocols.timefields import Stamp, TimeQuality

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
S = 10**9
H = 3600 * S
DEFINITION = load_definition()
PERIOD = (dt.date(2026, 10, 30), dt.date(2026, 11, 2))
NOW = dt.datetime(2026, 11, 5, 12, 0, tzinfo=dt.UTC)  # reports are made after the period
WINDOW_DAY_MS = 17 * 3600 * 1000
CONTENT = hashlib.sha256(b"bulletin").digest()


def local(day: int, hour: float, month: int = 10, year: int = 2026) -> int:
    """UTC ns of a local time: ``local(31, 20)`` = 2026-10-31 20:00 in Hanoi."""
    whole = int(hour)
    minutes = round((hour - whole) * 60)
    when = dt.datetime(year, month, day, whole, minutes, tzinfo=TZ)
    return int(when.timestamp()) * S


def nov(day: int, hour: float) -> int:
    return local(day, hour, month=11)


# --------------------------------------------------------------------------- journals


@dataclass
class Run:
    """One availability interval, in true (local) time."""

    start: int
    end: int
    evidence: Evidence
    reason: CloseReason | None = CloseReason.STOPPED  # None: still open (extended only)


@dataclass
class BootStory:
    journal: bytes
    number: int
    start: int  # true wall time at monotonic 0
    runs: list[Run]
    anchor_at: int | None  # true time of the (first) anchor; None: never anchored
    skew: int = 0  # wall error of stamps before the anchor (UNSYNCED)
    step_at: int | None = None  # the wall clock steps then ...
    step: int = 0  # ... by this much (a second anchor, and later stamps, say so)


@dataclass(frozen=True)
class PlayStory:
    slot_id: str
    scheduled: int
    outcome: PlayOutcome
    at: int  # true time of the record


@dataclass
class AgentStory:
    agent_id: str
    boots: list[BootStory]
    plays: list[PlayStory] = field(default_factory=list)
    gap_after: int | None = None  # declare 10 seqs dropped after this many records

    def entries(self) -> dict[bytes, tuple[list[JournalEntry], list[SeqRange]]]:
        """Journal id -> (entries in seq order, declared gaps)."""
        timed: dict[bytes, list[tuple[int, int, BootStory, str, object]]] = defaultdict(list)
        order = 0
        for boot in self.boots:
            items: list[tuple[int, str, object]] = [(boot.start, "boot", None)]
            if boot.anchor_at is not None:
                items.append((boot.anchor_at, "anchor", 0))
            if boot.step_at is not None:
                items.append((boot.step_at, "anchor", boot.step))
            for run in boot.runs:
                items.append((run.start, "open", run))
                t = run.start + 1800 * S
                while t < run.end:
                    items.append((t, "extend", run))
                    t += 1800 * S
                items.append((run.end, "close" if run.reason is not None else "extend", run))
            end = max(run.end for run in boot.runs)
            items += [(p.at, "play", p) for p in self.plays if boot.start <= p.at < end]
            for t, what, payload in items:
                timed[boot.journal].append((t, order, boot, what, payload))
                order += 1
        result: dict[bytes, tuple[list[JournalEntry], list[SeqRange]]] = {}
        for journal_id, rows in timed.items():
            entries: list[JournalEntry] = []
            gaps: list[SeqRange] = []
            opened: dict[int, int] = {}
            seq = 0
            for t, _order, boot, what, payload in sorted(rows, key=lambda r: (r[0], r[1])):
                seq += 1
                if self.gap_after is not None and seq == self.gap_after + 1 and not gaps:
                    gaps.append(SeqRange(seq, seq + 9))
                    seq += 10
                if what == "open":
                    opened[id(payload)] = seq
                entries.append(JournalEntry(seq, _record(boot, t, what, payload, opened)))
            result[journal_id] = (entries, gaps)
        return result


def stamp_of(boot: BootStory, t: int) -> Stamp:
    """What the agent writes at true time ``t``: monotonic since boot, its wall clock
    (wrong by ``skew`` before the anchor, stepped after ``step_at``) and its quality."""
    mono = t - boot.start
    if boot.anchor_at is None or t < boot.anchor_at:
        return Stamp(boot.number, mono, t + boot.skew, TimeQuality.UNSYNCED)
    stepped = boot.step if boot.step_at is not None and t >= boot.step_at else 0
    return Stamp(boot.number, mono, t + stepped, TimeQuality.SYNCED)


def _record(boot: BootStory, t: int, what: str, payload: object,
            opened: dict[int, int]) -> Any:
    stamp = stamp_of(boot, t)
    if what == "boot":
        return Boot(stamp, bytes(16), "loaxa-agent 1.0")
    if what == "anchor":
        assert isinstance(payload, int)
        return Anchor(Stamp(boot.number, t - boot.start, t + payload, TimeQuality.SYNCED))
    if what == "play":
        assert isinstance(payload, PlayStory)
        aired = payload.outcome in (PlayOutcome.AIRED, PlayOutcome.PARTIAL)
        return Play(stamp, payload.slot_id, CONTENT, payload.scheduled,
                    payload.scheduled + S if aired else None, t if aired else None,
                    payload.outcome, "", Evidence.SINK)
    assert isinstance(payload, Run)
    if what == "open":
        return IntervalOpen(stamp, payload.evidence)
    if what == "extend":
        return IntervalExtend(stamp, opened[id(payload)], payload.evidence)
    assert payload.reason is not None
    return IntervalClose(stamp, opened[id(payload)], payload.reason)


def journal(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()[:16]


def _stories() -> list[AgentStory]:
    a1 = AgentStory("ag-a1", [
        BootStory(journal("a1"), 1, local(29, 11) + 58 * 60 * S, [
            Run(local(29, 12), local(31, 20), Evidence.AMPLIFIER, CloseReason.UNHEALTHY)],
            anchor_at=local(29, 12)),
        BootStory(journal("a1"), 2, nov(1, 6) - 2 * 60 * S, [
            Run(nov(1, 6), nov(3, 12), Evidence.SINK, None)], anchor_at=nov(1, 6)),
    ])
    a2 = AgentStory("ag-a2", [
        BootStory(journal("a2"), 1, local(29, 8), [
            Run(local(29, 8), local(30, 3), Evidence.SINK, CloseReason.STOPPED)],
            anchor_at=local(29, 8)),
        # Back at 05:00 with a clock 1 h slow, anchored 10 minutes later.
        BootStory(journal("a2"), 2, local(30, 4) + 58 * 60 * S, [
            Run(local(30, 5), nov(1, 22), Evidence.SINK, CloseReason.STOPPED)],
            anchor_at=local(30, 5) + 600 * S, skew=-H),
        BootStory(journal("a2"), 3, nov(2, 1) + 58 * 60 * S, [
            Run(nov(2, 2), nov(2, 21), Evidence.SINK, CloseReason.UNHEALTHY),
            Run(nov(2, 23), nov(3, 12), Evidence.SINK, None)], anchor_at=nov(2, 2)),
    ], gap_after=40)
    a3 = AgentStory("ag-a3", [
        BootStory(journal("a3"), 1, local(29, 9), [
            Run(local(29, 9), local(30, 8), Evidence.SINK, CloseReason.UNHEALTHY),
            Run(local(30, 8), local(30, 10), Evidence.PROCESS, CloseReason.RECOVERED),
            Run(local(30, 10), nov(1, 0), Evidence.SINK, CloseReason.STOPPED)],
            anchor_at=local(29, 9)),
        BootStory(journal("a3"), 2, nov(1, 0), [  # never anchored
            Run(nov(1, 0), nov(2, 0), Evidence.SINK, CloseReason.STOPPED)],
            anchor_at=None),
        BootStory(journal("a3"), 3, nov(2, 0), [
            Run(nov(2, 0), nov(3, 12), Evidence.SINK, None)], anchor_at=nov(2, 0)),
    ])
    a4 = AgentStory("ag-a4", [
        BootStory(journal("a4"), 1, local(29, 7), [
            Run(local(29, 7), nov(3, 12), Evidence.LOOPBACK, None)],
            anchor_at=local(29, 7), step_at=local(31, 9), step=2 * H),
    ])
    b1 = AgentStory("ag-b1", [
        BootStory(journal("b1-old"), 1, local(29, 6), [
            Run(local(29, 6), local(30, 21), Evidence.SINK, CloseReason.STOPPED)],
            anchor_at=local(29, 6)),
        BootStory(journal("b1-new"), 1, local(31, 22) + 58 * 60 * S, [
            Run(local(31, 23), nov(3, 12), Evidence.SINK, None)], anchor_at=local(31, 23)),
    ])
    return [a1, a2, a3, a4, b1]


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class SlotPlan:
    agent_id: str
    slot_id: str
    start: int
    withdrawn_at: int | None = None
    fragment: bool = False


def days() -> list[tuple[int, int]]:
    """(month, day) of the period's days, plus the day either side."""
    return [(10, 29), (10, 30), (10, 31), (11, 1), (11, 2), (11, 3)]


def plans_and_plays(stories: dict[str, AgentStory]) -> list[SlotPlan]:
    plans: list[SlotPlan] = []
    period_days = [(10, 30), (10, 31), (11, 1), (11, 2)]

    def slot(agent: str, month: int, day: int, hour: float, **kw: object) -> SlotPlan:
        start = local(day, hour, month=month)
        label = f"{month:02d}{day:02d}{int(hour):02d}"
        return SlotPlan(agent, f"prog-{label}", start, **kw)  # type: ignore[arg-type]

    def play(agent: str, plan: SlotPlan, outcome: PlayOutcome = PlayOutcome.AIRED,
             late: int = 600 * S) -> None:
        stories[agent].plays.append(PlayStory(plan.slot_id, plan.start, outcome,
                                              plan.start + late))

    # ag-a1: 07:00 and 17:00 each day, 11:00 on the first and last day; all aired.
    for month, day in period_days:
        for hour in (7, 17):
            plan = slot("ag-a1", month, day, hour)
            if (month, day, hour) == (10, 31, 7):  # withdrawn after its start: counts
                plan = SlotPlan(plan.agent_id, plan.slot_id, plan.start,
                                withdrawn_at=plan.start + 60 * S)
            plans.append(plan)
            if (month, day, hour) == (11, 2, 17):  # played twice: partial, then aired
                play("ag-a1", plan, PlayOutcome.PARTIAL, late=300 * S)
            play("ag-a1", plan)
    for month, day in ((10, 30), (11, 2)):
        plan = slot("ag-a1", month, day, 11)
        plans.append(plan)
        play("ag-a1", plan)
    # Outside the period: not counted.
    for month, day, hour in ((10, 29, 17), (11, 3, 7)):
        plan = slot("ag-a1", month, day, hour)
        plans.append(plan)
        play("ag-a1", plan)
    # ag-a3: 07:00 each day: aired, missed, no record (unanchored day), failed.
    outcomes = [PlayOutcome.AIRED, PlayOutcome.MISSED, None, PlayOutcome.FAILED]
    for (month, day), outcome in zip(period_days, outcomes, strict=True):
        plan = slot("ag-a3", month, day, 7)
        plans.append(plan)
        if outcome is not None:
            play("ag-a3", plan, outcome)
    # ag-a4: like ag-a1's ten; the 11:00 of 11-02 is pre-empted (its fragment aired).
    for month, day in period_days:
        for hour in (7, 17):
            plan = slot("ag-a4", month, day, hour)
            plans.append(plan)
            play("ag-a4", plan)
    for month, day in ((10, 30), (11, 2)):
        plan = slot("ag-a4", month, day, 11)
        plans.append(plan)
        if (month, day) == (11, 2):
            play("ag-a4", plan, PlayOutcome.PREEMPTED)
            fragment = SlotPlan("ag-a4", plan.slot_id + "-p1", plan.start, fragment=True)
            plans.append(fragment)
            play("ag-a4", fragment)
        else:
            play("ag-a4", plan)
    withdrawn = slot("ag-a4", 11, 1, 19)
    plans.append(SlotPlan(withdrawn.agent_id, withdrawn.slot_id, withdrawn.start,
                          withdrawn_at=withdrawn.start - H))
    # ag-b1: 07:00 and 17:00 each day; the two of 10-31 (it was down) have no record.
    for month, day in period_days:
        for hour in (7, 17):
            plan = slot("ag-b1", month, day, hour)
            plans.append(plan)
            if (month, day) != (10, 31):
                play("ag-b1", plan)
    return plans


# --------------------------------------------------------------------------- registry


@dataclass
class Fleet:
    """The scenario's rows; ``install`` writes the part of it a database should hold."""

    stories: list[AgentStory]
    plans: list[SlotPlan]

    @classmethod
    def build(cls) -> Fleet:
        stories = _stories()
        plans = plans_and_plays({s.agent_id: s for s in stories})
        return cls(stories, plans)

    def deliveries(self, agents: Iterable[str] | None = None) -> list[tuple[str, JournalBatch]]:
        wanted = set(agents) if agents is not None else None
        found = []
        for story in self.stories:
            if wanted is not None and story.agent_id not in wanted:
                continue
            for journal_id, (entries, gaps) in story.entries().items():
                for start in range(0, len(entries), 500):
                    found.append((story.agent_id, JournalBatch(
                        journal_id, entries[start:start + 500], gaps if start == 0 else [])))
        return found

    def record_count(self, agents: Iterable[str]) -> int:
        return sum(len(batch.entries) for _, batch in self.deliveries(agents))


COMMUNE_AGENTS = {"xa-a": ["ag-a1", "ag-a2", "ag-a3", "ag-a4"], "xa-b": ["ag-b1"]}
D2024 = dt.date(2024, 1, 1)


def install_registry(db: Database, communes: Iterable[str] = ("xa-a", "xa-b")) -> dict[str, int]:
    """Units, stations, clusters, agents and attestations of the given communes (and
    everything above them). Returns unit ids by key."""
    wanted = set(communes)
    ids: dict[str, int] = {}
    with db.engine.begin() as conn:
        def unit(key: str, level: UnitLevel, name: str,
                 versions: list[tuple[str | None, dt.date, dt.date | None]],
                 merged_into: str | None = None) -> None:
            result = conn.execute(insert(AdminUnit).values(
                key=key, level=level, code=None, created_at=NOW,
                merged_into_id=ids.get(merged_into) if merged_into else None))
            ids[key] = int(result.inserted_primary_key[0])
            for parent, start, end in versions:
                conn.execute(insert(AdminUnitVersion).values(
                    unit_id=ids[key], name=name, parent_id=ids[parent] if parent else None,
                    valid_from=start, valid_to=end))

        july, oct1 = dt.date(2026, 7, 1), dt.date(2026, 10, 1)
        unit("tinh-a", UnitLevel.PROVINCE, "Tỉnh A", [(None, D2024, None)])
        if "xa-a" in wanted:
            unit("huyen-a", UnitLevel.DISTRICT, "Huyện A", [("tinh-a", D2024, None)])
            unit("xa-a", UnitLevel.COMMUNE, "Xã A", [("huyen-a", D2024, None)])
            for village, name in (("thon-a1", "Thôn A1"), ("thon-a2", "Thôn A2"),
                                  ("thon-a3", "Thôn A3")):
                unit(village, UnitLevel.VILLAGE, name, [("xa-a", D2024, None)])
        if "xa-b" in wanted:
            unit("huyen-b", UnitLevel.DISTRICT, "Huyện B", [("tinh-a", D2024, july)])
            unit("xa-b", UnitLevel.COMMUNE, "Xã B", [("huyen-b", D2024, july),
                                                      ("tinh-a", july, None)])
            unit("xa-c", UnitLevel.COMMUNE, "Xã C", [("huyen-b", D2024, july),
                                                      ("tinh-a", july, oct1)],
                 merged_into="xa-b")
            for village, name in (("thon-b1", "Thôn B1"), ("thon-b2", "Thôn B2")):
                unit(village, UnitLevel.VILLAGE, name, [("xa-b", D2024, None)])
            unit("thon-c1", UnitLevel.VILLAGE, "Thôn C1", [("xa-c", D2024, oct1),
                                                           ("xa-b", oct1, None)])

        stations: dict[str, int] = {}

        def station(key: str, commune: str, kind: StationKind) -> None:
            result = conn.execute(insert(Station).values(
                commune_id=ids[commune], key=key, name=f"Đài {key}", kind=kind,
                created_at=NOW))
            stations[key] = int(result.inserted_primary_key[0])

        clusters: dict[str, int] = {}

        def cluster(key: str, commune: str, st: str, village: str, kind: ClusterKind,
                    agent: str | None = None) -> None:
            result = conn.execute(insert(Cluster).values(
                commune_id=ids[commune], station_id=stations[st], village_id=ids[village],
                key=key, name=f"Cụm {key}", kind=kind, created_at=NOW))
            clusters[key] = int(result.inserted_primary_key[0])
            if agent is not None:
                conn.execute(insert(Agent).values(
                    id=agent, commune_id=ids[commune], cluster_id=clusters[key],
                    status=AgentStatus.ACTIVE, created_at=NOW))

        def attest(commune: str, start: dt.date, end: dt.date, *, cluster_key: str | None =
                   None, station_key: str | None = None, withdrawn: bool = False) -> None:
            conn.execute(insert(Attestation).values(
                uid=hashlib.sha256(f"{cluster_key}{station_key}{start}".encode())
                .hexdigest()[:32], commune_id=ids[commune],
                cluster_id=clusters[cluster_key] if cluster_key else None,
                station_id=stations[station_key] if station_key else None,
                period_start=start, period_end=end, note="", attested_by="can-bo-xa",
                attested_at=dt.datetime.combine(start, dt.time(9), dt.UTC),
                withdrawn_by="can-bo-xa" if withdrawn else None,
                withdrawn_at=NOW if withdrawn else None))

        if "xa-a" in wanted:
            station("st-a1", "xa-a", StationKind.IP)
            station("st-a2", "xa-a", StationKind.HYBRID)
            cluster("c-a1", "xa-a", "st-a1", "thon-a1", ClusterKind.IP, "ag-a1")
            cluster("c-a2", "xa-a", "st-a1", "thon-a2", ClusterKind.IP, "ag-a2")
            cluster("c-a3", "xa-a", "st-a1", "thon-a3", ClusterKind.IP, "ag-a3")
            cluster("c-a4", "xa-a", "st-a2", "thon-a3", ClusterKind.IP, "ag-a4")
            cluster("c-a5", "xa-a", "st-a2", "thon-a2", ClusterKind.WIRED)
            attest("xa-a", dt.date(2026, 10, 15), dt.date(2027, 1, 14), cluster_key="c-a5")
        if "xa-b" in wanted:
            station("st-b1", "xa-b", StationKind.HYBRID)
            station("st-c1", "xa-c", StationKind.FM)
            cluster("c-b1", "xa-b", "st-b1", "thon-b1", ClusterKind.IP, "ag-b1")
            cluster("c-b2", "xa-b", "st-b1", "thon-b2", ClusterKind.WIRED)
            cluster("c-b3", "xa-b", "st-b1", "thon-b2", ClusterKind.FM)
            cluster("c-c1", "xa-c", "st-c1", "thon-c1", ClusterKind.FM)
            attest("xa-b", dt.date(2026, 10, 1), dt.date(2026, 12, 31), station_key="st-b1")
            attest("xa-c", dt.date(2026, 6, 1), dt.date(2026, 8, 31), cluster_key="c-c1")
            attest("xa-b", dt.date(2026, 10, 20), dt.date(2026, 11, 30), cluster_key="c-c1",
                   withdrawn=True)
    return ids


def install_plans(db: Database, fleet: Fleet, ids: dict[str, int],
                  agents: Iterable[str]) -> int:
    wanted = set(agents)
    commune_of = {a: c for c, members in COMMUNE_AGENTS.items() for a in members}
    rows = []
    for plan in fleet.plans:
        if plan.agent_id not in wanted:
            continue
        rows.append({
            "agent_id": plan.agent_id, "slot_id": plan.slot_id,
            "commune_id": ids[commune_of[plan.agent_id]], "programme_id": plan.slot_id[:12],
            "start_ns": plan.start, "duration_ms": 60_000,
            "window_end_ns": plan.start + 1800 * S, "content": CONTENT.hex(), "priority": 20,
            "policy": 0, "fragment": plan.fragment, "plan_epoch": 1, "plan_version": 1,
            "planned_at": dt.datetime.fromtimestamp((plan.start - 2 * 86_400 * S) / S,
                                                    dt.UTC),
            "withdrawn_at": dt.datetime.fromtimestamp(plan.withdrawn_at / S, dt.UTC)
            if plan.withdrawn_at is not None else None})
    with db.engine.begin() as conn:
        conn.execute(insert(PlannedSlot), rows)
    return len(rows)


def ingest(db: Database, deliveries: list[tuple[str, JournalBatch]], commune_id: int
           ) -> None:
    store = JournalIngest(db, rollups=RollupMaintainer(DEFINITION.window, db.dialect))
    for agent, batch in deliveries:
        store.store([Delivery(agent, commune_id, batch)])
