"""The controller's fleet link against a real Mosquitto: presence, ingest, signed acks."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from controller.broker.accounts import Role
from controller.fleet.ingest import Prepared
from controller.fleet.link import BrokerConnection, FleetLink
from controller.fleet.presence import PresenceTracker
from controller.storage.database import Database
from controller.storage.tables.fleet import JournalRecord
from controller.storage.tables.registry import AdminUnit, UnitLevel
from protocols.acceptance import MemoryWatermarks
from protocols.clock import ManualClock, SystemClock
from protocols.codec import encode
from protocols.envelope import Signer
from protocols.inbox import AckAccepted, ControlInbox
from protocols.messages import Death, Event, JournalAck, JournalBatch, JournalEntry, SeqRange
from protocols.topics import AgentChannel, agent_topic
from protocols.trust import TrustStore
from tests.protocols import samples
from tests.support.broker import RunningBroker

pytestmark = pytest.mark.e2e
COMMUNE = samples.COMMUNE
AGENT = samples.AGENT


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'loaxa.db'}")
    database.upgrade()
    with database.transaction() as session:
        session.add(AdminUnit(key=COMMUNE, level=UnitLevel.COMMUNE))
    yield database
    database.dispose()


@pytest.fixture
def link(broker: RunningBroker, db: Database) -> Iterator[FleetLink]:
    if "ctl" not in broker.credentials:
        broker.add("ctl", Role.CONTROLLER, COMMUNE)
        broker.add(AGENT, Role.AGENT, COMMUNE)
        broker.add("ag-0002", Role.AGENT, COMMUNE)
    creds = broker.credentials["ctl"]
    fleet = FleetLink(COMMUNE, 1, db, BrokerConnection("127.0.0.1", broker.port, "ctl",
                                                       creds.password, broker.ca_pem),
                      PresenceTracker(SystemClock(trust="always")),
                      lambda: Signer(samples.IDENTITY, 1), lambda agent: agent == AGENT)
    fleet.start()
    assert fleet.wait_connected(10)
    yield fleet
    fleet.stop()


def wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_liveness_and_journal_round_trip(broker: RunningBroker, link: FleetLink,
                                         db: Database) -> None:
    messages = samples.AGENT_MESSAGES
    with broker.client(AGENT) as agent:
        assert agent.connected.wait(5)
        agent.subscribe(agent_topic(COMMUNE, AGENT, AgentChannel.ACK))
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.BIRTH), encode(messages["birth"]),
                      retain=True)
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.HEARTBEAT),
                      encode(messages["heartbeat"]), qos=0)
        assert wait_for(lambda: link.presence.get([AGENT]).get(AGENT) is not None
                        and link.presence.get([AGENT])[AGENT].online
                        and link.presence.get([AGENT])[AGENT].heartbeat)
        batch: JournalBatch = messages["journal"]
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.JOURNAL), encode(batch))
        ack = agent.expect(timeout=10)
    inbox = ControlInbox(COMMUNE, AGENT, TrustStore.from_bundle(samples.TRUST),
                         MemoryWatermarks(), ManualClock())
    verified = inbox.receive(ack.topic, ack.payload)
    assert isinstance(verified, AckAccepted)
    assert verified.ack.stored == [SeqRange(1, 9)]  # entries 1-7 and the declared gap 8-9
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(JournalRecord)).scalar_one() == 7


def test_a_stale_will_does_not_take_a_reconnected_agent_offline(broker: RunningBroker,
                                                                 link: FleetLink) -> None:
    birth = samples.AGENT_MESSAGES["birth"]  # session 42
    with broker.client(AGENT) as agent:
        assert agent.connected.wait(5)
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.BIRTH), encode(birth),
                      retain=True)
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.DEATH),
                      encode(Death(AGENT, 41)), retain=True)
        time.sleep(0.5)
        assert link.presence.get([AGENT])[AGENT].online
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.DEATH),
                      encode(Death(AGENT, 42)), retain=True)
        assert wait_for(lambda: not link.presence.get([AGENT])[AGENT].online)
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.DEATH), b"", retain=True)


def test_messages_from_unregistered_agents_are_ignored(broker: RunningBroker,
                                                       link: FleetLink) -> None:
    other = "ag-0002"
    with broker.client(other) as agent:
        assert agent.connected.wait(5)
        heartbeat = samples.AGENT_MESSAGES["heartbeat"]
        agent.publish(agent_topic(COMMUNE, other, AgentChannel.HEARTBEAT), encode(heartbeat))
        assert wait_for(lambda: link.stats.unknown_agents >= 1)
    assert other not in link.presence.get()


def test_presence_is_persisted(link: FleetLink, db: Database, broker: RunningBroker) -> None:
    with broker.client(AGENT) as agent:
        assert agent.connected.wait(5)
        agent.publish(agent_topic(COMMUNE, AGENT, AgentChannel.HEARTBEAT),
                      encode(samples.AGENT_MESSAGES["heartbeat"]), qos=0)
        assert wait_for(lambda: AGENT in link.presence.get()
                        and link.presence.get([AGENT])[AGENT].heartbeat)
    assert link.presence.flush(db) >= 1
    restored = PresenceTracker(SystemClock(trust="always"))
    restored.restore(db)
    assert restored.get([AGENT])[AGENT].heartbeat["uptime_s"] == 86_400


def verified_ack(message: object) -> list[SeqRange]:
    inbox = ControlInbox(COMMUNE, AGENT, TrustStore.from_bundle(samples.TRUST),
                         MemoryWatermarks(), ManualClock())
    verified = inbox.receive(message.topic, message.payload)  # type: ignore[attr-defined]
    assert isinstance(verified, AckAccepted)
    return verified.ack.stored


def test_the_next_transaction_is_prepared_while_one_commits_and_acks_wait_for_theirs(
        broker: RunningBroker, link: FleetLink, db: Database) -> None:
    """The ingest is two stages: while the database commits one transaction, the next
    is gathered and folded. An ack still leaves only after its own records committed."""
    release, committing = threading.Event(), threading.Event()
    commit = link._ingest.commit

    def held_commit(prepared: Prepared) -> list[tuple[str, JournalAck]]:
        committing.set()
        assert release.wait(20)
        return commit(prepared)
    link._ingest.commit = held_commit  # type: ignore[method-assign]
    batch: JournalBatch = samples.AGENT_MESSAGES["journal"]
    later = JournalBatch(batch.journal_id, [JournalEntry(20, Event(samples.STAMP, code="x"))])
    topic = agent_topic(COMMUNE, AGENT, AgentChannel.JOURNAL)
    with broker.client(AGENT) as agent:
        assert agent.connected.wait(5)
        agent.subscribe(agent_topic(COMMUNE, AGENT, AgentChannel.ACK))
        agent.publish(topic, encode(batch))
        assert committing.wait(10)
        agent.publish(topic, encode(later))
        assert wait_for(lambda: link._prepared.qsize() == 1)  # prepared, waiting its turn
        with pytest.raises(queue.Empty):
            agent.expect(timeout=0.5)
        assert records(db) == 0
        release.set()
        assert verified_ack(agent.expect(timeout=10)) == [SeqRange(1, 9)]
        assert verified_ack(agent.expect(timeout=10)) == [SeqRange(20, 20)]
    assert records(db) == 8
    assert link.stats.batches == 2 and link.stats.records == 8 and link.health() is None


def test_a_failed_commit_sends_no_ack_and_the_link_goes_on(broker: RunningBroker,
                                                           link: FleetLink,
                                                           db: Database) -> None:
    commit, failures = link._ingest.commit, [1]

    def failing_once(prepared: Prepared) -> list[tuple[str, JournalAck]]:
        if failures:
            failures.pop()
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return commit(prepared)
    link._ingest.commit = failing_once  # type: ignore[method-assign]
    batch: JournalBatch = samples.AGENT_MESSAGES["journal"]
    topic = agent_topic(COMMUNE, AGENT, AgentChannel.JOURNAL)
    with broker.client(AGENT) as agent:
        assert agent.connected.wait(5)
        agent.subscribe(agent_topic(COMMUNE, AGENT, AgentChannel.ACK))
        agent.publish(topic, encode(batch))
        assert wait_for(lambda: link.stats.ingest_errors == 1)
        with pytest.raises(queue.Empty):
            agent.expect(timeout=0.5)
        assert records(db) == 0
        agent.publish(topic, encode(batch))  # the agent's resend after its ack timeout
        assert verified_ack(agent.expect(timeout=10)) == [SeqRange(1, 9)]
    assert records(db) == 7 and link.health() is None


def records(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(JournalRecord)).scalar_one()
