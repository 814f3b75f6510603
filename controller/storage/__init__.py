"""Storage: the schema (``tables``), its migrations, and the database handle."""

from .database import Database, sqlite_url
from .types import UTCDateTime, utcnow

__all__ = ["Database", "UTCDateTime", "sqlite_url", "utcnow"]
