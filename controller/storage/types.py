"""Column types shared by every table."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend.

    SQLite has no time zones; PostgreSQL does. Values must be aware going in (a naive
    datetime is a bug: whose local time?) and always come back aware, in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def enum_type(enum: type[StrEnum]) -> Enum:
    """Store an enum by its value in a VARCHAR: readable, and no PostgreSQL enum type
    to migrate when a value is added."""
    return Enum(enum, native_enum=False, create_constraint=False, length=16,
                values_callable=lambda members: [m.value for m in members])
