"""Claiming a code: the agent proves possession of its CURVE key through the handshake,
names the same key in its request, and gets everything it needs to run.

Refusals are distinct (unknown, expired, already used, key mismatch, locked after too
many failed attempts) in the audit log and the logs; on the wire a locked code is
``rate_limited``, the nearest reason the frozen protocol has. A failed attempt against a
real code (a key other than the handshake's, or a key already bound to another agent)
counts towards the code's limit, so a leaked code cannot be worked at indefinitely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import select

from controller.audit import record
from controller.broker.accounts import mosquitto_hash, new_password
from controller.broker.sync import BrokerSync
from controller.events import AgentEnrolled, EventBus
from controller.events import ClaimRefused as ClaimRefusedEvent
from controller.registry.timebase import StationTime
from controller.registry.work import Work, unit_of_work
from controller.security.authz import Principal
from controller.signing.keyring import Keyring
from controller.storage.database import Database
from controller.storage.tables.registry import (
    AdminUnit,
    Agent,
    AgentStatus,
    Cluster,
    EnrolmentCode,
)
from protocols.enrolment import (
    BrokerAccess,
    ClaimGranted,
    ClaimRefused,
    ClaimReply,
    ClaimRequest,
    DataPlaneAccess,
    RefusalReason,
    code_digest,
    normalize_code,
)

from .access import ClaimAccess
from .codes import withdraw_codes

log = logging.getLogger("loaxa.enrolment")


class ClaimOutcome(StrEnum):
    GRANTED = "granted"
    UNKNOWN_CODE = "unknown_code"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    KEY_MISMATCH = "key_mismatch"  # the request names a key other than the handshake's
    KEY_IN_USE = "key_in_use"  # the key is bound to another agent
    LOCKED = "locked"  # too many failed attempts on this code

    @property
    def wire(self) -> RefusalReason:
        return {ClaimOutcome.UNKNOWN_CODE: RefusalReason.UNKNOWN_CODE,
                ClaimOutcome.EXPIRED: RefusalReason.EXPIRED,
                ClaimOutcome.ALREADY_USED: RefusalReason.ALREADY_USED,
                ClaimOutcome.KEY_MISMATCH: RefusalReason.KEY_MISMATCH,
                ClaimOutcome.KEY_IN_USE: RefusalReason.KEY_MISMATCH,
                }.get(self, RefusalReason.RATE_LIMITED)


@dataclass(frozen=True)
class ClaimResult:
    outcome: ClaimOutcome
    reply: ClaimReply
    agent_id: str | None = None


@dataclass(frozen=True)
class _Granted:
    agent_id: str
    commune: str
    village: str | None
    cluster: str | None
    password: str


class ClaimHandler:
    def __init__(self, db: Database, bus: EventBus, time: StationTime, keyring: Keyring,
                 broker: BrokerSync, access: ClaimAccess, max_failed_attempts: int = 5) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.keyring = keyring
        self.broker = broker
        self.access = access
        self.max_failed_attempts = max_failed_attempts

    def claim(self, request: ClaimRequest, handshake_key: bytes, peer: str = "") -> ClaimResult:
        """Decide a claim. Never raises on a bad request: refusals are results."""
        canonical = normalize_code(request.code)
        if canonical is None:
            return self._refused(ClaimOutcome.UNKNOWN_CODE, None, peer)
        granted: _Granted | None = None
        outcome = ClaimOutcome.UNKNOWN_CODE
        agent_id: str | None = None
        with unit_of_work(self.db, self.bus, self.time) as work:
            code = work.session.exec(select(EnrolmentCode).where(
                EnrolmentCode.code_digest == code_digest(canonical)).with_for_update()).first()
            if code is not None:
                agent_id = code.agent_id
                outcome = self._judge(work, code, request, handshake_key)
                if outcome is ClaimOutcome.GRANTED:
                    granted = self._bind(work, code, request)
                else:
                    self._audit_refusal(work, code, outcome, peer)
        if granted is None:
            return self._refused(outcome, agent_id, peer)
        try:
            self.broker.sync()
        except Exception:
            # The registry is committed; the daemon re-syncs the broker at every start.
            log.exception("broker sync after enrolling %s failed", granted.agent_id)
        bundle, mark = self.keyring.trust_bundle(granted.commune)
        log.info("agent %s enrolled (peer %s)", granted.agent_id, peer or "?")
        reply = ClaimGranted(
            agent_id=granted.agent_id, commune=granted.commune, village=granted.village,
            cluster=granted.cluster,
            broker=BrokerAccess(host=self.access.broker_host, port=self.access.broker_port,
                                username=granted.agent_id, password=granted.password,
                                ca_pem=self.access.broker_ca_pem,
                                server_name=self.access.broker_server_name),
            data_plane=DataPlaneAccess(endpoint=self.access.data_endpoint,
                                       server_public_key=self.access.server_public_key,
                                       clock_endpoint=self.access.clock_endpoint),
            trust=bundle, trust_mark=mark)
        return ClaimResult(ClaimOutcome.GRANTED, reply, granted.agent_id)

    def _judge(self, work: Work, code: EnrolmentCode, request: ClaimRequest,
               handshake_key: bytes) -> ClaimOutcome:
        if code.failed_attempts >= self.max_failed_attempts:
            return ClaimOutcome.LOCKED
        if code.claimed_at is not None:
            return ClaimOutcome.ALREADY_USED
        if code.expires_at <= self.time.now():
            return ClaimOutcome.EXPIRED
        outcome = ClaimOutcome.GRANTED
        if bytes(request.curve_public_key) != bytes(handshake_key):
            outcome = ClaimOutcome.KEY_MISMATCH
        else:
            holder = work.session.exec(select(Agent).where(
                Agent.curve_public_key == bytes(handshake_key))).first()
            if holder is not None and holder.id != code.agent_id:
                outcome = ClaimOutcome.KEY_IN_USE
        if outcome is not ClaimOutcome.GRANTED:
            code.failed_attempts += 1
            work.session.add(code)
        return outcome

    def _bind(self, work: Work, code: EnrolmentCode, request: ClaimRequest) -> _Granted:
        session, now = work.session, self.time.now()
        agent = session.get(Agent, code.agent_id)
        unit = session.get(AdminUnit, code.commune_id)
        assert agent is not None and unit is not None
        password = new_password()
        agent.curve_public_key = bytes(request.curve_public_key)
        agent.broker_password_hash = mosquitto_hash(password)
        agent.status = AgentStatus.ACTIVE
        agent.enrolled_at, agent.revoked_at = now, None
        if request.serial and not agent.serial:
            agent.serial = request.serial[:64]
        code.claimed_at = now
        session.add_all([agent, code])
        session.flush()
        withdraw_codes(session, agent.id, now)
        cluster = session.get(Cluster, agent.cluster_id) if agent.cluster_id else None
        village = session.get(AdminUnit, cluster.village_id) if cluster else None
        record(work, self._actor(agent.id), "agent.claim", target=agent.id,
               commune_id=unit.id, detail={"hostname": request.hostname,
                                           "serial": request.serial,
                                           "software": request.software})
        work.events.append(AgentEnrolled(commune_id=unit.id, commune=unit.key,
                                         agent_id=agent.id,
                                         cluster=cluster.key if cluster else None))
        return _Granted(agent.id, unit.key, village.key if village else None,
                        cluster.key if cluster else None, password)

    def _audit_refusal(self, work: Work, code: EnrolmentCode, outcome: ClaimOutcome,
                       peer: str) -> None:
        unit = work.session.get(AdminUnit, code.commune_id)
        record(work, self._actor(code.agent_id), "agent.claim_refused", target=code.agent_id,
               commune_id=code.commune_id,
               detail={"reason": outcome.value, "peer": peer,
                       "failed_attempts": code.failed_attempts})
        work.events.append(ClaimRefusedEvent(commune_id=code.commune_id,
                                             commune=unit.key if unit else None,
                                             agent_id=code.agent_id, reason=outcome.value))

    def _refused(self, outcome: ClaimOutcome, agent_id: str | None, peer: str) -> ClaimResult:
        log.warning("claim refused: %s (agent %s, peer %s)", outcome.value, agent_id or "?",
                    peer or "?")
        return ClaimResult(outcome, ClaimRefused(outcome.wire), agent_id)

    @staticmethod
    def _actor(agent_id: str) -> Principal:
        return Principal(user_id=None, username=f"agent:{agent_id}"[:64], source="enrol",
                         system=True)
