"""A station on a real database for service, API and CLI tests: every service composed
as the daemon does, a manual clock, a recording event listener, and a small province
with two communes, their villages, stations, clusters and users in different roles."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from controller.api.services import ApiServices
from controller.daemon import compose
from controller.enrolment.access import ClaimAccess
from controller.events import Event, EventBus
from controller.registry.bootstrap import init_admin
from controller.registry.timebase import StationTime
from controller.security.authz import Principal
from controller.settings import Settings, load_settings
from controller.signing.keyring import Keyring
from controller.storage.database import Database
from controller.storage.tables.registry import ClusterKind, StationKind, UnitLevel
from controller.storage.tables.security import Role
from protocols.clock import ManualClock

SYSTEM = Principal.system_actor("test-setup", source="test")
PASSWORD = "correct horse battery"
DAY = dt.date(2026, 1, 1)


class RecordingSync:
    """A broker sync that counts calls (tests with a real broker use the real one)."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def sync(self) -> None:
        self.calls += 1
        if self.fail:
            raise OSError("broker directory not writable")


@dataclass
class Kit:
    settings: Settings
    db: Database
    bus: EventBus
    clock: ManualClock
    time: StationTime
    services: ApiServices
    broker: RecordingSync
    access: ClaimAccess
    events: list[Event] = field(default_factory=list)

    def who(self, username: str) -> Principal:
        """The principal of a user, as the API would authenticate it."""
        from sqlmodel import select

        from controller.storage.tables.security import User

        with self.db.session() as session:
            user = session.exec(select(User).where(User.username == username)).one()
            assert not user.disabled
            return Principal(user_id=user.id, username=user.username,
                             language=user.language)

    def close(self) -> None:
        self.db.dispose()


def make_settings(tmp_path: Path, db_url: str, **sections: dict[str, object]) -> Settings:
    station = {"data_dir": tmp_path / "data", "commune": "xa-a", "name": "Xã A",
               **sections.pop("station", {})}
    return load_settings(None, station=station, database={"url": db_url}, **sections)


def make_kit(db_url: str, tmp_path: Path, *, clock: ManualClock | None = None,
             access: ClaimAccess | None = None, broker: RecordingSync | None = None,
             seed: bool = True, cloned: bool = True, settings: Settings | None = None
             ) -> Kit:
    """A station over ``db_url`` (an empty database). The seed is cloned from a template
    built once per session unless ``cloned=False`` (then it is built in place)."""
    settings = settings or make_settings(tmp_path, db_url)
    if seed and cloned:
        from .templates import clone_seeded

        clone_seeded(db_url)
        seed = False
    db = Database(db_url)
    db.upgrade()
    bus = EventBus()
    clock = clock or ManualClock(wall_ns=int(dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC)
                                             .timestamp()) * 10**9)
    time = StationTime(clock)
    broker = broker or RecordingSync()
    access = access or ClaimAccess(enrol_endpoint="tcp://127.0.0.1:7712",
                                   data_endpoint="tcp://127.0.0.1:7710",
                                   server_public_key=bytes(range(32)),
                                   broker_host="127.0.0.1", broker_port=8883,
                                   broker_ca_pem="-----BEGIN CERTIFICATE-----\n")
    services = compose(settings, db, bus=bus, time=time, broker_sync=broker, access=access)
    kit = Kit(settings, db, bus, clock, time, services, broker, access)
    bus.subscribe(kit.events.append)
    if seed:
        seed_station(kit)
    return kit


def seed_station(kit: Kit) -> None:
    """Province tinh-a with communes xa-a (villages thon-a1, thon-a2) and xa-b (thon-b1);
    a station and an IP cluster in each commune; users in several roles."""
    s = kit.services
    s.units.create(SYSTEM, "tinh-a", UnitLevel.PROVINCE, "Tỉnh A", valid_from=DAY)
    for commune, villages in (("xa-a", ["thon-a1", "thon-a2"]), ("xa-b", ["thon-b1"])):
        s.units.create(SYSTEM, commune, UnitLevel.COMMUNE, f"Xã {commune[-1].upper()}",
                       parent="tinh-a", valid_from=DAY)
        for village in villages:
            s.units.create(SYSTEM, village, UnitLevel.VILLAGE, f"Thôn {village[-2:]}",
                           parent=commune, valid_from=DAY)
        s.stations.create_station(SYSTEM, commune, f"st-{commune[-1]}", "Đài", StationKind.IP)
        s.stations.create_cluster(SYSTEM, commune, f"c-{villages[0]}", "Cụm 1", ClusterKind.IP,
                                  f"st-{commune[-1]}", villages[0])
        Keyring(kit.db, kit.bus, kit.time).ensure(commune)
    init_admin(kit.db, kit.bus, kit.time, "admin", unix_user="unix-admin", password=PASSWORD)
    for username, unit, role in (("tech-a", "xa-a", Role.TECHNICIAN),
                                 ("viewer-a", "xa-a", Role.VIEWER),
                                 ("admin-a", "xa-a", Role.ADMIN),
                                 ("op-b", "xa-b", Role.OPERATOR),
                                 ("prov", "tinh-a", Role.VIEWER)):
        s.users.create(SYSTEM, username, unix_user=f"unix-{username}", password=PASSWORD)
        s.users.grant(SYSTEM, username, unit, role)
    kit.events.clear()


def map_unix_user(kit: Kit, unix_user: str, username: str | None) -> None:
    """Point a Unix account (e.g. ``root``, who runs the tests) at a loaxa user."""
    from sqlmodel import select

    from controller.storage.tables.security import User

    with kit.db.transaction() as session:
        for user in session.exec(select(User).where(User.unix_user == unix_user)):
            user.unix_user = None
            session.add(user)
        session.flush()
        if username is not None:
            user = session.exec(select(User).where(User.username == username)).one()
            user.unix_user = unix_user
            session.add(user)
