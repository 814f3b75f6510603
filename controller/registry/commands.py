"""Commands to one agent (set volume, stop playback, restart the service, reboot), sent
signed through the fleet link and written to the audit log.

Who may send what, in the agent's commune (a grant on a province covers its communes):

* ``volume`` and ``stop`` — daily work at the loudspeakers: the operator, the technician
  and the admin roles;
* ``restart`` and ``reboot`` — maintenance of the box: the technician and admin roles
  (the ``manage_devices`` permission).

Viewers and approvers may send none. Only an enrolled (active) agent of the commune this
station serves can be commanded. The fleet link plugs its publisher in when it starts;
until then (or in a station without one) a command is refused as unavailable.

The command is sent first (its counter is committed by the publisher, in its own
transaction) and audited right after with that counter, so the audit entry names exactly
what went out; a command that could not be sent leaves no entry.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit, AgentStatus
from controller.storage.tables.security import Role
from protocols.messages import Action, DocVersion, Reboot, RestartService, SetVolume, StopPlayback

from .agents import find_agent
from .errors import Conflict, Forbidden, Invalid, Unavailable
from .timebase import StationTime
from .work import reading, unit_of_work

log = logging.getLogger("loaxa.registry")
COMMAND_TTL_S = 900


class CommandKind(StrEnum):
    VOLUME = "volume"
    STOP = "stop"
    RESTART = "restart"
    REBOOT = "reboot"


#: Actions an operator may send besides those holding ``manage_devices``.
OPERATOR_ACTIONS = frozenset({CommandKind.VOLUME, CommandKind.STOP})
OPERATOR_ROLES = frozenset({Role.OPERATOR})


class CommandSender(Protocol):
    """Implemented by the fleet publisher: seal and publish one command."""

    commune: str

    def send_command(self, agent_id: str, action: Action, ttl_s: int = ...) -> DocVersion: ...


@dataclass(frozen=True)
class SentCommand:
    agent_id: str
    commune: str
    action: CommandKind
    level: int | None
    epoch: int
    counter: int
    sent_at: dt.datetime
    expires_at: dt.datetime


def build_action(kind: CommandKind, level: int | None) -> Action:
    if kind is CommandKind.VOLUME:
        if level is None or not 0 <= level <= 100:
            raise Invalid(N_("The volume is a percentage from 0 to 100."))
        return SetVolume(level)
    if level is not None:
        raise Invalid(N_("Only the volume command takes a level."))
    actions: dict[CommandKind, Action] = {CommandKind.STOP: StopPlayback(),
                                          CommandKind.RESTART: RestartService(),
                                          CommandKind.REBOOT: Reboot()}
    return actions[kind]


def may_command(scope: Scope, kind: CommandKind, unit_id: int) -> bool:
    if scope.allows(Permission.MANAGE_DEVICES, unit_id):
        return True
    if kind not in OPERATOR_ACTIONS:
        return False
    roots = {g.unit_id for g in scope.grants if g.role in OPERATOR_ROLES}
    return unit_id in scope.graph.below(roots)


class CommandService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime,
                 ttl_s: int = COMMAND_TTL_S) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.ttl_s = ttl_s
        self.sender: CommandSender | None = None

    def plug(self, sender: CommandSender | None) -> None:
        """The fleet link's publisher (None when it stops)."""
        self.sender = sender

    def send(self, who: Principal, agent_id: str, kind: CommandKind,
             level: int | None = None) -> SentCommand:
        action = build_action(kind, level)
        with reading(self.db, self.time) as work:
            scope = Scope(work.session, who, self.time.today())
            agent = find_agent(work.session, agent_id)
            scope.require(Permission.READ, agent.commune_id, hide=True)
            if not may_command(scope, kind, agent.commune_id):
                raise Forbidden(N_("You do not have permission to send this command to "
                                   "agents of that commune."))
            if agent.status is not AgentStatus.ACTIVE:
                raise Conflict(N_("Agent {agent} is not enrolled: it cannot take commands."),
                               agent=agent_id)
            unit = work.session.get(AdminUnit, agent.commune_id)
            commune = unit.key if unit is not None else "?"
            commune_id = agent.commune_id
        sender = self.sender
        if sender is None or sender.commune != commune:
            raise Unavailable(N_("This station has no fleet link to commune {commune}: the "
                                 "command cannot be sent."), commune=commune)
        sent_at = self.time.now()
        mark = sender.send_command(agent_id, action, ttl_s=self.ttl_s)
        sent = SentCommand(agent_id=agent_id, commune=commune, action=kind, level=level,
                           epoch=mark.epoch, counter=mark.version, sent_at=sent_at,
                           expires_at=sent_at + dt.timedelta(seconds=self.ttl_s))
        with unit_of_work(self.db, self.bus, self.time) as work:
            record(work, who, "agent.command", target=agent_id, commune_id=commune_id,
                   detail={"action": kind.value, "level": level,
                           "counter": f"{mark.epoch}.{mark.version}",
                           "expires_at": sent.expires_at.isoformat()})
        return sent
