"""What an operator gives to programme something, and how it becomes a ``Programme``.

Items are named by their SHA-256 or by their library title; their duration comes from the
library. Content the library does not hold yet (a bulletin still to be recorded) can be
programmed with an explicit duration: the conflict check then reports that it cannot
reach the agents in time, which the operator accepts knowingly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from controller.i18n import N_
from controller.registry.errors import Invalid, NotFound
from controller.storage.tables.library import LibraryItem
from protocols.messages import HardTimePolicy, Priority
from schedules import Item, Programme, Recurrence, ScheduleError, Targets

from .errors import invalid_schedule

MAX_ITEMS = 50


@dataclass(frozen=True)
class ItemRef:
    content: str | None = None  # sha256, hex
    title: str | None = None  # exact library title
    duration_ms: int | None = None  # needed only for content the library does not hold


@dataclass(frozen=True)
class ProgrammeInput:
    title: str
    items: tuple[ItemRef, ...]
    recurrence: Recurrence
    session: str | None = None
    villages: frozenset[str] = frozenset()
    clusters: frozenset[str] = frozenset()
    priority: Priority = Priority.NORMAL
    policy: HardTimePolicy = HardTimePolicy.QUEUE_AFTER
    repeat: int = 1
    repeat_gap_s: int = 0
    rank: int = 0
    max_delay_minutes: int | None = None


EDITABLE = frozenset(f.name for f in dataclasses.fields(ProgrammeInput))


def with_changes(base: ProgrammeInput, changes: dict[str, Any]) -> ProgrammeInput:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise Invalid(N_("Unknown programme fields: {fields}."),
                      fields=", ".join(sorted(unknown)))
    return dataclasses.replace(base, **changes)


def input_of(title: str, programme: Programme) -> ProgrammeInput:
    """The input that would make ``programme`` again (to apply an edit on top)."""
    return ProgrammeInput(
        title=title, recurrence=programme.recurrence, session=programme.session,
        items=tuple(ItemRef(content=i.content.hex(), duration_ms=i.duration_ms)
                    for i in programme.items),
        villages=programme.targets.villages, clusters=programme.targets.clusters,
        priority=programme.priority, policy=programme.policy, repeat=programme.repeat,
        repeat_gap_s=programme.repeat_gap_s, rank=programme.rank,
        max_delay_minutes=programme.max_delay_minutes)


def resolve_item(session: Session, commune_id: int, ref: ItemRef) -> Item:
    if ref.content is not None:
        content = ref.content.lower()
        row = session.exec(select(LibraryItem).where(
            LibraryItem.commune_id == commune_id, LibraryItem.sha256 == content)).first()
    elif ref.title is not None:
        rows = list(session.exec(select(LibraryItem).where(
            LibraryItem.commune_id == commune_id, LibraryItem.title == ref.title).limit(2)))
        if not rows:
            raise NotFound(N_("No library item titled {title!r} in this commune."),
                           title=ref.title)
        if len(rows) > 1:
            raise Invalid(N_("Several library items are titled {title!r}: name the item by "
                             "its SHA-256."), title=ref.title)
        row = rows[0]
        content = row.sha256
    else:
        raise Invalid(N_("Name each item by its SHA-256 or its library title."))
    duration = row.duration_ms if row is not None else ref.duration_ms
    if duration is None:
        raise Invalid(N_("Item {content} is not in the library: give its duration."),
                      content=content)
    try:
        return Item(content=bytes.fromhex(content), duration_ms=duration)
    except ValueError as exc:
        if isinstance(exc, ScheduleError):
            raise invalid_schedule(exc) from None
        raise Invalid(N_("An item's content is not a SHA-256 ({detail})."),
                      detail=content) from None


def build_programme(session: Session, commune_id: int, key: str,
                    spec: ProgrammeInput) -> Programme:
    """The ``schedules.Programme`` for ``spec`` (placement: at its time)."""
    if not spec.items:
        raise Invalid(N_("A programme needs at least one item."))
    if len(spec.items) > MAX_ITEMS:
        raise Invalid(N_("At most {count} items per programme."), count=MAX_ITEMS)
    items = tuple(resolve_item(session, commune_id, ref) for ref in spec.items)
    try:
        return Programme(programme_id=key, items=items, recurrence=spec.recurrence,
                         session=spec.session,
                         targets=Targets(villages=frozenset(spec.villages),
                                         clusters=frozenset(spec.clusters)),
                         priority=spec.priority, policy=spec.policy, repeat=spec.repeat,
                         repeat_gap_s=spec.repeat_gap_s, rank=spec.rank,
                         max_delay_minutes=spec.max_delay_minutes)
    except ScheduleError as exc:
        raise invalid_schedule(exc) from None
