"""Telling agents what to do: signed documents (retained) and signed commands.

Versions and counters come from the station's durable counters in the current signing
epoch, so an agent orders what it receives by ``(epoch, n)`` even across a restore.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from protocols.clock import Clock
from protocols.envelope import Domain, Signer
from protocols.inbox import AGENT_SCOPED_DOCUMENTS
from protocols.messages import Action, Command, DocVersion
from protocols.topics import AgentChannel, DocKind, agent_topic, document_topic

from ..signing.counters import Counters
from ..signing.keyring import Keyring

log = logging.getLogger("loaxa.fleet")

# A command is valid from a little before it was sent (agents' clocks differ by a few
# seconds from the station's) until its time to live has passed.
CLOCK_TOLERANCE_NS = 120 * 10**9
DEFAULT_COMMAND_TTL_S = 900


class Publishing(Protocol):
    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None: ...


class FleetPublisher:
    def __init__(self, commune: str, keyring: Keyring, counters: Counters, link: Publishing,
                 clock: Clock) -> None:
        self.commune = commune
        self._keyring = keyring
        self._counters = counters
        self._link = link
        self._clock = clock

    def signer(self) -> Signer:
        return self._keyring.signer(self.commune)

    def publish_trust_bundle(self) -> DocVersion:
        sealed = self._keyring.sealed_trust_bundle(self.commune)
        self._link.publish(sealed.topic, sealed.payload, retain=True)
        return sealed.version

    def publish_document(self, kind: DocKind, build: Callable[[int], Any],
                         agent_id: str | None = None) -> DocVersion:
        """Build the document with its new version number, sign it, publish it retained."""
        if (kind in AGENT_SCOPED_DOCUMENTS) != (agent_id is not None):
            raise ValueError(f"{kind.value} documents are "
                             f"{'per agent' if kind in AGENT_SCOPED_DOCUMENTS else 'commune-wide'}")
        mark = self._counters.next_document_version(self.commune, kind, agent_id)
        topic = document_topic(self.commune, kind, agent_id)
        signer = self.signer()
        document = build(mark.version)
        self._link.publish(topic, signer.seal(Domain.DOCUMENT, topic, document), retain=True)
        log.info("published %s v%d.%d%s", kind.value, mark.epoch, mark.version,
                 f" for {agent_id}" if agent_id else "")
        return mark

    def send_command(self, agent_id: str, action: Action,
                     ttl_s: int = DEFAULT_COMMAND_TTL_S) -> DocVersion:
        epoch, counter = self._counters.next_command_counter(self.commune, agent_id)
        now = self._clock.wall_ns()
        command = Command(counter=counter, agent_id=agent_id,
                          not_before_ns=now - CLOCK_TOLERANCE_NS,
                          expires_ns=now + ttl_s * 10**9, action=action)
        topic = agent_topic(self.commune, agent_id, AgentChannel.COMMAND)
        self._link.publish(topic, self.signer().seal(Domain.COMMAND, topic, command))
        log.info("sent %s to %s (counter %d.%d)", type(action).__name__, agent_id, epoch,
                 counter)
        return DocVersion(epoch, counter)
