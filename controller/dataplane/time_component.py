"""The time service as a station component: the clock exchange for enrolled agents.

``TimeService`` answers the requests; this wires it into the station:

* it listens on ``dataplane.bind_host:clock_port``, the endpoint agents are told at
  enrolment (``ClaimAccess.clock_endpoint``), with the station's CURVE key;
* handshakes are answered by the station's shared ZAP handler under ``AGENT_DOMAIN``
  (active agents' keys, read from the database at each handshake, so enrolment and
  revocation need no restart). That handler attaches the agent id as ``User-Id``, not a
  key, so the service's own per-request re-check is off: a revoked agent still connected
  may learn the time until it reconnects, which tells it nothing worth protecting;
* the answers come from the station's clock, the one its schedules are made with, so the
  agents that estimate it air by the same time the operator programmed against. (Agents
  never follow a controller whose clock reports itself unsynchronised.)

Agents use it only with ``[clock] source = "exchange"``; chrony remains the production
default. It is cheap when unused: one thread waking 20 times a second.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import zmq

from .time_service import TimeService
from .zap import AGENT_DOMAIN

if TYPE_CHECKING:
    from controller.daemon import Station

log = logging.getLogger("loaxa.dataplane.time")


class TimeStartError(RuntimeError):
    """The clock port cannot be bound (in use, or an address the host does not have)."""


class TimeComponent:
    name = "time service"

    def __init__(self, station: Station) -> None:
        plane = station.settings.dataplane
        self.endpoint = f"tcp://{plane.bind_host}:{plane.clock_port}"
        self.service = TimeService(station.time.clock, station.curve.secret_key, None,
                                   endpoint=self.endpoint, context=station.zmq_context,
                                   zap_domain=AGENT_DOMAIN)
        station.extras["time"] = self

    def start(self) -> None:
        try:
            self.service.start()
        except zmq.ZMQError as exc:
            raise TimeStartError(f"the time service cannot listen on {self.endpoint}: "
                                 f"{exc}") from None

    def stop(self) -> None:
        self.service.stop()

    def status(self) -> str:
        return f"{self.service.stats()['served']} time requests answered"
