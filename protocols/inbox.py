"""The receiving side of the contract, one class per direction.

``ControlInbox`` is everything an agent does with a message on a controller-written
topic: address check, size cap, envelope, signature, body schema, version/counter
rules. ``FleetInbox`` decodes what agents send to the controller. Both return values,
never raise, and log and count every refusal with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .acceptance import (
    DocumentVerdict,
    WatermarkStore,
    command_mark_name,
    document_mark_name,
    judge_command,
    judge_document,
)
from .clock import Clock
from .codec import Decoder, Reason, Rejected, RejectionCounter
from .envelope import Domain, open_envelope
from .messages import (
    AgentConfig,
    Birth,
    Command,
    Death,
    DocVersion,
    Emergency,
    Heartbeat,
    JournalAck,
    JournalBatch,
    Plan,
    Telemetry,
    TrustBundle,
)
from .topics import AgentChannel, DocKind, TopicAddress, parse_topic

log = logging.getLogger("loaxa.protocols")

# Per-kind size caps. Generous for what the kind legitimately carries, small enough that
# a hostile payload cannot make a Pi allocate much.
DOCUMENT_TYPES: dict[DocKind, tuple[Any, int]] = {
    DocKind.TRUST: (TrustBundle, 16 * 1024),
    DocKind.CONFIG: (AgentConfig, 4 * 1024),
    DocKind.PLAN: (Plan, 1024 * 1024),
    DocKind.EMERGENCY: (Emergency, 32 * 1024),
}
# Which documents are per agent and which are commune-wide.
AGENT_SCOPED_DOCUMENTS = frozenset({DocKind.PLAN, DocKind.CONFIG})

AGENT_MESSAGE_TYPES: dict[AgentChannel, tuple[Any, int]] = {
    AgentChannel.BIRTH: (Birth, 4 * 1024),
    AgentChannel.DEATH: (Death, 256),
    AgentChannel.HEARTBEAT: (Heartbeat, 512),
    AgentChannel.TELEMETRY: (Telemetry, 8 * 1024),
    AgentChannel.JOURNAL: (JournalBatch, 512 * 1024),
}
COMMAND_MAX_BYTES = 2 * 1024
ACK_MAX_BYTES = 8 * 1024


@dataclass(frozen=True, slots=True)
class DocumentAccepted:
    kind: DocKind
    mark: DocVersion
    document: Any  # TrustBundle | AgentConfig | Plan | Emergency, as named by ``kind``
    verdict: DocumentVerdict


@dataclass(frozen=True, slots=True)
class CommandAccepted:
    command: Command
    mark: DocVersion


@dataclass(frozen=True, slots=True)
class AckAccepted:
    ack: JournalAck


Accepted = DocumentAccepted | CommandAccepted | AckAccepted


class ControlInbox:
    """Verifies and orders controller messages for one agent.

    Commands commit their high-water mark here, before the caller runs them, so a crash
    mid-command can never run it twice. Documents are committed by the caller through
    ``commit()`` once it has stored them durably; a trust bundle then replaces the keys.
    """

    def __init__(self, commune: str, agent_id: str, trust: Any, marks: WatermarkStore,
                 clock: Clock, counter: RejectionCounter | None = None,
                 on_trust_change: Callable[[Any], None] | None = None) -> None:
        self.commune = commune
        self.agent_id = agent_id
        self.trust = trust  # a TrustStore
        self.marks = marks
        self.clock = clock
        self.counter = counter if counter is not None else RejectionCounter()
        self._on_trust_change = on_trust_change
        self._documents = {kind: Decoder[Any](f"doc/{kind.value}", type_, cap, self.counter)
                           for kind, (type_, cap) in DOCUMENT_TYPES.items()}
        self._commands = Decoder[Command]("cmd", Command, COMMAND_MAX_BYTES, self.counter)
        self._acks = Decoder[JournalAck]("ack", JournalAck, ACK_MAX_BYTES, self.counter)

    def receive(self, topic: str, payload: bytes) -> Accepted | Rejected:
        result = self._receive(topic, payload)
        if isinstance(result, Rejected):
            log.warning("refused %s on %s: %s", result.kind, topic, result.reason.value,
                        extra={"reason": result.reason.value, "detail": result.detail})
        return result

    def commit(self, accepted: DocumentAccepted) -> None:
        """Record a document as applied (after the caller stored it durably)."""
        if accepted.verdict is not DocumentVerdict.APPLY:
            return
        if accepted.kind is DocKind.TRUST:
            self.trust = self.trust.with_bundle(accepted.document, accepted.mark)
            if self._on_trust_change is not None:
                self._on_trust_change(self.trust)
        self.marks.put(document_mark_name(accepted.kind.value), accepted.mark)

    def _receive(self, topic: str, payload: bytes) -> Accepted | Rejected:
        address = parse_topic(topic)
        if address is None or address.commune != self.commune:
            return self._refuse("topic", Reason.UNKNOWN_TOPIC, topic)
        if address.agent_id is not None and address.agent_id != self.agent_id:
            return self._refuse("topic", Reason.WRONG_TARGET, topic)
        if address.channel is AgentChannel.DOCUMENT and address.doc_kind is not None:
            return self._document(address, topic, payload)
        if address.channel is AgentChannel.COMMAND and address.agent_id is not None:
            return self._command(topic, payload)
        if address.channel is AgentChannel.ACK and address.agent_id is not None:
            return self._ack(topic, payload)
        return self._refuse("topic", Reason.UNKNOWN_TOPIC, topic)

    def _document(self, address: TopicAddress, topic: str,
                  payload: bytes) -> DocumentAccepted | Rejected:
        kind = address.doc_kind
        assert kind is not None
        if (kind in AGENT_SCOPED_DOCUMENTS) != (address.agent_id is not None):
            return self._refuse(f"doc/{kind.value}", Reason.UNKNOWN_TOPIC, "wrong scope")
        opened = open_envelope(self.trust, Domain.DOCUMENT, topic, payload, f"doc/{kind.value}",
                               self.counter)
        if isinstance(opened, Rejected):
            return opened
        document = self._documents[kind].decode(opened.body)
        if isinstance(document, Rejected):
            return document
        if kind is DocKind.TRUST and document.commune != self.commune:
            return self._refuse("doc/trust", Reason.WRONG_TARGET, document.commune)
        if kind in AGENT_SCOPED_DOCUMENTS and getattr(document, "agent_id", self.agent_id) \
                != self.agent_id:
            return self._refuse(f"doc/{kind.value}", Reason.WRONG_TARGET, "agent id")
        mark = DocVersion(opened.epoch, document.version)
        verdict = judge_document(self.marks, kind.value, mark)
        if isinstance(verdict, Rejected):
            return self.counter.count(verdict)
        return DocumentAccepted(kind, mark, document, verdict)

    def _command(self, topic: str, payload: bytes) -> CommandAccepted | Rejected:
        opened = open_envelope(self.trust, Domain.COMMAND, topic, payload, "cmd", self.counter)
        if isinstance(opened, Rejected):
            return opened
        command = self._commands.decode(opened.body)
        if isinstance(command, Rejected):
            return command
        refused = judge_command(self.marks, self.agent_id, opened.epoch, command,
                                self.clock.wall_ns())
        if refused is not None:
            return self.counter.count(refused)
        mark = DocVersion(opened.epoch, command.counter)
        self.marks.put(command_mark_name(self.agent_id), mark)
        return CommandAccepted(command, mark)

    def _ack(self, topic: str, payload: bytes) -> AckAccepted | Rejected:
        opened = open_envelope(self.trust, Domain.JOURNAL_ACK, topic, payload, "ack",
                               self.counter)
        if isinstance(opened, Rejected):
            return opened
        ack = self._acks.decode(opened.body)
        if isinstance(ack, Rejected):
            return ack
        return AckAccepted(ack)

    def _refuse(self, kind: str, reason: Reason, detail: str) -> Rejected:
        return self.counter.count(Rejected(kind, reason, detail[:200]))


@dataclass(frozen=True, slots=True)
class AgentMessage:
    address: TopicAddress
    message: Any  # Birth | Death | Heartbeat | Telemetry | JournalBatch, by channel


class FleetInbox:
    """Decodes agent-written topics for one controller (one commune, or a hub's many)."""

    def __init__(self, communes: frozenset[str] | None = None,
                 counter: RejectionCounter | None = None) -> None:
        self.communes = communes
        self.counter = counter if counter is not None else RejectionCounter()
        self._decoders = {channel: Decoder[Any](channel.value, type_, cap, self.counter)
                          for channel, (type_, cap) in AGENT_MESSAGE_TYPES.items()}

    def receive(self, topic: str, payload: bytes) -> AgentMessage | Rejected:
        result = self._receive(topic, payload)
        if isinstance(result, Rejected):
            log.warning("refused %s on %s: %s", result.kind, topic, result.reason.value,
                        extra={"reason": result.reason.value, "detail": result.detail})
        return result

    def _receive(self, topic: str, payload: bytes) -> AgentMessage | Rejected:
        address = parse_topic(topic)
        if address is None or address.agent_id is None or \
                (self.communes is not None and address.commune not in self.communes):
            return self.counter.count(Rejected("topic", Reason.UNKNOWN_TOPIC, topic[:200]))
        decoder = self._decoders.get(address.channel)
        if decoder is None:
            return self.counter.count(Rejected("topic", Reason.UNKNOWN_TOPIC, topic[:200]))
        message = decoder.decode(payload)
        if isinstance(message, Rejected):
            return message
        claimed = getattr(message, "agent_id", address.agent_id)
        if claimed != address.agent_id:
            return self.counter.count(Rejected(address.channel.value, Reason.WRONG_TARGET,
                                               f"{claimed} on {address.agent_id}'s topic"))
        return AgentMessage(address, message)
