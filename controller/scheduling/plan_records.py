"""The record of what was published: ``published_plan`` (the last document per agent) and
``planned_slot`` (every slot ever published, for the uptime reports).

Slots are upserted in bulk (SQLAlchemy Core ``ON CONFLICT``) keyed on
``(agent_id, slot_id)``: a slot that stays in the next plan keeps its row and when it
was first planned; one that moved is updated; one that a later plan drops *before its
start* is marked ``withdrawn_at`` (never deleted), so a report can tell "planned and
missed" from "planned, then taken back".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from controller.storage.tables.plans import PlannedSlot
from controller.storage.tables.schedule import PublishedPlan
from protocols.messages import DocVersion, Plan

CHUNK = 500


def decode_plan(document: bytes) -> Plan:
    return msgspec.msgpack.decode(document, type=Plan)


def published_plans(session: Session, commune_id: int) -> dict[str, tuple[DocVersion, Plan]]:
    rows = session.exec(select(PublishedPlan).where(PublishedPlan.commune_id == commune_id))
    return {row.agent_id: (DocVersion(row.plan_epoch, row.plan_version),
                           decode_plan(row.document)) for row in rows}


def record_publication(session: Session, commune_id: int, plan: Plan, mark: DocVersion,
                       now: dt.datetime, now_ns: int) -> int:
    """Store a published plan; the number of earlier slots it withdrew."""
    row = session.get(PublishedPlan, plan.agent_id) or PublishedPlan(
        agent_id=plan.agent_id, commune_id=commune_id, plan_epoch=0, plan_version=0,
        horizon_end_ns=0, slot_count=0, document=b"")
    row.commune_id, row.plan_epoch, row.plan_version = commune_id, mark.epoch, mark.version
    row.published_at, row.horizon_end_ns = now, plan.horizon_end_ns
    row.slot_count, row.document = len(plan.slots), msgspec.msgpack.encode(plan)
    session.add(row)
    _upsert_slots(session, commune_id, plan, mark, now)
    kept = {slot.slot_id for slot in plan.slots}
    return withdraw_future(session, plan.agent_id, now, now_ns, keep=kept)


def withdraw_future(session: Session, agent_id: str, now: dt.datetime, now_ns: int,
                    keep: set[str] | frozenset[str] = frozenset()) -> int:
    """Mark the agent's not-yet-started, still-planned slots outside ``keep`` withdrawn."""
    candidates = session.exec(select(PlannedSlot.slot_id).where(
        PlannedSlot.agent_id == agent_id, col(PlannedSlot.withdrawn_at).is_(None),
        col(PlannedSlot.start_ns) > now_ns)).all()
    dropped = [slot_id for slot_id in candidates if slot_id not in keep]
    for first in range(0, len(dropped), CHUNK):
        session.execute(update(PlannedSlot).where(
            col(PlannedSlot.agent_id) == agent_id,
            col(PlannedSlot.slot_id).in_(dropped[first:first + CHUNK])).values(
            withdrawn_at=now))
    return len(dropped)


def forget_agent(session: Session, agent_id: str, now: dt.datetime, now_ns: int) -> int:
    """An agent left the topology (revoked, unbound): its future slots are withdrawn and
    its last plan forgotten, so it is planned afresh if it comes back."""
    withdrawn = withdraw_future(session, agent_id, now, now_ns)
    row = session.get(PublishedPlan, agent_id)
    if row is not None:
        session.delete(row)
    return withdrawn


def _upsert_slots(session: Session, commune_id: int, plan: Plan, mark: DocVersion,
                  now: dt.datetime) -> None:
    if not plan.slots:
        return
    rows: list[dict[str, Any]] = [{
        "agent_id": plan.agent_id, "slot_id": slot.slot_id, "commune_id": commune_id,
        "programme_id": slot.programme, "start_ns": slot.start_ns,
        "duration_ms": slot.duration_ms, "window_end_ns": slot.window_end_ns,
        "content": slot.content.hex(), "priority": int(slot.priority),
        "policy": int(slot.policy), "fragment": slot.fragment, "plan_epoch": mark.epoch,
        "plan_version": mark.version, "planned_at": now, "withdrawn_at": None}
        for slot in plan.slots]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = PlannedSlot.__table__  # type: ignore[attr-defined]
    for first in range(0, len(rows), CHUNK):
        statement = insert(table)
        changing = ("commune_id", "programme_id", "start_ns", "duration_ms", "window_end_ns",
                    "content", "priority", "policy", "fragment", "plan_epoch",
                    "plan_version", "withdrawn_at")
        updates: dict[str, Any] = {name: statement.excluded[name] for name in changing}
        # planned again after a withdrawal: it is planned as of now
        updates["planned_at"] = case((table.c.withdrawn_at.is_not(None),
                                      statement.excluded["planned_at"]),
                                     else_=table.c.planned_at)
        statement = statement.on_conflict_do_update(index_elements=["agent_id", "slot_id"],
                                                    set_=updates)
        session.execute(statement, rows[first:first + CHUNK])
