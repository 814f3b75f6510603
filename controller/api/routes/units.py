"""Administrative units: the tree on a date, creation, renames and moves, merges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import Day, MergeIn, UnitChangeIn, UnitIn, UnitOut
from .params import KeyPath

router = APIRouter(tags=["units"], responses=ERROR_RESPONSES)
OnDate = Annotated[Day | None, Query(description="The date the tree is read on (default "
                                                 "today, station time).")]


@router.get("/units", response_model=list[UnitOut])
def tree(request: Request, who: Who, on: OnDate = None) -> list[UnitOut]:
    """Units valid on ``on`` that you may read, each parent before its children."""
    return [UnitOut.model_validate(u) for u in services_of(request).units.tree(who, on)]


@router.post("/units", response_model=UnitOut, status_code=status.HTTP_201_CREATED)
def create(request: Request, who: Who, body: UnitIn) -> UnitOut:
    return UnitOut.model_validate(services_of(request).units.create(
        who, body.key, body.level, body.name, body.parent, body.code, body.valid_from))


@router.get("/units/{key}", response_model=UnitOut)
def get(request: Request, who: Who, key: KeyPath, on: OnDate = None) -> UnitOut:
    return UnitOut.model_validate(services_of(request).units.get(who, key, on))


@router.get("/units/{key}/history", response_model=list[UnitOut])
def history(request: Request, who: Who, key: KeyPath) -> list[UnitOut]:
    """Every version of the unit (name and parent with validity dates), oldest first."""
    return [UnitOut.model_validate(u) for u in services_of(request).units.history(who, key)]


@router.patch("/units/{key}", response_model=UnitOut)
def change(request: Request, who: Who, key: KeyPath, body: UnitChangeIn) -> UnitOut:
    """Rename and/or move under another parent from ``valid_from`` (a new version)."""
    return UnitOut.model_validate(services_of(request).units.change(
        who, key, name=body.name, parent=body.parent, valid_from=body.valid_from))


@router.post("/units/{key}/merge", response_model=UnitOut)
def merge(request: Request, who: Who, key: KeyPath, body: MergeIn) -> UnitOut:
    """Merge the ``sources`` communes into commune ``key`` from ``valid_from``."""
    return UnitOut.model_validate(services_of(request).units.merge(
        who, body.sources, key, body.valid_from))
