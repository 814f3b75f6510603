"""What the operator API needs from the station: its services, already composed (by
``controller.daemon.compose`` in production, by fixtures in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.audit import AuditLog
from controller.backup import Backups
from controller.enrolment.codes import CodeService
from controller.enrolment.revoke import Revoker
from controller.events import EventBus
from controller.library.service import LibraryService
from controller.registry.agents import AgentService
from controller.registry.commands import CommandService
from controller.registry.devicelog import DeviceLog
from controller.registry.stations import StationService
from controller.registry.summary import SummaryService
from controller.registry.timebase import StationTime
from controller.registry.units import UnitService
from controller.reports.services import ReportServices
from controller.scheduling.services import SchedulingServices
from controller.security.sessions import AuthService
from controller.security.users import UserService
from controller.signing.keyring import Keyring
from controller.storage.database import Database


@dataclass
class ApiServices:
    db: Database
    bus: EventBus
    time: StationTime
    units: UnitService
    stations: StationService
    agents: AgentService
    summary: SummaryService
    users: UserService
    auth: AuthService
    audit: AuditLog
    keyring: Keyring
    codes: CodeService
    revoker: Revoker
    backups: Backups
    library: LibraryService
    scheduling: SchedulingServices = field(init=False)
    reporting: ReportServices = field(init=False)
    commands: CommandService = field(init=False)  # the fleet link plugs its publisher in
    device_log: DeviceLog = field(init=False)

    def __post_init__(self) -> None:
        self.scheduling = SchedulingServices.build(self.db, self.bus, self.time)
        self.library.usage.add(self.scheduling.usage)
        self.reporting = ReportServices.build(self.db, self.bus, self.time)
        self.commands = CommandService(self.db, self.bus, self.time)
        self.device_log = DeviceLog(self.db, self.time)
