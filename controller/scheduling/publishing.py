"""The one thing scheduling needs from the fleet link: publish a signed document.

``controller.fleet.publisher.FleetPublisher`` is the implementation; tests may use it over
a recording link. Keeping it a protocol means the services and the planner never import
the MQTT link, and the API can run (and be tested) without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from protocols.messages import DocVersion
from protocols.topics import DocKind


class DocumentPublisher(Protocol):
    def publish_document(self, kind: DocKind, build: Callable[[int], Any],
                         agent_id: str | None = None) -> DocVersion:
        """Build the document with its next version, sign it, publish it retained."""
        ...


def mark_text(epoch: int | None, version: int | None) -> str | None:
    return f"{epoch}.{version}" if epoch is not None and version is not None else None
