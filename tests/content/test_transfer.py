"""Pre-distribution end to end: real ZeroMQ sockets, real CURVE, the userspace relay.

A transfer cut by the network resumes from the bytes on disk; a corrupted cache file is
found and fetched again; a revoked agent cannot fetch, even on a live connection;
nothing but a complete, verified item ever appears under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

from agent.cache import Cache
from agent.fetcher import ItemState
from controller.dataplane.content_service import ContentService
from protocols.codec import encode
from protocols.content import (
    CHUNK_BYTES,
    DEFAULT_WINDOW,
    AgentFrame,
    Chunk,
    Fetch,
    ServiceFrame,
    service_frame_decoder,
)
from tests.support.netem import relay_to

from .support import (
    BULLETIN_BYTES,
    FAST,
    UNCAPPED,
    Alerts,
    KeySet,
    Library,
    air_in,
    cached_intact,
    content_service,
    fetcher,
    new_identity,
    wait_until,
)

pytestmark = pytest.mark.e2e

# What a cut may cost on top of one copy: at most one credit window in flight is lost,
# plus framing (msgspec, ZMTP, CURVE: ~0.6 %) and a second CURVE handshake.
WINDOW_BYTES = DEFAULT_WINDOW * CHUNK_BYTES


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(tmp_path / "library")


def state_of(client: Any, sha: bytes) -> ItemState | None:
    return next((i.state for i in client.status().items if i.content == sha), None)


def test_a_bulletin_arrives_verified_and_never_half_visible(library: Library,
                                                            tmp_path: Path) -> None:
    sha = library.add()
    agent = new_identity()
    final = tmp_path / "cache" / "items" / sha.hex()
    seen_partial = threading.Event()
    stop = threading.Event()

    def watch_final_name() -> None:  # nothing but the whole, verified item under its name
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                if final.stat().st_size != BULLETIN_BYTES:
                    seen_partial.set()
            time.sleep(0.001)

    with content_service(library, KeySet(agent.public_key)) as service, \
            relay_to(service.port, bandwidth_bps=1_500_000) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        watcher = threading.Thread(target=watch_final_name, daemon=True)
        watcher.start()
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.has(sha))
            status = client.status()
        stop.set()
        watcher.join()
        assert cached_intact(cache, sha)
        assert not seen_partial.is_set()
        assert status.items[0].state is ItemState.CACHED and status.missing == 0
        assert status.bytes_received == BULLETIN_BYTES
        # Cheap on 4G: one copy plus about one percent of framing, both directions.
        assert BULLETIN_BYTES < relay.bytes_down < BULLETIN_BYTES * 1.02
        assert relay.bytes_up < BULLETIN_BYTES * 0.01
        assert service.stats()["completed"] == 1


def test_a_transfer_cut_halfway_resumes_where_it_stopped(library: Library,
                                                         tmp_path: Path) -> None:
    sha = library.add()
    agent = new_identity()
    with content_service(library, KeySet(agent.public_key)) as service, \
            relay_to(service.port) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        relay.cut_after(BULLETIN_BYTES // 2)  # resets the connection halfway through
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.has(sha))
            status = client.status()
        assert cached_intact(cache, sha)
        assert relay.connections == 2 and status.reconnects >= 1
        # Resumed, not restarted: one copy, at most one lost window, a little framing.
        # Starting over would have cost ~1.5 copies (2.7 MB).
        assert BULLETIN_BYTES <= relay.bytes_down <= BULLETIN_BYTES * 1.02 + WINDOW_BYTES
        assert service.stats()["requests"] == 2


def test_an_agent_restarted_mid_transfer_resumes_from_its_partial_file(
        library: Library, tmp_path: Path) -> None:
    """A power cut on the Pi: the new process finds the partial file and continues."""
    sha = library.add()
    agent = new_identity()
    with content_service(library, KeySet(agent.public_key)) as service, \
            relay_to(service.port, bandwidth_bps=1_500_000) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.partial_size(sha) > BULLETIN_BYTES // 2)
        on_disk = cache.partial_size(sha)
        assert not cache.has(sha) and BULLETIN_BYTES // 2 < on_disk < BULLETIN_BYTES
        rebooted = Cache(tmp_path / "cache", 50_000_000)
        assert rebooted.partial_size(sha) == on_disk
        with fetcher(relay.port, service, agent, rebooted) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: rebooted.has(sha))
            assert client.status().bytes_received == BULLETIN_BYTES - on_disk
        assert cached_intact(rebooted, sha)
        assert relay.bytes_down <= BULLETIN_BYTES * 1.02 + WINDOW_BYTES


def test_a_transfer_resumes_after_a_silent_partition(library: Library, tmp_path: Path) -> None:
    """A dead 4G cell: nothing is closed, packets just stop. The agent notices the
    silence, dials again when the link is back, and continues from its partial file."""
    sha = library.add()
    agent = new_identity()
    with content_service(library, KeySet(agent.public_key)) as service, \
            relay_to(service.port, bandwidth_bps=600_000) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.partial_size(sha) > BULLETIN_BYTES // 3)
            relay.partition("blackhole")
            time.sleep(4.0)  # longer than the reply timeout: the fetcher gives up on it
            on_disk = cache.partial_size(sha)
            assert not cache.has(sha) and on_disk < BULLETIN_BYTES
            relay.heal()
            assert wait_until(lambda: cache.has(sha), timeout_s=30)
        assert cached_intact(cache, sha)
        assert relay.connections >= 2
        assert relay.bytes_down <= BULLETIN_BYTES * 1.02 + 2 * WINDOW_BYTES


def test_a_flipped_byte_is_found_at_start_and_the_item_fetched_again(library: Library,
                                                                     tmp_path: Path) -> None:
    sha = library.add()
    agent = new_identity()
    with content_service(library, KeySet(agent.public_key)) as service, \
            relay_to(service.port) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.has(sha))
        first_copy = relay.bytes_down
        path = tmp_path / "cache" / "items" / sha.hex()
        with path.open("r+b") as handle:  # a bad SD-card sector while the agent was off
            handle.seek(777_777)
            byte = handle.read(1)
            handle.seek(777_777)
            handle.write(bytes([byte[0] ^ 0x40]))
        restarted = Cache(tmp_path / "cache", 50_000_000)  # the agent starts again
        assert not restarted.has(sha) and restarted.corrupt_removed == 1
        with fetcher(relay.port, service, agent, restarted) as client:
            client.want({sha: air_in(3600)})
            assert restarted.state().missing == 1 or restarted.has(sha)
            assert wait_until(lambda: restarted.has(sha))
        assert cached_intact(restarted, sha)
        assert relay.bytes_down - first_copy >= BULLETIN_BYTES  # really fetched again


def test_a_flipped_byte_found_at_playout_is_fetched_again(library: Library,
                                                          tmp_path: Path) -> None:
    sha = library.add(400_000)
    agent = new_identity()
    with content_service(library, KeySet(agent.public_key)) as service:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(service.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.has(sha))
            path = cache.path(sha)
            assert path is not None
            data = bytearray(path.read_bytes())
            data[1234] ^= 0xFF
            path.write_bytes(bytes(data))
            assert cache.path(sha, verify=True) is None  # playout refuses damaged audio
            assert wait_until(lambda: cache.has(sha))  # ... and the fetcher gets it again
            assert cached_intact(cache, sha)
        assert service.stats()["completed"] == 2


def test_an_unenrolled_agent_is_refused_and_enrolment_needs_no_restart(
        library: Library, tmp_path: Path) -> None:
    sha = library.add(300_000)
    enrolled, stranger = new_identity(), new_identity()
    keys = KeySet(enrolled.public_key)
    with content_service(library, keys) as service:
        stranger_cache = Cache(tmp_path / "stranger", 50_000_000)
        with fetcher(service.port, service, stranger, stranger_cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: state_of(client, sha) is ItemState.DENIED)
            time.sleep(0.5)
            assert not stranger_cache.has(sha) and stranger_cache.partial_size(sha) == 0
            # Positive control: the same service serves an enrolled key at once.
            cache = Cache(tmp_path / "enrolled", 50_000_000)
            with fetcher(service.port, service, enrolled, cache) as other:
                other.want({sha: air_in(3600)})
                assert wait_until(lambda: cached_intact(cache, sha))
            keys.enrol(stranger.public_key)  # enrolled while everything runs
            assert wait_until(lambda: stranger_cache.has(sha))
        assert cached_intact(stranger_cache, sha)


def test_a_revoked_agent_is_cut_off_on_its_live_connection(library: Library,
                                                           tmp_path: Path) -> None:
    sha = library.add()
    agent = new_identity()
    keys = KeySet(agent.public_key)
    with content_service(library, keys) as service, \
            relay_to(service.port, bandwidth_bps=400_000) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({sha: air_in(3600)})
            assert wait_until(lambda: cache.partial_size(sha) > 300_000)
            keys.revoke(agent.public_key)  # the connection stays up
            revoked_at = relay.bytes_down
            assert wait_until(lambda: state_of(client, sha) is ItemState.DENIED)
            time.sleep(1.0)
            # No more content: at most what was already in flight (a window, ~1 s).
            assert relay.bytes_down - revoked_at <= WINDOW_BYTES + 400_000 + 4096
            stuck = cache.partial_size(sha)
            time.sleep(1.0)
            assert cache.partial_size(sha) == stuck and not cache.has(sha)
            stats = service.stats()
            assert stats["unauthorised"] + stats["denied_sends"] >= 1
            assert stats["active"] == 0
            keys.enrol(agent.public_key)  # positive control: re-enrolled, it resumes
            assert wait_until(lambda: cache.has(sha), timeout_s=30)
        assert cached_intact(cache, sha)
        assert relay.bytes_down <= BULLETIN_BYTES * 1.02 + 2 * WINDOW_BYTES


class _Keys:
    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        return self.keys(zmq.utils.z85.decode(key))


class _NamingAuthenticator(ThreadAuthenticator):
    """Attaches the agent's id as ``User-Id``, as ``controller.dataplane.zap`` does."""

    def __init__(self, context: zmq.Context[Any], names: dict[str, bytes]) -> None:
        super().__init__(context)
        self.names = names

    def curve_user_id(self, client_public_key: bytes) -> str:
        return next((n for n, k in self.names.items() if k == client_public_key), "")


