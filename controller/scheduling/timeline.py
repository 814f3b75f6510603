"""A commune's day as the approved schedule resolves it: what airs where, when, on which
agents, with the emergencies of that day and what the resolver could not air.

The day is resolved from scratch (the same ``schedules.resolve`` the planner uses), so it
shows the schedule as it stands now, also for days whose plans are already published;
what was actually published to an agent is its plan (see ``plans.py``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlmodel import select

from controller.registry.timebase import StationTime
from controller.registry.work import reading
from controller.security.authz import Principal
from controller.storage.database import Database
from controller.storage.tables.library import LibraryItem
from schedules import ResolvedSlot, resolve

from .access import CommuneAccess
from .describe import utc
from .emergencies import EmergencyService, emergency_view
from .names import policy_name, priority_name
from .store import approved_schedule
from .topology import load_topology, village_of_agents
from .views import TimelineEntry, TimelineView

NS = 10**9


def day_bounds(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def ns_of(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


class TimelineService:
    def __init__(self, db: Database, time: StationTime) -> None:
        self.db = db
        self.time = time

    def day(self, who: Principal, commune: str, day: dt.date | None = None) -> TimelineView:
        tz = self.time.zone.key
        day = day or self.time.today()
        start, end = day_bounds(day, tz)
        with reading(self.db, self.time) as work:
            access = CommuneAccess.open(work.session, who, commune, self.time.today())
            schedule, rows = approved_schedule(work.session, access.unit_id, access.unit.key,
                                               tz)
            topology = load_topology(work.session, access.unit_id)
            titles = dict(work.session.exec(select(LibraryItem.sha256, LibraryItem.title)
                                            .where(LibraryItem.commune_id == access.unit_id))
                          .all())
            emergencies = [emergency_view(access.unit.key, row) for row in
                           EmergencyService.between(work.session, access.unit_id, start, end)]
        timeline = resolve(schedule, topology, ns_of(start), ns_of(end))
        villages = village_of_agents(topology)
        agents_of: dict[tuple[str, int], set[str]] = defaultdict(set)
        slot_of: dict[tuple[str, int], ResolvedSlot] = {}
        for lane in timeline.lanes:
            for slot in lane.slots:
                agents_of[(slot.slot_id, slot.start_ns)].update(lane.agents)
                slot_of[(slot.slot_id, slot.start_ns)] = slot
        entries = []
        for key in sorted(slot_of, key=lambda k: (k[1], k[0])):
            slot, agents = slot_of[key], sorted(agents_of[key])
            revision = rows.get(slot.programme)
            entries.append(TimelineEntry(
                slot_id=slot.slot_id, programme=slot.programme,
                title=revision.title if revision else slot.programme,
                start=utc(slot.start_ns), end=utc(slot.end_ns), duration_ms=slot.duration_ms,
                content=slot.content.hex(), content_title=titles.get(slot.content.hex()),
                priority=priority_name(slot.priority), policy=policy_name(slot.policy),
                fragment=slot.fragment, session=slot.session, agents=agents,
                villages=sorted({villages[a] for a in agents})))
        return TimelineView(commune=access.unit.key, day=day, tz=tz, start=start, end=end,
                            entries=entries, emergencies=emergencies,
                            notices=list(timeline.notices), agents=list(topology.agents))
