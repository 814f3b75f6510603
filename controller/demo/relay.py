"""A userspace TCP relay that impairs a link: delay, jitter, loss, bandwidth, partitions.

``tc netem`` is not available everywhere loaxa is tested, so links are impaired here
instead: an agent dials the relay, the relay dials the real endpoint. The demo uses it
to cut a village off; the tests use it for delay, loss, bandwidth caps, partitions and
cuts after a given number of bytes. It counts TCP payload in both directions.

Loss on a TCP stream cannot drop bytes (TCP would retransmit them), so a "lost" chunk is
delivered after a retransmission timeout instead, which is what the endpoints observe.
A ``blackhole`` partition stops forwarding in both directions without closing anything,
like a dead 4G cell: peers only notice through their own timeouts. A ``reset`` partition
closes every connection and refuses new ones, like a router that rebooted.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass


@dataclass
class Impairment:
    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0  # probability that a chunk needs a retransmission
    rto_s: float = 0.2
    bandwidth_bps: float | None = None  # bytes per second, each direction
    partition: str | None = None  # None | "blackhole" | "reset"


class _Direction:
    """One direction's ordering and token-bucket state, shared by its connections."""

    def __init__(self) -> None:
        self.next_free = 0.0  # when the shared link is free again (bandwidth)
        self.bytes = 0


class Relay:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1",
                 listen_host: str = "127.0.0.1", listen_port: int = 0, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self._listen = (listen_host, listen_port)
        self._impairment = Impairment()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._up = _Direction()  # client -> target
        self._down = _Direction()  # target -> client
        self._cut_after_down: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._healed = asyncio.Event()
        self.port = 0
        self.connections = 0

    # ------------------------------------------------------------------ control (any thread)
    def start(self) -> Relay:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(10)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def impair(self, **changes: float | str | None) -> None:
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self._impairment, key):
                    raise AttributeError(f"unknown impairment {key!r}")
                setattr(self._impairment, key, value)
            partitioned = self._impairment.partition
        self._loop.call_soon_threadsafe(self._partition_changed, partitioned)

    def partition(self, mode: str = "blackhole") -> None:
        if mode not in ("blackhole", "reset"):
            raise ValueError("partition mode is 'blackhole' or 'reset'")
        self.impair(partition=mode)

    def heal(self) -> None:
        self.impair(partition=None)

    def cut_after(self, downstream_bytes: int) -> None:
        """Reset every connection once this many more bytes have gone target -> client."""
        with self._lock:
            self._cut_after_down = self._down.bytes + downstream_bytes

    def reset_connections(self) -> None:
        self._loop.call_soon_threadsafe(self._close_all)

    @property
    def bytes_up(self) -> int:
        with self._lock:
            return self._up.bytes

    @property
    def bytes_down(self) -> int:
        with self._lock:
            return self._down.bytes

    # ------------------------------------------------------------------ the loop
    async def _start(self) -> int:
        self._healed.set()
        self._server = await asyncio.start_server(self._accept, *self._listen)
        return int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._close_all()
        if self._server is not None:
            await self._server.wait_closed()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _partition_changed(self, mode: str | None) -> None:
        if mode is None:
            self._healed.set()
            return
        self._healed.clear()
        if mode == "reset":
            self._close_all()

    def _close_all(self) -> None:
        for client, upstream in list(self._conns):
            client.transport.abort()
            client.close()
            if upstream is not None:
                upstream.transport.abort()
                upstream.close()
        self._conns.clear()

    def _current(self) -> Impairment:
        with self._lock:
            return Impairment(**vars(self._impairment))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:  # the relay is stopping
            writer.transport.abort()
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._current().partition == "reset":
            writer.transport.abort()
            writer.close()
            return
        entry: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None] = (writer, None)
        self._conns.add(entry)
        await self._healed.wait()  # a blackholed connect hangs, as a real one would
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._conns.discard(entry)
            writer.transport.abort()
            writer.close()
            return
        self._conns.discard(entry)
        if writer.transport.is_closing():
            up_writer.transport.abort()
            up_writer.close()
            writer.close()
            return
        pair = (writer, up_writer)
        self._conns.add(pair)
        with self._lock:
            self.connections += 1
        await asyncio.gather(self._pump(reader, up_writer, self._up, pair),
                             self._pump(up_reader, writer, self._down, pair),
                             return_exceptions=True)
        self._conns.discard(pair)
        for w in pair:
            if w is not None:
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: _Direction,
                    pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]) -> None:
        last_delivery = 0.0
        try:
            while True:
                await self._healed.wait()
                chunk = await reader.read(16384)
                if not chunk:
                    break
                await self._healed.wait()
                impairment = self._current()
                now = time.monotonic()
                deliver = now + impairment.delay_s + (
                    self._rng.uniform(0, impairment.jitter_s) if impairment.jitter_s else 0.0)
                if impairment.loss and self._rng.random() < impairment.loss:
                    deliver += impairment.rto_s
                if impairment.bandwidth_bps:
                    with self._lock:
                        start = max(now, direction.next_free)
                        direction.next_free = start + len(chunk) / impairment.bandwidth_bps
                        deliver = max(deliver, direction.next_free)
                deliver = max(deliver, last_delivery)  # a stream never reorders
                last_delivery = deliver
                if deliver > now:
                    await asyncio.sleep(deliver - now)
                await self._healed.wait()
                writer.write(chunk)
                await writer.drain()
                cut = False
                with self._lock:
                    direction.bytes += len(chunk)
                    if direction is self._down and self._cut_after_down is not None \
                            and direction.bytes >= self._cut_after_down:
                        self._cut_after_down = None
                        cut = True
                if cut:
                    for w in pair:
                        if w is not None:
                            w.transport.abort()
                    return
        except (ConnectionError, OSError):
            pass
        finally:
            if self._current().partition is None:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError, AttributeError):
                    writer.transport.abort()