def test_behind_a_shared_zap_handler_that_names_agents_by_id(library: Library,
                                                             tmp_path: Path) -> None:
    """The station may run one ZAP handler for every data-plane socket, attaching the
    agent's id as ``User-Id``; the service maps it back to the key and still re-checks."""
    sha = library.add(400_000)
    agent = new_identity()
    keys = KeySet(agent.public_key)
    by_id = {"cum-loa-7": agent.public_key}
    context: zmq.Context[Any] = zmq.Context()
    auth = _NamingAuthenticator(context, by_id)
    auth.start()
    auth.configure_curve_callback(domain="loaxa-agents", credentials_provider=_Keys(keys))
    _, secret = zmq.curve_keypair()
    service = ContentService(secret, keys, library.locate, endpoint="tcp://127.0.0.1:0",
                             limits=UNCAPPED, context=context, external_zap=True,
                             zap_domain="loaxa-agents", peer_key=by_id.get)
    try:
        with service, relay_to(service.port, bandwidth_bps=300_000) as relay:
            cache = Cache(tmp_path / "cache", 50_000_000)
            with fetcher(relay.port, service, agent, cache, FAST) as client:
                client.want({sha: air_in(3600)})
                assert wait_until(lambda: cache.partial_size(sha) > 100_000)
                keys.revoke(agent.public_key)
                assert wait_until(lambda: state_of(client, sha) is ItemState.DENIED)
                assert not cache.has(sha)
                keys.enrol(agent.public_key)
                assert wait_until(lambda: cache.has(sha))
            assert cached_intact(cache, sha)
    finally:
        auth.stop()
        context.term()


