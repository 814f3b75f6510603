"""Backups through the running controller (restores are done offline, by the CLI)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import BackupOut

router = APIRouter(tags=["backups"], responses=ERROR_RESPONSES)


@router.get("/backups", response_model=list[BackupOut])
def list_backups(request: Request, who: Who) -> list[BackupOut]:
    return [BackupOut.model_validate(b)
            for b in services_of(request).backups.list_backups(who)]


@router.post("/backups", response_model=BackupOut, status_code=status.HTTP_201_CREATED)
def take_backup(request: Request, who: Who) -> BackupOut:
    """An online backup now (SQLite ``VACUUM INTO``, or ``pg_dump``)."""
    return BackupOut.model_validate(services_of(request).backups.take(who))
