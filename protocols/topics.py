"""The MQTT topic tree: namespaced, versioned, and always carrying the commune id.

    loaxa/v1/<commune>/agent/<agent_id>/<kind>           agent <-> controller
    loaxa/v1/<commune>/agent/<agent_id>/doc/<doc_kind>   retained, per agent
    loaxa/v1/<commune>/doc/<doc_kind>                    retained, commune-wide

Identifiers are restricted to ``[a-z0-9][a-z0-9_-]{0,63}`` so they can never smuggle
MQTT wildcards or separators into a topic, nor a path into a file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

NAMESPACE = "loaxa"
WIRE_VERSION = "v1"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID = re.compile(ID_PATTERN)


class AgentChannel(StrEnum):
    """The per-agent topics, with who writes each (the broker ACL enforces it)."""

    BIRTH = "birth"  # agent, retained
    DEATH = "death"  # agent's Last Will, retained
    HEARTBEAT = "hb"  # agent, live only
    TELEMETRY = "telemetry"  # agent, retained full telemetry
    JOURNAL = "journal"  # agent, acknowledged batches
    ACK = "ack"  # controller, signed journal acknowledgements
    COMMAND = "cmd"  # controller, signed commands
    DOCUMENT = "doc"  # controller, signed retained documents (followed by a doc kind)


AGENT_WRITES = (AgentChannel.BIRTH, AgentChannel.DEATH, AgentChannel.HEARTBEAT,
                AgentChannel.TELEMETRY, AgentChannel.JOURNAL)
CONTROLLER_WRITES = (AgentChannel.ACK, AgentChannel.COMMAND, AgentChannel.DOCUMENT)


class DocKind(StrEnum):
    PLAN = "plan"
    CONFIG = "config"
    TRUST = "trust"
    EMERGENCY = "emergency"


class InvalidIdentifier(ValueError):
    """An id that cannot appear in a topic."""


def check_id(value: str, what: str = "identifier") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidIdentifier(f"invalid {what}: {value!r} (expected {ID_PATTERN})")
    return value


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def _root(commune: str) -> str:
    return f"{NAMESPACE}/{WIRE_VERSION}/{check_id(commune, 'commune id')}"


def agent_topic(commune: str, agent_id: str, channel: AgentChannel) -> str:
    if channel is AgentChannel.DOCUMENT:
        raise ValueError("documents need a kind: use document_topic()")
    return f"{_root(commune)}/agent/{check_id(agent_id, 'agent id')}/{channel.value}"


def document_topic(commune: str, kind: DocKind, agent_id: str | None = None) -> str:
    """Per-agent document when ``agent_id`` is given, commune-wide otherwise."""
    if agent_id is None:
        return f"{_root(commune)}/doc/{kind.value}"
    return f"{_root(commune)}/agent/{check_id(agent_id, 'agent id')}/doc/{kind.value}"


def agent_subscriptions(commune: str, agent_id: str) -> list[str]:
    """Everything an agent listens to: its own controller-written topics and commune docs."""
    base = f"{_root(commune)}/agent/{check_id(agent_id, 'agent id')}"
    return [f"{base}/{AgentChannel.ACK.value}", f"{base}/{AgentChannel.COMMAND.value}",
            f"{base}/doc/+", f"{_root(commune)}/doc/+"]


def controller_subscriptions(commune: str) -> list[str]:
    root = _root(commune)
    return [f"{root}/agent/+/{c.value}" for c in AGENT_WRITES]


@dataclass(frozen=True, slots=True)
class TopicAddress:
    """A parsed loaxa topic."""

    commune: str
    agent_id: str | None  # None for commune-wide documents
    channel: AgentChannel
    doc_kind: DocKind | None = None


def parse_topic(topic: str) -> TopicAddress | None:
    """The address of a loaxa v1 topic, or None for anything else (never raises)."""
    parts = topic.split("/") if isinstance(topic, str) else []
    if len(parts) < 4 or parts[0] != NAMESPACE or parts[1] != WIRE_VERSION:
        return None
    commune = parts[2]
    if not _ID.match(commune):
        return None
    rest = parts[3:]
    if len(rest) == 2 and rest[0] == "doc":
        kind = _doc_kind(rest[1])
        return None if kind is None else TopicAddress(commune, None, AgentChannel.DOCUMENT, kind)
    if len(rest) < 3 or rest[0] != "agent" or not _ID.match(rest[1]):
        return None
    agent_id = rest[1]
    if len(rest) == 4 and rest[2] == "doc":
        kind = _doc_kind(rest[3])
        return None if kind is None else TopicAddress(commune, agent_id, AgentChannel.DOCUMENT,
                                                      kind)
    if len(rest) != 3 or rest[2] == "doc":
        return None
    try:
        channel = AgentChannel(rest[2])
    except ValueError:
        return None
    return TopicAddress(commune, agent_id, channel)


def _doc_kind(text: str) -> DocKind | None:
    try:
        return DocKind(text)
    except ValueError:
        return None