def test_a_missing_item_is_reported_and_does_not_block_the_rest(library: Library,
                                                               tmp_path: Path) -> None:
    present = library.add(200_000)
    missing = hashlib.sha256(b"never imported").digest()
    agent = new_identity()
    alerts = Alerts()
    with content_service(library, KeySet(agent.public_key), on_alert=alerts) as service:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(service.port, service, agent, cache) as client:
            client.want({missing: air_in(60), present: air_in(3600)})
            assert wait_until(lambda: cache.has(present))
            assert wait_until(lambda: state_of(client, missing) is ItemState.NOT_FOUND)
            assert client.status().missing == 1 and cache.state().missing == 1
    assert ("not_found", agent.public_key, missing) in alerts.kinds()


def test_one_agent_fetches_its_soonest_airing_item_first(library: Library,
                                                         tmp_path: Path) -> None:
    """And an emergency arriving mid-transfer goes first; the other item then resumes."""
    routine, bulletin, storm = library.add(), library.add(300_000), library.add(300_000)
    agent = new_identity()
    done: list[bytes] = []
    with content_service(library, KeySet(agent.public_key)) as service, \
            relay_to(service.port, bandwidth_bps=1_200_000) as relay:
        cache = Cache(tmp_path / "cache", 50_000_000)
        with fetcher(relay.port, service, agent, cache) as client:
            client.want({routine: air_in(7200), bulletin: air_in(1800)})
            assert wait_until(lambda: cache.has(bulletin))
            assert not cache.has(routine)
            assert wait_until(lambda: cache.partial_size(routine) > 300_000)
            client.want({routine: air_in(7200), bulletin: air_in(1800), storm: air_in(-5)})
            deadline = time.monotonic() + 30
            while len(done) < 2 and time.monotonic() < deadline:
                done.extend(s for s in (storm, routine) if cache.has(s) and s not in done)
                time.sleep(0.005)
        assert done == [storm, routine]
        assert all(cached_intact(cache, s) for s in (routine, bulletin, storm))
        total = BULLETIN_BYTES + 2 * 300_000
        assert relay.bytes_down <= total * 1.02 + 2 * WINDOW_BYTES  # the routine resumed


