"""What the fleet link knows about an agent right now, behind a small protocol.

The registry stores identity and asset data; whether an agent is online, what it plays
and how loud is the fleet link's knowledge (heartbeats, births, wills). The API asks a
:class:`LiveStateProvider` for it, so the registry never depends on the fleet link; until
one is plugged in, :class:`UnknownLiveState` answers "unknown" for everyone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Connectivity(StrEnum):
    UNKNOWN = "unknown"  # no fleet link, or never heard from
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class LiveState:
    connectivity: Connectivity = Connectivity.UNKNOWN
    last_seen: dt.datetime | None = None
    playing: str | None = None
    volume: int | None = None
    amp_on: bool | None = None
    software: str | None = None
    clock_offset_us: int | None = None


UNKNOWN = LiveState()


class LiveStateProvider(Protocol):
    """Implemented by the fleet link: the live state of each of ``agent_ids`` (agents it
    knows nothing about may be left out; callers treat them as unknown). Called from
    request threads: must be thread-safe and must not block on the network."""

    def get(self, agent_ids: Sequence[str]) -> Mapping[str, LiveState]: ...


class UnknownLiveState:
    """The default provider before the fleet link exists."""

    def get(self, agent_ids: Sequence[str]) -> Mapping[str, LiveState]:
        return {agent_id: UNKNOWN for agent_id in agent_ids}


class LiveStateSlot:
    """The provider the API reads, replaceable at run time: the daemon hands this slot
    out at start, and the fleet link ``plug()``s itself in when it starts."""

    def __init__(self, provider: LiveStateProvider | None = None) -> None:
        self.provider: LiveStateProvider = provider or UnknownLiveState()

    def plug(self, provider: LiveStateProvider) -> None:
        self.provider = provider

    def get(self, agent_ids: Sequence[str]) -> Mapping[str, LiveState]:
        return self.provider.get(agent_ids)
