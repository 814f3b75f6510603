"""Real parts for the socket tests: keys, a running time service, a client, a raw DEALER."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import zmq
import zmq.utils.z85

from agent.clocksync import ClockSyncClient, EstimatorConfig, ExchangeClock, PollConfig
from agent.identity import CurveIdentity
from controller.dataplane.time_service import TimeService
from protocols.clock import Clock
from protocols.clock_exchange import Heartbeats, TimeReply, TimeRequest, reply_decoder
from protocols.codec import Rejected, encode

FAST_POLL = PollConfig(burst_interval_s=0.05, burst_count=8, interval_s=0.2,
                       reply_timeout_s=2.0, send_timeout_ms=200, reconnect_max_ms=500)


def new_identity() -> CurveIdentity:
    public, secret = zmq.curve_keypair()
    return CurveIdentity(zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret))


class KeySet:
    """An authoriser backed by a set, recording every key it was asked about."""

    def __init__(self, *keys: bytes) -> None:
        self.allowed = set(keys)
        self.asked: list[bytes] = []
        self._lock = threading.Lock()

    def __call__(self, public_key: bytes) -> bool:
        with self._lock:
            self.asked.append(public_key)
            return public_key in self.allowed


@contextmanager
def time_service(clock: Clock, is_allowed: Callable[[bytes], bool],
                 heartbeats: Heartbeats | None = None) -> Iterator[TimeService]:
    _public, secret = zmq.curve_keypair()
    service = TimeService(clock, secret, is_allowed, endpoint="tcp://127.0.0.1:0",
                          heartbeats=heartbeats)
    with service:
        yield service


@contextmanager
def sync_client(port: int, service: TimeService, identity: CurveIdentity, base: Clock, *,
                config: EstimatorConfig | None = None, poll: PollConfig = FAST_POLL,
                heartbeats: Heartbeats | None = None) -> Iterator[ClockSyncClient]:
    clock = ExchangeClock(base, config)
    client = ClockSyncClient(f"tcp://127.0.0.1:{port}", service.public_key, identity, clock,
                             poll=poll, heartbeats=heartbeats)
    with client:
        yield client


@contextmanager
def raw_dealer(port: int, service: TimeService,
               identity: CurveIdentity) -> Iterator[zmq.Socket[Any]]:
    """A bare DEALER, for speaking to the service in ways the real client never would."""
    context: zmq.Context[Any] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 100)
    sock.setsockopt(zmq.SNDTIMEO, 1000)
    sock.setsockopt(zmq.CURVE_SERVERKEY, service.public_key)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, identity.public_key)
    sock.setsockopt(zmq.CURVE_SECRETKEY, identity.secret_key)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        yield sock
    finally:
        sock.close(linger=0)
        context.term()


def ask(sock: zmq.Socket[Any], seq: int, timeout_s: float = 2.0) -> TimeReply | None:
    """Send one request and wait for its reply (skipping stale ones), or None."""
    sock.send(encode(TimeRequest(seq=seq, t1_ns=seq * 1000)))
    return receive_reply(sock, seq, timeout_s)


def receive_reply(sock: zmq.Socket[Any], seq: int, timeout_s: float) -> TimeReply | None:
    deadline = time.monotonic() + timeout_s
    decoder = reply_decoder()
    while time.monotonic() < deadline:
        try:
            data = sock.recv()
        except zmq.Again:
            continue
        reply = decoder.decode(data)
        if not isinstance(reply, Rejected) and reply.seq == seq:
            return reply
    return None


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0,
               every_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()
