"""The commune's retained ``Emergency`` document, built from the stored emergency.

One document per commune: the newest emergency's state. Because it is retained, an
agent that reconnects halfway through an emergency receives it at once and joins in;
``active=False`` (same id) is the stop, so an agent that was away for the whole thing
learns it is over and does not start it late.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from controller.storage.tables.schedule import EmergencyBroadcast
from protocols.clock import Clock
from protocols.messages import DocVersion, Emergency
from protocols.topics import DocKind

from .publishing import DocumentPublisher

log = logging.getLogger("loaxa.scheduling")


class EmergencyBroadcaster(Protocol):
    def announce(self, emergency: EmergencyBroadcast) -> DocVersion | None:
        """Publish the emergency's current state; its document version, or None if it
        could not be published now (it is announced again at the next start)."""
        ...


class NoBroadcaster:
    """Until the daemon's planner plugs the fleet link in (and in API-only tests)."""

    def announce(self, emergency: EmergencyBroadcast) -> DocVersion | None:
        log.warning("emergency %s stored but not announced: no fleet link", emergency.id)
        return None


def emergency_document(emergency: EmergencyBroadcast, version: int,
                       issued_ns: int) -> Emergency:
    return Emergency(version=version, issued_ns=issued_ns, emergency_id=emergency.id,
                     active=emergency.stopped_at is None,
                     content=bytes.fromhex(emergency.content),
                     villages=list(json.loads(emergency.villages)),
                     started_ns=emergency.started_ns, repeat_every_s=emergency.repeat_every_s,
                     volume=emergency.volume, attention_tone=emergency.attention_tone)


class EmergencyAnnouncer:
    def __init__(self, publisher: DocumentPublisher, clock: Clock) -> None:
        self.publisher = publisher
        self.clock = clock

    def announce(self, emergency: EmergencyBroadcast) -> DocVersion | None:
        return self.publisher.publish_document(
            DocKind.EMERGENCY,
            lambda version: emergency_document(emergency, version, self.clock.wall_ns()))
