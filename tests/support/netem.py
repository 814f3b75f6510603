"""Network impairment for tests: the userspace TCP relay (``controller.demo.relay``, which
the demo uses too) as context-managed fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from controller.demo.relay import Impairment, Relay

__all__ = ["Impairment", "Relay", "relay_to"]


@contextmanager
def relay_to(port: int, **impairments: float | str | None) -> Iterator[Relay]:
    relay = Relay(port).start()
    try:
        if impairments:
            relay.impair(**impairments)
        yield relay
    finally:
        relay.stop()
