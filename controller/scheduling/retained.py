"""Retained documents kept by the station, so it can republish them verbatim.

A plan or emergency document lives on the broker as a retained message. Two things can
take it away without the station noticing: the controller stopping after the document
was handed to the MQTT client but before it reached the broker, and a broker that lost
its store (an external broker without persistence, a restored machine). The planner's
"publish only when changed" would then never send it again. So every retained document
the scheduling side publishes is also written here first, byte for byte, and the
planner republishes them at start: same bytes, same version, so an agent that already
has it treats it as a no-op.
"""

from __future__ import annotations

import logging

from sqlmodel import col, select

from controller.fleet.publisher import Publishing
from controller.registry.timebase import StationTime
from controller.storage.database import Database
from controller.storage.tables.schedule import RetainedDocument

log = logging.getLogger("loaxa.scheduling")


class RememberingLink:
    """A fleet link that writes each retained document down before sending it."""

    def __init__(self, link: Publishing, db: Database, time: StationTime,
                 commune_id: int) -> None:
        self.link = link
        self.db = db
        self.time = time
        self.commune_id = commune_id

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        if retain:
            with self.db.transaction() as session:
                row = session.get(RetainedDocument, topic) or RetainedDocument(
                    topic=topic, commune_id=self.commune_id, payload=b"")
                row.payload, row.published_at = payload, self.time.now()
                session.add(row)
        self.link.publish(topic, payload, retain=retain)


def republish(db: Database, link: Publishing, commune_id: int) -> int:
    """Send every document kept for the commune again, as it was; how many."""
    with db.session() as session:
        rows = list(session.exec(select(RetainedDocument).where(
            RetainedDocument.commune_id == commune_id).order_by(col(RetainedDocument.topic))))
    for row in rows:
        link.publish(row.topic, row.payload, retain=True)
    if rows:
        log.info("republished %d retained documents", len(rows))
    return len(rows)
