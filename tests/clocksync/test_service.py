"""The controller's time service over real ZeroMQ sockets with real CURVE.

Only enrolled keys get answers (checked at the handshake through ZAP and again for every
request, so revocation needs no restart); hostile requests are counted and ignored and
never stop the service; a dead link is noticed through ZMTP heartbeats.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import msgspec
import pytest
import zmq
import zmq.utils.monitor
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

from agent.clocksync import PollConfig
from controller.dataplane.time_service import TimeResponder, TimeService
from protocols.clock import ManualClock, SkewedClock, SystemClock
from protocols.clock_exchange import Heartbeats, TimeRequest, reply_decoder
from protocols.codec import Rejected, encode
from protocols.timefields import TimeQuality
from tests.support.netem import relay_to

from .support import (
    KeySet,
    ask,
    new_identity,
    raw_dealer,
    receive_reply,
    sync_client,
    time_service,
    wait_until,
)


def handshake_events(sock: zmq.Socket[Any], timeout_s: float = 5.0) -> list[int]:
    """Collect handshake outcomes seen by the connecting side until one is decisive."""
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED
                                      | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                      | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                      | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    events: list[int] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not events:
            if monitor.poll(100):
                event = zmq.utils.monitor.recv_monitor_message(monitor)
                events.append(int(event["event"]))
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
    return events


def test_a_reply_carries_the_request_and_the_controllers_clock() -> None:
    identity = new_identity()
    controller = SystemClock(trust="always")
    with time_service(controller, KeySet(identity.public_key)) as service, \
            raw_dealer(service.port, service, identity) as sock:
        before = controller.wall_ns()
        reply = ask(sock, seq=41)
        after = controller.wall_ns()
    assert reply is not None
    assert (reply.seq, reply.t1_ns, reply.quality) == (41, 41_000, TimeQuality.SYNCED)
    assert before <= reply.t2_ns <= reply.t3_ns <= after
    assert reply.timebase == service._responder.timebase


def test_an_unknown_key_is_refused_at_the_handshake() -> None:
    enrolled, stranger = new_identity(), new_identity()
    keys = KeySet(enrolled.public_key)
    with time_service(SystemClock(trust="always"), keys) as service:
        with raw_dealer(service.port, service, stranger) as sock:
            events = handshake_events(sock)
            with contextlib.suppress(zmq.Again):  # no connection to queue it on
                sock.send(encode(TimeRequest(seq=1, t1_ns=0)), zmq.NOBLOCK)
            assert receive_reply(sock, 1, timeout_s=1.0) is None
        assert events == [zmq.EVENT_HANDSHAKE_FAILED_AUTH]
        assert stranger.public_key in keys.asked
        assert service.stats()["refused_handshakes"] >= 1
        # Positive control: the same service answers an enrolled key at once.
        with raw_dealer(service.port, service, enrolled) as sock:
            assert handshake_events(sock) == [zmq.EVENT_HANDSHAKE_SUCCEEDED]
            assert ask(sock, seq=2) is not None
        assert wait_until(lambda: service.stats()["served"] == 1)


def test_enrolment_and_revocation_take_effect_without_a_restart() -> None:
    agent = new_identity()
    keys = KeySet()
    with time_service(SystemClock(trust="always"), keys) as service:
        with raw_dealer(service.port, service, agent) as sock:
            assert handshake_events(sock) == [zmq.EVENT_HANDSHAKE_FAILED_AUTH]
        keys.allowed.add(agent.public_key)  # enrolled while the service runs
        with raw_dealer(service.port, service, agent) as sock:
            assert ask(sock, seq=1) is not None
            keys.allowed.discard(agent.public_key)  # revoked, connection still open
            assert ask(sock, seq=2, timeout_s=1.0) is None
            assert service.stats()["unauthorised"] == 1
            keys.allowed.add(agent.public_key)  # positive control on the same connection
            assert ask(sock, seq=3) is not None


def test_a_failing_authoriser_refuses_and_the_service_survives() -> None:
    agent = new_identity()
    calls = {"n": 0}

    def flaky(public_key: bytes) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database is locked")
        return public_key == agent.public_key

    with time_service(SystemClock(trust="always"), flaky) as service:
        with raw_dealer(service.port, service, agent) as sock:
            assert handshake_events(sock) == [zmq.EVENT_HANDSHAKE_FAILED_AUTH]
        with raw_dealer(service.port, service, agent) as sock:
            assert ask(sock, seq=1) is not None


def test_malformed_requests_are_counted_and_ignored() -> None:
    agent = new_identity()
    with time_service(SystemClock(trust="always"), KeySet(agent.public_key)) as service:
        with raw_dealer(service.port, service, agent) as sock:
            hostile = [
                b"", b"\xc1", b"\x93\x01", b"not msgpack at all",
                msgspec.msgpack.encode([2, 1, 0]),  # a version this service does not know
                msgspec.msgpack.encode([1, -5, 0]),  # seq out of range
                msgspec.msgpack.encode([1, 1, "t1"]),
                b"\x91" + b"\x00" * 200,  # above the request cap, below ZeroMQ's
            ]
            for payload in hostile:
                sock.send(payload)
            sock.send_multipart([b"two", b"frames"])
            assert ask(sock, seq=9) is not None  # still serving, in order after them
            assert wait_until(lambda: service.stats()["served"] == 1)
            stats = service.stats()
            assert sum(v for k, v in stats.items() if k.startswith("time_request/")) == 9
            assert stats["time_request/oversize"] == 1
            assert stats["time_request/unknown_version"] == 1
        # A message beyond ZeroMQ's own cap never reaches the service: ZeroMQ drops that
        # connection, the DEALER dials again, and the next request is answered.
        # (A request sent right after it may die with the old connection: ask again.)
        with raw_dealer(service.port, service, agent) as sock:
            sock.send(b"\x00" * 100_000)
            seqs = iter(range(10, 1000))
            assert wait_until(lambda: ask(sock, next(seqs), timeout_s=0.5) is not None)
        assert wait_until(lambda: service.stats()["served"] >= 2)
        assert service.stats()["time_request/oversize"] == 1


def test_agents_do_not_discipline_to_an_unsynced_controller() -> None:
    agent = new_identity()
    controller = SkewedClock(SystemClock(trust="always"), quality=TimeQuality.UNSYNCED)
    with time_service(controller, KeySet(agent.public_key)) as service, \
            sync_client(service.port, service, agent, SystemClock(trust="never")) as client:
        assert wait_until(lambda: client.stats()["controller_unsynced"] >= 10)
        assert client.clock.quality() is TimeQuality.UNSYNCED
        assert client.clock.samples == 0
        controller.set_quality(TimeQuality.SYNCED)  # positive control
        assert wait_until(lambda: client.clock.quality() is TimeQuality.ESTIMATED)


def test_heartbeats_notice_a_dead_link_and_the_agent_reconnects() -> None:
    """A blackholed 4G cell closes nothing; without heartbeats the DEALER would wait on the
    half-open connection forever. With them it gives up, dials again, and resumes."""
    agent = new_identity()
    beats = Heartbeats(interval_ms=200, timeout_ms=800, ttl_ms=1000)
    poll = PollConfig(burst_interval_s=0.05, interval_s=0.2, reply_timeout_s=0.5,
                      send_timeout_ms=200, reconnect_max_ms=300)
    with time_service(SystemClock(trust="always"), KeySet(agent.public_key), beats) as service, \
            relay_to(service.port) as relay, \
            sync_client(relay.port, service, agent, SystemClock(trust="never"), poll=poll,
                        heartbeats=beats) as client:
        assert wait_until(lambda: client.stats()["accepted"] >= 3)
        assert relay.connections == 1
        relay.partition("blackhole")
        time.sleep(2.5)  # several heartbeat timeouts
        accepted = client.stats()["accepted"]
        relay.heal()
        assert wait_until(lambda: client.stats()["accepted"] > accepted + 3)
        assert relay.connections >= 2  # a new connection, not the old one revived


def test_an_unreachable_controller_neither_hangs_nor_crashes_the_client() -> None:
    agent = new_identity()
    with time_service(SystemClock(trust="always"), KeySet(agent.public_key)) as service:
        port = service.port
    clock_base = SystemClock(trust="never")
    started = time.monotonic()
    with sync_client(port, service, agent, clock_base) as client:
        assert wait_until(lambda: client.stats()["send_timeouts"] >= 2)
        assert client.clock.quality() is TimeQuality.UNSYNCED
    assert time.monotonic() - started < 10


def test_the_responder_announces_controller_clock_steps() -> None:
    clock = ManualClock()
    responder = TimeResponder(clock, timebase=7)
    decoder = reply_decoder()

    def timebase() -> int:
        answer = responder.respond(encode(TimeRequest(1, 0)), clock.wall_ns())
        assert isinstance(answer, bytes)
        reply = decoder.decode(answer)
        assert not isinstance(reply, Rejected)
        return reply.timebase

    assert timebase() == 7
    clock.advance(16 * 10**9)
    assert timebase() == 7  # time passing is not a step
    clock.step_wall(-50_000_000)
    assert timebase() == 8
    clock.advance(10**9)
    clock.step_wall(300_000)  # below the tolerance: left to the agents' slewing
    assert timebase() == 8


class _Provider:
    def __init__(self, key: bytes) -> None:
        self.key = zmq.utils.z85.encode(key)

    def callback(self, domain: str, key: bytes) -> bool:
        return domain == "loaxa-agents" and key == self.key


def test_a_shared_zap_handler_can_decide_instead() -> None:
    """The data plane may run one ZAP handler for all its sockets: the service then starts
    none of its own and authenticates under the domain it is given."""
    enrolled, stranger = new_identity(), new_identity()
    context: zmq.Context[Any] = zmq.Context()
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve_callback("loaxa-agents", credentials_provider=_Provider(
        enrolled.public_key))
    try:
        service = TimeService(SystemClock(trust="always"), zmq.curve_keypair()[1], None,
                              endpoint="tcp://127.0.0.1:0", context=context,
                              zap_domain="loaxa-agents")
        with service:
            with raw_dealer(service.port, service, stranger) as sock:
                assert handshake_events(sock) == [zmq.EVENT_HANDSHAKE_FAILED_AUTH]
            with raw_dealer(service.port, service, enrolled) as sock:
                assert ask(sock, seq=1) is not None
    finally:
        auth.stop()
        context.term()


def test_without_any_zap_handler_every_handshake_fails() -> None:
    """Fail closed: a service told to rely on a shared handler that is not there refuses
    everyone rather than letting everyone in."""
    agent = new_identity()
    context: zmq.Context[Any] = zmq.Context()
    try:
        service = TimeService(SystemClock(trust="always"), zmq.curve_keypair()[1], None,
                              endpoint="tcp://127.0.0.1:0", context=context)
        with service, raw_dealer(service.port, service, agent) as sock:
            assert handshake_events(sock) == [zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL]
            with contextlib.suppress(zmq.Again):
                sock.send(encode(TimeRequest(seq=1, t1_ns=0)), zmq.NOBLOCK)
            assert receive_reply(sock, 1, timeout_s=1.0) is None
        assert service.stats()["served"] == 0
    finally:
        context.term()


def test_a_port_in_use_fails_the_start_cleanly() -> None:
    with time_service(SystemClock(trust="always"), lambda _k: True) as running:
        second = TimeService(SystemClock(trust="always"), zmq.curve_keypair()[1],
                             lambda _k: True, endpoint=f"tcp://127.0.0.1:{running.port}")
        with pytest.raises(zmq.ZMQError):
            second.start()
        second.stop()  # harmless after a failed start


def test_stop_is_prompt_and_idempotent() -> None:
    service = TimeService(SystemClock(trust="always"), zmq.curve_keypair()[1], lambda _k: True,
                          endpoint="tcp://127.0.0.1:0").start()
    started = time.monotonic()
    service.stop()
    service.stop()
    assert time.monotonic() - started < 2


class _PreemptedClock(ManualClock):
    """A station thread pre-empted right after reading the wall clock: the monotonic
    reading that follows is late (and the wall reading looks stepped against it)."""

    stall_ns = 0

    def wall_ns(self) -> int:
        wall = super().wall_ns()
        self.advance(self.stall_ns)
        return wall


def test_a_responder_preempted_between_its_readings_announces_no_step() -> None:
    clock = _PreemptedClock()
    responder = TimeResponder(clock, timebase=7)
    decoder = reply_decoder()

    def timebase() -> int:
        answer = responder.respond(encode(TimeRequest(1, 0)), clock.wall_ns())
        assert isinstance(answer, bytes)
        reply = decoder.decode(answer)
        assert not isinstance(reply, Rejected)
        return reply.timebase

    assert timebase() == 7
    clock.advance(16 * 10**9)
    clock.stall_ns = 5_000_000  # 5 ms off the CPU between the wall and monotonic reads
    assert timebase() == 7
    clock.stall_ns = 0
    clock.advance(16 * 10**9)
    assert timebase() == 7  # nor once it is back
    clock.step_wall(-50_000_000)
    assert timebase() == 8  # a real step still is
