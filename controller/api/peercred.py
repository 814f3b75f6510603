"""Peer credentials on the local API socket: who is on the other end of a Unix socket,
as the kernel says (``SO_PEERCRED``), handed to the application in the ASGI scope.

uvicorn builds the scope itself and offers no hook for per-connection data, so the
protocol classes are subclassed: when a connection is made on an ``AF_UNIX`` socket the
peer's uid is read once and the connection's ASGI app is wrapped to add
``scope["loaxa.peer"]`` to every request (and WebSocket) on it. TCP connections get no
such key and must present a login token.
"""

from __future__ import annotations

import asyncio
import pwd
import socket
import struct
from dataclasses import dataclass
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

SCOPE_KEY = "loaxa.peer"


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int
    user: str  # the Unix user name (``uid:<n>`` when the uid has no name)


def peer_credentials(sock: Any) -> PeerCredentials | None:
    """The credentials of a connected Unix socket's peer, or None elsewhere."""
    try:
        if sock is None or sock.family != socket.AF_UNIX:
            return None
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    pid, uid, gid = struct.unpack("3i", raw)
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid:{uid}"
    return PeerCredentials(pid, uid, gid, name)


class PeerScope:
    """An ASGI wrapper adding one connection's peer credentials to its scopes."""

    def __init__(self, app: ASGIApp, peer: PeerCredentials) -> None:
        self.app = app
        self.peer = peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, SCOPE_KEY: self.peer}
        await self.app(scope, receive, send)


def _wrap(protocol: Any, transport: asyncio.BaseTransport) -> None:
    peer = peer_credentials(transport.get_extra_info("socket"))
    if peer is not None:
        protocol.app = PeerScope(protocol.app, peer)


class PeerH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _wrap(self, transport)


def peer_websocket_protocol() -> type[asyncio.Protocol] | None:
    """uvicorn's WebSocket protocol with the same wrapping, or None when no WebSocket
    library is installed (then ``/v1/events`` is unavailable over a real socket)."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    if AutoWebSocketsProtocol is None:
        return None
    base = cast(type[Any], AutoWebSocketsProtocol)

    class PeerWebSocketProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            _wrap(self, transport)

    return cast(type[asyncio.Protocol], PeerWebSocketProtocol)
