"""One operator action = one transaction: the change, its audit entry, and the events
to publish once (and only if) it commits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlmodel import Session

from controller.events import Event, EventBus
from controller.i18n import N_
from controller.storage.database import Database

from .errors import Conflict, Invalid, Unavailable
from .timebase import StationTime

log = logging.getLogger("loaxa.registry")


@dataclass
class Work:
    session: Session
    time: StationTime
    events: list[Event] = field(default_factory=list)


@contextmanager
def database_errors() -> Iterator[None]:
    """Database failures as typed service errors: a constraint the code did not foresee
    (two operators creating the same key at the same moment) is a ``Conflict``, a value
    the backend refuses is ``Invalid``, a database that cannot be reached is
    ``Unavailable`` — never a database traceback."""
    try:
        yield
    except IntegrityError:
        raise Conflict(N_("That conflicts with existing data (a duplicate or a missing "
                          "reference).")) from None
    except DataError:
        raise Invalid(N_("A value is out of range for the database.")) from None
    except OperationalError as exc:
        log.error("database unavailable: %s", exc)
        raise Unavailable(N_("The database is not available right now; try again "
                             "shortly.")) from None


@contextmanager
def unit_of_work(db: Database, bus: EventBus, time: StationTime) -> Iterator[Work]:
    """Commit on success, roll back on any error; publish events after the commit."""
    work: Work | None = None
    with database_errors(), db.transaction() as session:
        work = Work(session, time)
        yield work
    assert work is not None
    bus.publish_all(work.events)


@contextmanager
def reading(db: Database, time: StationTime) -> Iterator[Work]:
    """A read-only unit of work (no events, rolled back at the end)."""
    with database_errors(), db.session() as session:
        yield Work(session, time)