@contextlib.contextmanager
def raw_dealer(port: int, server_key: bytes, identity: Any) -> Iterator[zmq.Socket[Any]]:
    context: zmq.Context[Any] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 3000)
    sock.setsockopt(zmq.SNDTIMEO, 3000)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, identity.public_key)
    sock.setsockopt(zmq.CURVE_SECRETKEY, identity.secret_key)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        yield sock
    finally:
        sock.close(linger=0)
        context.term()


def test_malformed_frames_are_counted_and_ignored(library: Library) -> None:
    sha = library.add(1000)
    agent = new_identity()
    with content_service(library, KeySet(agent.public_key)) as service, \
            raw_dealer(service.port, service.public_key, agent) as sock:
        hostile = [
            b"", b"\xc1", b"\x92\x01", b"not msgpack at all",
            msgspec.msgpack.encode([2, [1, sha, 0, 8, 0]]),  # a version it does not know
            msgspec.msgpack.encode([1, [1, sha, -1, 8, 0]]),  # negative offset
            msgspec.msgpack.encode([1, [1, sha[:5], 0, 8, 0]]),
            msgspec.msgpack.encode([1, [7, sha]]),  # an operation it does not know
            b"\x92\x01" + b"\x00" * 300,  # above the frame cap, below ZeroMQ's
        ]
        for payload in hostile:
            sock.send(payload)
        sock.send_multipart([b"two", b"frames"])
        sock.send(encode(AgentFrame(Fetch(sha, 0, 8, air_in(60)))))
        reply = service_frame_decoder().decode(sock.recv())  # still serving, in order
        assert isinstance(reply, ServiceFrame) and isinstance(reply.op, Chunk)
        assert reply.op.data == (library.root / sha.hex()).read_bytes()
        stats = service.stats()
        assert sum(v for k, v in stats.items() if k.startswith("content_request/")) == 10
        assert stats["content_request/oversize"] == 1
        assert stats["content_request/unknown_version"] == 1
        assert stats["failures"] == 0
