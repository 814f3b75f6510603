"""Commands that work on the database directly (no API): they need the settings file and
read/write access to the data directory, i.e. the station's administrator on the box."""

from __future__ import annotations

import socket as sockets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from controller.i18n import _
from controller.settings import Settings

from .context import context
from .errors import EXIT_UNAVAILABLE, CliError

if TYPE_CHECKING:  # the database stack is imported only by commands that use it
    from controller.events import EventBus
    from controller.registry.timebase import StationTime
    from controller.storage.database import Database

CONFIG_OPTION = click.option("-c", "--config", type=click.Path(path_type=Path, dir_okay=False),
                             help=_("Settings file (TOML)."))


def local_settings(config: Path | None) -> Settings:
    return context().settings(config)


def open_database(settings: Settings) -> tuple[Database, EventBus, StationTime]:
    from controller.events import EventBus
    from controller.registry.timebase import StationTime
    from controller.storage.database import Database

    settings.station.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = Database(settings.database_url)
    db.upgrade()
    return db, EventBus(), StationTime(timezone=settings.station.timezone)


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be reached or read becomes a clear message and exit code."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as error:
        raise CliError(_("The database is not available: {error}").format(error=error),
                       code="unavailable", exit_code=EXIT_UNAVAILABLE) from None


@contextmanager
def upgraded_database(url: str) -> Iterator[Database]:
    """The database at ``url``, up to date, disposed of afterwards; errors as above."""
    from controller.storage.database import Database

    db = Database(url)
    try:
        with database_errors():
            db.upgrade()
            yield db
    finally:
        db.dispose()


def controller_running(settings: Settings) -> bool:
    """Whether something answers on the API socket (a running controller)."""
    path = settings.api_socket
    if not path.exists():
        return False
    probe = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()
