"""Time as evidence: the fields every journal record and heartbeat carries.

A Pi has no real-time clock and its 4G link comes up after boot, so a wall-clock
reading alone proves nothing. Each stamp therefore pairs the wall clock with the
monotonic clock of one boot and says how far the wall clock could be trusted when the
stamp was taken. A later ``Anchor`` record of the same boot lets the controller
re-anchor stamps taken before time was trusted (wall = anchor.wall - (anchor.mono - mono)).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec

U32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
# msgspec bounds must fit in int64, so "U64" is the non-negative half of int64.
U64 = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
I64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class TimeQuality(IntEnum):
    """How far the wall clock could be trusted when a stamp was taken."""

    UNSYNCED = 0  # free-running: needs an Anchor of the same boot before it is evidence
    ESTIMATED = 1  # disciplined by loaxa's own clock exchange with the controller
    SYNCED = 2  # the kernel reports an NTP-disciplined clock (chrony)

    @property
    def trusted(self) -> bool:
        return self is not TimeQuality.UNSYNCED


class Stamp(msgspec.Struct, array_like=True, frozen=True):
    """``(boot_id, monotonic_ns, wall_ns, time_quality)`` in compact form.

    ``boot`` is the journal-scoped boot number (a small integer instead of the kernel's
    16-byte boot UUID, which the journal's ``Boot`` record maps it to): monotonic times
    are comparable only within one boot, and 4G bytes matter.
    """

    boot: U32
    mono_ns: U64
    wall_ns: I64
    quality: TimeQuality
