"""``/v1/events``: the event bus, as JSON over a WebSocket, filtered to the communes the
user may read (events of no commune — user accounts — only for top administrators).

Authenticate like any call: ``Authorization: Bearer`` (or ``?token=`` for clients that
cannot set headers) or the local socket's peer credentials. A client too slow to keep up
is disconnected (close code 1013) rather than buffered without bound; it reconnects and
re-reads state through the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from controller.events import Event
from controller.registry.errors import ServiceError
from controller.registry.work import reading
from controller.security.authz import Permission, Principal, Scope

from ..auth import authenticate, services_of

router = APIRouter()
log = logging.getLogger("loaxa.api.events")
QUEUE_SIZE = 1000
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Audience:
    units: frozenset[int]
    top_admin: bool

    def sees(self, event: Event) -> bool:
        return self.top_admin if event.commune_id is None else event.commune_id in self.units


def audience(websocket: WebSocket, principal: Principal) -> Audience:
    services = services_of(websocket)
    with reading(services.db, services.time) as work:
        scope = Scope(work.session, principal, services.time.today())
        return Audience(frozenset(scope.units(Permission.READ)), scope.is_top_admin())


def _token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return websocket.query_params.get("token") or None


@router.websocket("/events")
async def events(websocket: WebSocket) -> None:
    try:
        principal = await run_in_threadpool(authenticate, websocket, _token(websocket))
        who = await run_in_threadpool(audience, websocket, principal)
    except ServiceError:
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept()
    loop = asyncio.get_running_loop()
    outbox = Outbox()

    def listener(event: Event) -> None:
        if who.sees(event):
            loop.call_soon_threadsafe(outbox.put, event)

    subscription = services_of(websocket).bus.subscribe(listener)
    receiver = asyncio.create_task(_drain(websocket, outbox))
    try:
        while True:
            if outbox.overflowed:
                await websocket.close(code=TRY_AGAIN_LATER)
                break
            event = await outbox.queue.get()
            if event is None:
                break
            await websocket.send_json(event.to_json())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        subscription.close()
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver


class Outbox:
    """The events waiting to be sent to one client, bounded."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def put(self, event: Event | None) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


async def _drain(websocket: WebSocket, outbox: Outbox) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message.get("type") == "websocket.disconnect":
                break
    except Exception:
        pass
    outbox.put(None)
