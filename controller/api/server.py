"""Serving the API with uvicorn in a thread of the controller process: on the local Unix
socket (peer credentials) and, when configured, on TCP with TLS (tokens only)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from .peercred import PeerH11Protocol, peer_websocket_protocol

log = logging.getLogger("loaxa.api")


class ServerStartError(RuntimeError):
    """The API could not listen (address in use, unreadable TLS files, ...)."""


class ApiServer:
    """One listener. ``start()`` returns once it accepts connections."""

    def __init__(self, app: FastAPI, *, uds: Path | None = None, host: str | None = None,
                 port: int | None = None, tls_cert: Path | None = None,
                 tls_key: Path | None = None) -> None:
        if (uds is None) == (host is None):
            raise ValueError("give either a Unix socket path or a TCP host and port")
        if uds is not None:
            uds.parent.mkdir(parents=True, exist_ok=True)
        ws = peer_websocket_protocol()
        self.config = uvicorn.Config(
            app, uds=str(uds) if uds else None, host=host or "127.0.0.1", port=port or 0,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            http=PeerH11Protocol, ws=ws if ws is not None else "none", lifespan="off",
            log_config=None, access_log=False, server_header=False, timeout_keep_alive=30,
            ws_ping_interval=20.0, timeout_graceful_shutdown=5)
        self.name = f"api:{uds}" if uds else f"api:{host}:{port}"
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self.server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerStartError(f"{self.name} did not start")
            time.sleep(0.02)
        log.info("API listening (%s)", self.name)

    def health(self) -> str | None:
        if self._thread is None or not self._thread.is_alive():
            return "the HTTP server thread is not running"
        return None

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


def parse_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) from ``api.tcp_bind``."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"api.tcp_bind must be host:port, got {bind!r}")
    return host.strip("[]"), int(port)
