"""What was last published to an agent: the document version, its slots as recorded in
``planned_slot``, its routine and pins, and (on request) the slots later plans withdrew."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, select

from controller.registry.agents import find_agent
from controller.registry.timebase import StationTime
from controller.registry.work import reading
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.registry import AdminUnit
from controller.storage.tables.schedule import PublishedPlan

from .describe import utc
from .names import policy_name, priority_name, weekday_names
from .plan_records import decode_plan
from .publishing import mark_text
from .views import AgentPlanView, PlannedSlotView, RoutineView

MAX_WITHDRAWN = 200


class PlanViewService:
    def __init__(self, db: Database, time: StationTime) -> None:
        self.db = db
        self.time = time

    def agent_plan(self, who: Principal, agent_id: str,
                   include_withdrawn: bool = False) -> AgentPlanView:
        with reading(self.db, self.time) as work:
            agent = find_agent(work.session, agent_id)
            Scope(work.session, who, self.time.today()).require(
                Permission.READ, agent.commune_id, hide=True)
            commune = work.session.get(AdminUnit, agent.commune_id)
            published = work.session.get(PublishedPlan, agent_id)
            current: list[PlannedSlot] = []
            if published is not None:
                current = list(work.session.exec(select(PlannedSlot).where(
                    PlannedSlot.agent_id == agent_id,
                    PlannedSlot.plan_epoch == published.plan_epoch,
                    PlannedSlot.plan_version == published.plan_version,
                    col(PlannedSlot.withdrawn_at).is_(None))
                    .order_by(col(PlannedSlot.start_ns))))
            withdrawn: list[PlannedSlot] = []
            if include_withdrawn:
                withdrawn = list(work.session.exec(select(PlannedSlot).where(
                    PlannedSlot.agent_id == agent_id,
                    col(PlannedSlot.withdrawn_at).is_not(None))
                    .order_by(col(PlannedSlot.start_ns).desc()).limit(MAX_WITHDRAWN)))
        plan = decode_plan(published.document) if published is not None else None
        peers = {s.slot_id: s.village_peers for s in plan.slots} if plan else {}
        return AgentPlanView(
            agent_id=agent_id, commune=commune.key if commune else "?",
            version=mark_text(published.plan_epoch, published.plan_version)
            if published else None,
            published_at=published.published_at if published else None,
            horizon_end=utc(published.horizon_end_ns) if published else None,
            tz=plan.tz if plan else None,
            slots=[self._slot(row, peers.get(row.slot_id, 0)) for row in current],
            withdrawn=[self._slot(row, 0) for row in withdrawn],
            routine=[RoutineView(
                programme=item.programme, content=item.content.hex(),
                weekdays=weekday_names(item.weekdays),
                local_start=dt.time(item.local_start_s // 3600,
                                    item.local_start_s % 3600 // 60, item.local_start_s % 60),
                duration_ms=item.duration_ms, priority=priority_name(item.priority),
                window_s=item.window_s) for item in (plan.routine if plan else [])],
            pins=[pin.hex() for pin in (plan.pins if plan else [])])

    @staticmethod
    def _slot(row: PlannedSlot, peers: int) -> PlannedSlotView:
        return PlannedSlotView(
            slot_id=row.slot_id, programme=row.programme_id, start=utc(row.start_ns),
            end=utc(row.start_ns + row.duration_ms * 1_000_000), duration_ms=row.duration_ms,
            content=row.content, priority=priority_name(row.priority),
            policy=policy_name(row.policy), fragment=row.fragment, village_peers=peers,
            planned_at=row.planned_at, withdrawn_at=row.withdrawn_at)
