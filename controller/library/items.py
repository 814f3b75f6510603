"""Library rows: finding one by what an operator types, and how one is shown.

An item is named by its number (``id``, short, shown first in every list: what an
operator reads out over the phone) or by the start of its sha256 (what scripts, plans
and agents use), like a git commit. Up to 7 digits is a number; 8 or more hexadecimal
digits is a sha256 prefix, so the two never collide.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from controller.i18n import N_
from controller.registry.errors import Invalid, NotFound
from controller.storage.tables.library import LibraryItem
from controller.storage.tables.security import User

from .problems import AmbiguousItem

ITEM_REF_PATTERN = r"^(?:[0-9]{1,7}|[0-9a-fA-F]{8,64})$"
_NUMBER = re.compile(r"^[0-9]{1,7}$")
_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")


@dataclass(frozen=True)
class LibraryItemView:
    id: int
    commune: str
    sha256: str
    title: str
    source_name: str
    source_format: str
    imported_by: str | None  # user name; None for the system (demo, restore)
    imported_at: dt.datetime
    duration_ms: int
    size_bytes: int
    bitrate_bps: int
    integrated_lufs: float
    speech_lufs: float
    true_peak_dbtp: float
    chime: bool
    used_by: list[str] = field(default_factory=list)  # filled by ``show`` only


def find_item(session: Session, commune_id: int, ref: str) -> LibraryItem:
    """The commune's item named by ``ref``; ``NotFound`` / ``AmbiguousItem`` otherwise."""
    ref = ref.strip().lower()
    statement = select(LibraryItem).where(LibraryItem.commune_id == commune_id)
    if _NUMBER.match(ref):
        rows = list(session.exec(statement.where(LibraryItem.id == int(ref))))
    elif _PREFIX.match(ref):
        rows = list(session.exec(statement.where(
            col(LibraryItem.sha256).startswith(ref, autoescape=True)).limit(2)))
    else:
        raise Invalid(N_("{ref} is not a library item number or code."), ref=ref[:80])
    if not rows:
        raise NotFound(N_("No library item {ref} in this commune."), ref=ref)
    if len(rows) > 1:
        raise AmbiguousItem(ref)
    return rows[0]


def view_of(item: LibraryItem, commune: str, usernames: dict[int, str],
            used_by: list[str] | None = None) -> LibraryItemView:
    assert item.id is not None
    return LibraryItemView(
        id=item.id, commune=commune, sha256=item.sha256, title=item.title,
        source_name=item.source_name, source_format=item.source_format,
        imported_by=usernames.get(item.imported_by) if item.imported_by else None,
        imported_at=item.imported_at, duration_ms=item.duration_ms,
        size_bytes=item.size_bytes, bitrate_bps=item.bitrate_bps,
        integrated_lufs=item.integrated_lufs, speech_lufs=item.speech_lufs,
        true_peak_dbtp=item.true_peak_dbtp, chime=item.chime, used_by=list(used_by or []))


def usernames_of(session: Session, items: list[LibraryItem]) -> dict[int, str]:
    ids = {item.imported_by for item in items if item.imported_by is not None}
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.username).where(col(User.id).in_(ids)))
    return {user_id: name for user_id, name in rows if user_id is not None}


def referenced(session: Session, sha256: str) -> bool:
    """Does any commune's row still name this content? (Its file must then stay.)"""
    return session.exec(select(LibraryItem.id).where(
        LibraryItem.sha256 == sha256).limit(1)).first() is not None
